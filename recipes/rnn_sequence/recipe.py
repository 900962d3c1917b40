"""
Title: SimpleRNN sequence model, with GRU and LSTM beside it
Description: Recurrent networks on MNIST-1D and on the adding problem, and why gated cells exist.
Accelerator: none needed (a GPU is used when TensorFlow sees one; GRU and LSTM keep cuDNN settings)

SimpleRNN, GRU and LSTM, each built by one model function (`models.py`), on two tasks. (1) MNIST-1D
read as what it is, a sequence of 40 steps of one value: two bidirectional recurrent layers that return
every step, average and max pooling over all steps, a softmax; Adam with gradient clipping and a
warm-up + cosine schedule; random shifts as augmentation. Beside each cell, the plain model most
tutorials show (one layer, last step only), trained the same way. (2) The adding problem (Arjovsky et
al. 2016) at several sequence lengths, its test MSE beside the baseline of predicting 1. For both, how
far back the gradient reaches: the norm of d(loss)/d(x_t) at every input step.
`results.checks` holds what a full run is expected to show.

    python -m recipes.rnn_sequence                        # both tasks, all three cells, one seed
    python -m recipes.rnn_sequence --task mnist1d --seeds 3
    python -m recipes.rnn_sequence --task adding --lengths 50,200 --cells simple,gru
    python -m recipes.rnn_sequence --quick                # smoke run: SimpleRNN, tiny data
    python -m recipes.rnn_sequence --task mnist1d --dataset npz:mine.npz   # your own sequences

Writes metrics.json and the figures of `plots.py` to outputs/rnn_sequence/. Reference: MNIST-1D
(Greydanus & Kobak 2024, Table 1); predicting 1 on the adding problem (Arjovsky et al. 2016).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

import common  # noqa: F401  (quiet TensorFlow's start-up logs)
from common import data
from common.cli import comma_list, non_negative_int, positive_float, positive_int, recipe_parser
from common.errors import UsageError
from common.gradients import input_gradient
from common.harness import Harness, Recipe, run_main, seed_summary
from common.references import references
from common.training import Timer, epoch_shuffled, seed_everything, steps_per_epoch
from recipes.rnn_sequence.models import CELLS, LABELS, recurrent_model, warmup_cosine
from recipes.rnn_sequence.plots import plot
from recipes.rnn_sequence.report import DEFAULT_RUNS, describe_seed

NAME = "rnn_sequence"
ACCURACY_TARGETS = {"simple": 0.96, "gru": 0.97, "lstm": 0.97}  # MNIST-1D test accuracy
MNIST1D_REFERENCES = ("mnist1d_logistic", "mnist1d_mlp", "mnist1d_gru", "mnist1d_cnn", "mnist1d_human")

# -- Setup: the hyperparameters (each flag's default; --help lists them) -------------------------------

TASKS = ("mnist1d", "adding")
EPOCHS = 20  # MNIST-1D
SEEDS = 1  # a default run's seeds per cell (--seeds 3: the mean and spread, three times as long)
UNITS = 64  # per direction and layer
LAYERS = 2  # bidirectional recurrent layers
SHIFT = 4  # augmentation: random shifts of up to 4 of the 40 steps
BATCH_SIZE = 64  # per replica
LEARNING_RATE = 6e-3  # Adam's peak step: a warm-up over 5% of the steps, then cosine decay
CLIPNORM = 1.0  # each gradient clipped to this norm
LENGTHS = "25,100"  # the adding problem's sequence lengths
ADDING_TRAIN, ADDING_TEST = 10_000, 2_000  # sequences per length
ADDING_EPOCHS = 8
ADDING_UNITS = 32  # one recurrent layer
ADDING_LEARNING_RATE = 5e-3
# --quick: every stage once: one cell (the loop over cells runs the same code), one epoch, one seed,
# the smallest widths, the adding problem at one short length
QUICK = {
    "epochs": 1,
    "seeds": 1,
    "cells": ["simple"],
    "units": 8,
    "lengths": [25],
    "adding_train": 256,
    "adding_test": 128,
    "adding_epochs": 1,
    "adding_units": 8,
}


def sequence_length(text: str) -> int:
    """One length of the adding problem: an integer of at least 2 (one marker in each half)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer length, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"a length must be at least 2 (a marker a half), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The shared flags (common.cli) and the recipe's own, their defaults the constants above."""
    parser = recipe_parser(
        NAME,
        "SimpleRNN, GRU and LSTM on MNIST-1D and on the adding problem.",
        default_epochs=EPOCHS,
        default_seeds=SEEDS,
        tensorboard=True,
        datasets=("mnist1d",),  # the classification task's data, or npz:PATH
        allow_npz=True,
    )
    own = parser.add_argument_group("rnn_sequence flags")
    own.add_argument(
        "--task",
        type=comma_list(TASKS),
        default=",".join(TASKS),
        help="comma-separated tasks: mnist1d (classification), adding (the adding problem)",
    )
    own.add_argument(
        "--cells",
        type=comma_list(CELLS),
        default=None,
        help=f"comma-separated subset of: {', '.join(CELLS)} (default: all)",
    )
    own.add_argument("--units", type=positive_int, default=UNITS, help="units per direction and layer")
    own.add_argument("--layers", type=positive_int, default=LAYERS, help="bidirectional layers")
    own.add_argument(
        "--shift",
        type=non_negative_int,
        default=SHIFT,
        help="augmentation: shift each training sequence by up to this many steps (0: off)",
    )
    own.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE, help="batch per replica")
    own.add_argument(
        "--learning-rate",
        type=positive_float,
        default=LEARNING_RATE,
        help="peak Adam step size (warm-up over 5%% of steps, then cosine decay)",
    )
    own.add_argument("--clipnorm", type=positive_float, default=CLIPNORM, help="gradient norm clip")
    adding = parser.add_argument_group("adding problem flags")
    adding.add_argument(
        "--lengths",
        type=comma_list(item=sequence_length, noun="length", sort_key=int),
        default=LENGTHS,
        help="comma-separated sequence lengths, each at least 2",
    )
    adding.add_argument("--adding-train", type=positive_int, default=ADDING_TRAIN, help="per length")
    adding.add_argument("--adding-test", type=positive_int, default=ADDING_TEST, help="test sequences")
    adding.add_argument("--adding-epochs", type=positive_int, default=ADDING_EPOCHS, help="per length")
    adding.add_argument("--adding-units", type=positive_int, default=ADDING_UNITS, help="layer units")
    adding.add_argument(
        "--adding-learning-rate", type=positive_float, default=ADDING_LEARNING_RATE, help="Adam"
    )
    parser.set_quick(QUICK, also="300 training and 300 test sequences of MNIST-1D")
    return parser


# -- Prepare the data: MNIST-1D as sequences, or yours ------------------------------------------------


def load_sequences(args) -> data.Split:
    """MNIST-1D as 40 steps of one value each (input shape (40, 1)), or a user's sequences
    (`--dataset npz:PATH`: arrays `x` of shape (sequences, steps, features) and `y`, in a
    stratified 60/20/20 split); with --quick, at most 300 training and 300 test sequences."""
    if args.dataset.startswith("npz:"):
        x, y, class_names = data.read_labelled_npz(args.dataset)
        if x.ndim != 3:
            raise UsageError(
                f"{args.dataset[4:]}: x must have shape (sequences, steps, features), got {x.shape}"
            )
        name = f"npz:{Path(args.dataset[4:]).name}"
        split = data.user_split(name, args.dataset, x, y, class_names, args.seed)
    else:
        split = data.load_mnist1d_split(seed=args.seed)
        for part in ("x_train", "x_val", "x_test"):  # a sequence of 40 steps of one value each
            setattr(split, part, getattr(split, part)[..., np.newaxis])
        split.name = "MNIST-1D"
    if args.quick:
        split.x_train, split.y_train = data.subsample(split.x_train, split.y_train, 300, args.seed)
        split.x_test, split.y_test = data.subsample(split.x_test, split.y_test, 300, args.seed)
    return split


def file_stem(dataset_name: str) -> str:
    """A data set's name as it starts a file name: mnist1d for MNIST-1D, mine for npz:mine.npz."""
    if dataset_name.startswith("npz:"):
        dataset_name = Path(dataset_name[4:]).stem
    return re.sub(r"[^a-z0-9_]+", "", dataset_name.lower().replace("-", "")) or "data"


# -- Task 1, MNIST-1D: build the model, train, evaluate -----------------------------------------------


def train_classifier(harness: Harness, split: data.Split, cell: str, seed: int, plain=False):
    """One model on MNIST-1D: the recipe's (bidirectional, pooled over all steps, shifted) or the
    plain one (one layer, last step). Returns the model, its test predictions, its history and its
    record: test accuracy, parameters, seconds per epoch."""
    import keras

    args = harness.args
    seed_everything(seed)
    model = recurrent_model(
        cell,
        *split.x_train.shape[1:],  # steps, features
        split.num_classes,
        units=args.units,
        layers=1 if plain else args.layers,
        bidirectional=not plain,
        all_steps=not plain,
        shift=0 if plain else args.shift,
        seed=seed,
        name=f"{cell}_{'plain' if plain else 'model'}",
    )
    train = epoch_shuffled(split.x_train, split.y_train, args.batch_size, seed)
    batches = steps_per_epoch(len(split.x_train), args.batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(
            warmup_cosine(args.learning_rate, args.epochs * batches), clipnorm=args.clipnorm
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    logs = harness.folder / "logs" / f"{model.name}_seed_{seed}"
    callbacks = [keras.callbacks.TensorBoard(logs)] if args.tensorboard else []
    with Timer() as timer:
        fitted = model.fit(
            train,
            epochs=args.epochs,
            shuffle=False,  # `train` draws each epoch's order itself, from (seed, epoch)
            validation_data=(split.x_val, split.y_val),
            validation_batch_size=1000,
            callbacks=[*callbacks, harness.callback(train)],  # saved at each epoch's end
            verbose=0,
        )
    history = fitted.history  # every epoch's, those before a kill included (--resume)
    predicted = model.predict(split.x_test, batch_size=1000, verbose=0).argmax(axis=1)
    record = {
        "test_accuracy": float(np.mean(predicted == split.y_test)),
        "params": int(model.count_params()),
        "seconds_per_epoch": timer.seconds / args.epochs,
    }
    return model, predicted, history, record


def gradient_through_time(model, x: np.ndarray, y: np.ndarray, loss=None) -> list[float]:
    """How far back the gradient reaches: for each input step t, the norm of d(loss)/d(x_t), the
    loss (default: cross-entropy) averaged over the sequences in `x`."""
    import keras

    loss = loss or keras.losses.SparseCategoricalCrossentropy()
    gradient = input_gradient(lambda x: loss(y, model(x, training=False)), x)  # (sequences, steps, _)
    return [float(v) for v in np.linalg.norm(gradient, axis=(0, 2))]


def train_seed(seed: int, harness: Harness, split: data.Split, cell: str) -> dict:
    """One seed of the recipe's model; the first seed's model is also kept, drawn and analysed."""
    from sklearn.metrics import confusion_matrix

    x, y, names = split.x_test, split.y_test, split.class_names
    model, predicted, history, record = train_classifier(harness, split, cell, seed)
    record["history"] = history
    if seed == harness.args.seed:
        record["confusion_matrix"] = confusion_matrix(y, predicted, labels=range(len(names)))
        record["gradient"] = gradient_through_time(model, x, y)
        steps = f"{x.shape[1]} steps of {x.shape[2]} value(s) each"
        name = f"{file_stem(split.name)}_{cell}"  # mnist1d_gru, or mine_gru for npz:mine.npz
        harness.save_model(model, name, seed=seed, classes=names, example=x[:4], input=steps)
    return record


def train_plain(harness: Harness, split: data.Split, cell: str) -> dict:
    """Most tutorials' model (one layer, last step), first seed; its gradient fresh and trained."""
    args, x, y = harness.args, split.x_test, split.y_test
    plain, _, _, record = train_classifier(harness, split, cell, args.seed, plain=True)
    seed_everything(args.seed)
    fresh = recurrent_model(cell, *x.shape[1:], split.num_classes, units=args.units, seed=args.seed)
    gradients = {
        "plain_init": gradient_through_time(fresh, x, y),
        "plain_trained": gradient_through_time(plain, x, y),
    }
    return {"record": record, "gradients": gradients}


def compare_on_mnist1d(harness: Harness, split: data.Split, cell: str) -> tuple[dict, dict]:
    """One cell: the recipe's model over every seed, the plain model beside it (first seed), and
    how far back the gradient reaches in each. Each seed is a stage, and the plain model another."""
    stage = f"{split.name}/{cell}"  # MNIST-1D/gru, or npz:mine.npz/gru: named for the data
    seeds = harness.seeds(stage, describe=describe_seed)  # one stage each, read back on --resume
    for seed in seeds:
        seeds.record(train_seed(seed, harness, split, cell))
    per_seed = seeds.records
    histories = [record.pop("history") for record in per_seed]
    first = per_seed[0]
    result = {
        **seed_summary(per_seed, "test_accuracy"),
        "params": first["params"],
        "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"] for r in per_seed])),
        "history": {key: [history[key] for history in histories] for key in histories[0]},
        "confusion_matrix": first.pop("confusion_matrix"),
    }
    plain_stage = harness.stage(f"{stage}/plain")
    plain = (
        plain_stage.result if plain_stage.done else plain_stage.record(train_plain(harness, split, cell))
    )
    result["plain"] = plain["record"]
    print(f"  {stage} plain, seed {harness.args.seed}: {describe_seed(result['plain'])}", flush=True)
    return result, {**plain["gradients"], "model_trained": first.pop("gradient")}


# -- Task 2, the adding problem: data, model, train, evaluate -----------------------------------------


def adding_problem(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Arjovsky et al. 2016): `n` sequences of `length` steps, each step a value
    from U[0, 1] and a marker; one marker is 1 in each half; the target is the sum of the two marked
    values. Returns x of shape (n, length, 2) and y of shape (n, 1), float32."""
    if length < 2:
        raise ValueError(f"the adding problem needs at least 2 steps, got {length}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, (n, length)).astype(np.float32)
    markers = np.zeros((n, length), np.float32)
    rows = np.arange(n)
    markers[rows, rng.integers(0, length // 2, n)] = 1.0
    markers[rows, rng.integers(length // 2, length, n)] = 1.0
    return np.stack([values, markers], axis=-1), (values * markers).sum(axis=1, keepdims=True)


def train_adding(harness: Harness, cell: str, length: int) -> dict:
    """One cell at one sequence length (first seed): test MSE beside predicting 1."""
    import keras

    args = harness.args
    seed_everything(args.seed)
    x_train, y_train = adding_problem(args.adding_train, length, seed=args.seed)
    x_test, y_test = adding_problem(args.adding_test, length, seed=args.seed + 10_000)
    model = recurrent_model(cell, length, 2, 1, units=args.adding_units, seed=args.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(args.adding_learning_rate, clipnorm=args.clipnorm), loss="mse"
    )
    train = epoch_shuffled(x_train, y_train, args.batch_size, args.seed)
    with Timer() as timer:
        fitted = model.fit(
            train,
            epochs=args.adding_epochs,
            shuffle=False,  # `train` draws each epoch's order itself, from (seed, epoch)
            validation_data=(x_test, y_test),
            validation_batch_size=1000,
            callbacks=[harness.callback(train)],  # saved at each epoch's end
            verbose=0,
        )
    history = fitted.history
    result = {
        "test_mse": float(model.evaluate(x_test, y_test, batch_size=1000, verbose=0)),
        "baseline_mse": float(np.mean((y_test - 1.0) ** 2)),  # predicting 1, measured on this test set
        "val_mse_per_epoch": history["val_loss"],
        "params": int(model.count_params()),
        "seconds": timer.seconds,
    }
    if length == max(args.lengths):  # how far back the trained model's gradient reaches
        loss = keras.losses.MeanSquaredError()
        result["gradient_through_time"] = gradient_through_time(model, x_test, y_test, loss)
    steps = f"{length} steps of (value, marker)"
    target = "the sum of the two marked values"  # a regression model: its card names no classes
    name = f"adding_{cell}_T{length}"
    harness.save_model(model, name, seed=args.seed, input=steps, target=target, example=x_test[:4])
    return result


# -- Evaluate -----------------------------------------------------------------------------------------


def check_expectations(harness: Harness, results: dict) -> None:
    """What a full run is expected to show: each cell's MNIST-1D test accuracy at least its target;
    at T=100 on the adding problem, GRU and LSTM below an MSE of 0.01, the SimpleRNN above 0.1."""
    args = harness.args
    if args.quick:
        return
    for cell, result in results.get("mnist1d", {}).items() if args.dataset == "mnist1d" else ():
        accuracy = result["test_accuracy"]
        harness.check(f"mnist1d_{cell}_test_accuracy", accuracy, at_least=ACCURACY_TARGETS[cell])
    if 100 not in args.lengths:
        return
    # at T=100 in 8 epochs the SimpleRNN stays at the baseline and the GRU solves it, on every seed
    # and backend measured; the LSTM on some only (TensorFlow, seeds 0-2: 0.0026, 0.167, 0.011)
    bounds = {"simple": {"above": 0.1}, "gru": {"below": 0.01}}
    for cell, per_length in results.get("adding", {}).items():
        if cell in bounds:
            harness.check(f"adding_T100_{cell}_test_mse", per_length["100"]["test_mse"], **bounds[cell])


def run(args) -> dict:
    # -- Setup
    harness = Harness(NAME, args)
    if args.cells is None:
        args.cells = list(CELLS)
    harness.setup_device()  # before any model is built

    # -- Task 1: MNIST-1D, each cell over the seeds, and the plain model beside it
    results = {}
    if "mnist1d" in args.task:
        split = load_sequences(args)
        print(
            f"{split.name}: {len(split.x_train)} train / {len(split.x_val)} validation / "
            f"{len(split.x_test)} test sequences of shape {split.x_train.shape[1:]}; {args.layers} "
            f"bidirectional layers of {args.units}, {args.epochs} epochs, {args.seeds} seed(s)",
            flush=True,
        )
        compared = {cell: compare_on_mnist1d(harness, split, cell) for cell in args.cells}
        results["mnist1d"] = {cell: result for cell, (result, _) in compared.items()}
        results["classes"] = [str(name) for name in split.class_names]
        results["dataset_name"] = split.name
        results["gradient_through_time"] = {cell: grads for cell, (_, grads) in compared.items()}

    # -- Task 2: the adding problem, each cell at each length
    if "adding" in args.task:
        print(
            f"adding problem: lengths {args.lengths}, {args.adding_train} training / "
            f"{args.adding_test} test sequences, one layer of {args.adding_units}, "
            f"{args.adding_epochs} epoch(s)",
            flush=True,
        )
        results["adding"] = {cell: {} for cell in args.cells}
        for length in args.lengths:
            for cell in args.cells:
                stage = harness.stage(f"adding/T{length}/{cell}")
                result = (
                    stage.result if stage.done else stage.record(train_adding(harness, cell, length))
                )
                results["adding"][cell][str(length)] = result
                print(
                    f"  T={length:<4d} {LABELS[cell]:9s} test MSE {result['test_mse']:.4f} "
                    f"(predicting 1: {result['baseline_mse']:.3f}; {result['seconds']:.0f} s)",
                    flush=True,
                )

    # -- Evaluate and report: the checks, metrics.json, then the figures from it
    check_expectations(harness, results)
    published = MNIST1D_REFERENCES if args.dataset == "mnist1d" else ()  # none for a user's data
    published = references(*published, "adding_baseline")
    with harness.finish(results, published) as metrics:  # the numbers first
        plot(metrics, harness.out_dir)  # then every figure, from metrics.json alone
    return metrics


RECIPE = Recipe(
    NAME,
    "SimpleRNN sequence model",
    "SimpleRNN, GRU and LSTM on MNIST-1D and the adding problem: how far gradients reach",
    runs=DEFAULT_RUNS,
)


def main(argv=None) -> int:
    return run_main(NAME, build_parser(), run, argv)
