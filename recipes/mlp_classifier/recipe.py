"""
Title: MLP classifier
Description: A Keras multilayer perceptron beside scikit-learn, a NumPy MLP and the published numbers.
Accelerator: none needed (a GPU is used when TensorFlow sees one)

A plain dense network, trained well, on small real data: inputs scaled by a `Normalization` layer
adapted on the training split only, Adam, early stopping on a validation split carved from the training
data with the best weights restored. On the same split it trains scikit-learn's `MLPClassifier` (same
hidden sizes), `LogisticRegression` and the from-scratch NumPy MLP of `common/numpy_reference.py`
(`baselines.py`), and puts them all beside the published result.

Digits uses the scikit-learn gallery's split (first half train, second half test, no shuffle). Images
and signals get more views of each training example (`augment.py`): a random shift every epoch, and a
small image set is also expanded with its eight one-pixel shifts. `--no-augment` turns this off so its
effect can be measured; weight decay is off by default, and `--l2` lets a user measure it.

    python -m recipes.mlp_classifier                     # digits, 3 seeds
    python -m recipes.mlp_classifier --dataset mnist1d   # or --dataset csv:table.csv --target label
    python -m recipes.mlp_classifier --quick             # smoke run: 300 training examples, 1 epoch

Writes metrics.json, models/mlp.keras (the first seed's model, with models/mlp.json) and the figures
of `plots.py` to outputs/mlp_classifier/. Reference: scikit-learn's gallery SVC on the digits split;
the MNIST-1D paper (Greydanus & Kobak 2024) for logistic regression, an MLP and a CNN.
"""

from __future__ import annotations

import argparse

import numpy as np

import common  # noqa: F401  (quiet TensorFlow's start-up logs)
from common import data
from common.augment import random_shift
from common.cli import fraction, number, positive_float, positive_int, recipe_parser
from common.harness import Harness, Recipe, run_main, seed_summary
from common.rawinput import decode_rows, rows_model
from common.references import references
from common.results import save_arrays
from common.training import Timer, check_network_fits, epoch_shuffled, seed_everything
from recipes.mlp_classifier.augment import shiftable, training_data
from recipes.mlp_classifier.baselines import fit_baselines
from recipes.mlp_classifier.datasets import load_csv_split, load_keras_images, load_xor
from recipes.mlp_classifier.plots import plot
from recipes.mlp_classifier.report import DEFAULT_RUNS, describe_seed

NAME = "mlp_classifier"

# -- Setup: the hyperparameters (each flag's default; --help lists them) -------------------------------

EPOCHS = 200  # at most: early stopping ends each fit where validation loss stops improving
PATIENCE = 30  # epochs without a better validation loss before it stops
SEEDS = 3
HIDDEN = [256, 128]  # units of each hidden layer
ACTIVATION = "relu"
DROPOUT = 0.2  # after each hidden layer
L2 = 0.0  # weight decay: off; --l2 measures it
BATCH_SIZE = 128  # per replica
LEARNING_RATE = 1e-3  # Adam
# --quick: every stage once (one epoch, one seed) on the smallest net of the same two layers
QUICK = {"epochs": 1, "seeds": 1, "hidden": [32, 16]}
DATASETS = ("digits", "mnist1d", "mnist", "fashion_mnist", "xor")
ACTIVATIONS = ("relu", "gelu", "elu", "selu", "tanh", "sigmoid", "silu", "leaky_relu")
REFERENCE_KEYS = {
    "digits": ("digits_svc",),
    "mnist1d": ("mnist1d_logistic", "mnist1d_mlp", "mnist1d_cnn"),
}


def non_negative_float(text: str) -> float:
    value = number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def build_parser():
    parser = recipe_parser(
        NAME,
        "Train a Keras MLP classifier beside scikit-learn, NumPy and published baselines.",
        default_epochs=EPOCHS,
        default_seeds=SEEDS,
        datasets=DATASETS,
        allow_csv=True,
        tensorboard=True,
    )
    own = parser.add_argument_group("mlp_classifier flags")
    own.add_argument("--hidden", type=positive_int, nargs="+", default=HIDDEN, help="hidden layer sizes")
    own.add_argument("--activation", choices=ACTIVATIONS, default=ACTIVATION, help="hidden activation")
    own.add_argument("--dropout", type=fraction, default=DROPOUT, help="dropout after each hidden layer")
    own.add_argument("--l2", type=non_negative_float, default=L2, help="L2 weight penalty")
    own.add_argument(
        "--batch-size", type=positive_int, default=BATCH_SIZE, help="mini-batch per replica"
    )
    own.add_argument(
        "--learning-rate", type=positive_float, default=LEARNING_RATE, help="Adam step size"
    )
    own.add_argument("--patience", type=positive_int, default=PATIENCE, help="early-stopping patience")
    own.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="images and signals: random shifts every epoch (and a nudged set for small image data)",
    )
    parser.set_quick(QUICK, also="300 training examples; the baselines a few iterations")
    return parser


# -- Prepare the data ---------------------------------------------------------------------------------


def load_data(args) -> data.Split:
    """The chosen data set as train / validation / test; --quick keeps 300 training examples."""
    if args.dataset == "digits":
        split = data.load_digits_split(seed=args.seed)
    elif args.dataset == "mnist1d":
        split = data.load_mnist1d_split(seed=args.seed)
    elif args.dataset in ("mnist", "fashion_mnist"):
        split = load_keras_images(args.dataset, seed=args.seed)
    elif args.dataset == "xor":
        split = load_xor()
    else:
        split = load_csv_split(args.dataset, args.target, seed=args.seed)
    if args.quick:  # tiny data: a smoke run of the same code path
        split.x_train, split.y_train = data.subsample(split.x_train, split.y_train, 300, args.seed)
        split.x_test, split.y_test = data.subsample(split.x_test, split.y_test, 2000, args.seed)
    return split


# -- Build the model ----------------------------------------------------------------------------------


def build_model(split: data.Split, args, augment: bool):
    """[random shift] -> Normalization (adapted on train data) -> [Dense -> Dropout] x n -> softmax."""
    shift = random_shift(split.image_shape, split.signal_length) if augment else None
    # images and signals: one mean and variance over all positions (a border pixel that is always 0
    # must not be divided by its zero variance, and shifts move values between positions);
    # tables: one per column
    return mlp(
        split.x_train,
        split.num_classes,
        args.hidden,
        args.activation,
        args.dropout,
        args.l2,
        args.learning_rate,
        per_feature=not shiftable(split),
        shift=shift,
    )


def mlp(
    x_train,
    num_classes: int,
    hidden,
    activation="relu",
    dropout=0.2,
    l2=0.0,
    learning_rate=1e-3,
    per_feature=True,
    shift=None,
    loss="sparse_categorical_crossentropy",
):
    """The network, compiled with Adam; its Normalization adapted on `x_train` (per feature, or one
    mean and variance over all of them), after the `shift` layer if one is given. The recipe builds
    it, and so does the scikit-learn estimator (`estimator.py`)."""
    import keras

    inputs = keras.Input((x_train.shape[1],), name="features")
    x = shift(inputs) if shift is not None else inputs
    scale = keras.layers.Normalization(axis=-1 if per_feature else None, name="scale")
    scale.adapt(x_train)
    x = scale(x)
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(
            units,
            activation=activation,
            kernel_regularizer=keras.regularizers.l2(l2) if l2 else None,
            name=f"hidden_{i + 1}",
        )(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i + 1}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name="mlp")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    return model


# -- Train --------------------------------------------------------------------------------------------


def train_one_seed(seed: int, harness: Harness, split: data.Split) -> dict:
    """One seed's model, trained with early stopping (saved at every epoch's end; on --resume, it
    goes on from the last one): its record with its history. The first seed's model is kept, and its
    record holds its test predictions (and first-layer weights, for images) for the report."""
    import keras

    args = harness.args
    seed_everything(seed)
    augment = bool(args.augment and shiftable(split))
    x_train, y_train = training_data(split, augment)
    model = build_model(split, args, augment)
    train = epoch_shuffled(x_train, y_train, args.batch_size, seed)  # each epoch's order: its own
    stop_early = keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True)
    callbacks = [stop_early]
    if args.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(harness.folder / "logs" / f"seed_{seed}"))
    with Timer() as timer:
        fitted = model.fit(
            train,
            epochs=args.epochs,
            shuffle=False,  # `train` draws each epoch's order itself, from (seed, epoch)
            validation_data=(split.x_val, split.y_val),
            validation_batch_size=512,
            callbacks=[*callbacks, harness.callback(train, stop_early)],  # saved at each epoch's end
            verbose=0,
        )
    history = fitted.history  # every epoch's, those before a kill included (--resume)
    loss, accuracy = model.evaluate(split.x_test, split.y_test, batch_size=1024, verbose=0)
    record = {
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "epochs": len(history["loss"]),
        "train_seconds": timer.seconds,
        "params": int(model.count_params()),
        "history": history,
    }
    if seed == args.seed:
        probs = model.predict(split.x_test, batch_size=1024, verbose=0)
        record["predicted"] = probs.argmax(axis=1)
        if split.image_shape:
            record["first_layer_kernel"] = model.get_layer("hidden_1").get_weights()[0][:, :32]
        kept, example, columns = model, split.x_test[:4], split.columns
        if columns:  # a CSV: the kept model takes its rows as they are, the encoding inside it
            kept, example = rows_model(model, columns), decode_rows(example, columns)
        info = {"classes": split.class_names, "features": split.feature_names, "columns": columns}
        info["target"] = args.target  # a CSV's label column (None otherwise: not on the card)
        harness.save_model(kept, "mlp", seed=seed, example=example, **info)
    return record


# -- Evaluate -----------------------------------------------------------------------------------------


def per_class_report(y_true, y_pred, class_names) -> dict:
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(range(len(class_names)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        name: {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])}
        for i, name in enumerate(class_names)
    }


def run(args) -> dict:
    # -- Prepare the data
    harness = Harness(NAME, args)
    split = load_data(args)  # bad input fails here, before anything is written
    widths = [split.num_features, *args.hidden, split.num_classes]
    check_network_fits(widths, f"--hidden {' '.join(map(str, args.hidden))}")
    harness.setup_device()  # before any model is built
    print(
        f"{split.name}: {len(split.x_train)} train / {len(split.x_val)} validation / "
        f"{len(split.x_test)} test, {split.num_features} features, {split.num_classes} classes",
        flush=True,
    )

    # -- Train a model for each seed, then the baselines on the same split
    seeds = harness.seeds(describe=describe_seed)  # one stage each, read back on --resume
    for seed in seeds:
        seeds.record(train_one_seed(seed, harness, split))
    per_seed = seeds.records
    histories = [record.pop("history") for record in per_seed]
    params = [record.pop("params") for record in per_seed][0]
    first = per_seed[0]  # the report draws the first seed's model and predictions
    y_pred, kernel = first.pop("predicted"), first.pop("first_layer_kernel", None)
    print("baselines: scikit-learn MLP, logistic regression, NumPy MLP ...", flush=True)
    stage = harness.stage("baselines")
    baselines = stage.result if stage.done else stage.record(fit_baselines(split, args))
    for name, result in baselines.items():
        print(f"  {name}: {result['test_accuracy']:.4f} ({result['fit_seconds']:.1f} s)")

    # -- Evaluate
    from sklearn.metrics import confusion_matrix

    results = {
        "dataset": split.name,
        "sizes": {"train": len(split.x_train), "val": len(split.x_val), "test": len(split.x_test)},
        "augmented": bool(args.augment and shiftable(split)),
        **seed_summary(per_seed, "test_accuracy"),
        "per_class": per_class_report(split.y_test, y_pred, split.class_names),
        "confusion_matrix": confusion_matrix(split.y_test, y_pred, labels=range(split.num_classes)),
        "class_names": split.class_names,
        "image_shape": split.image_shape,
        "baselines": baselines,
        "train_seconds": float(np.mean([r["train_seconds"] for r in per_seed])),
        "params": params,
        "history": {
            key: [history.get(key, []) for history in histories]
            for key in ("loss", "val_loss", "accuracy", "val_accuracy")
        },
    }
    print(
        f"Keras MLP: test accuracy {results['test_accuracy']:.4f} ± "
        f"{results['test_accuracy_std']:.4f} over {args.seeds} seed(s)"
    )

    # -- Report: metrics.json, then the figures from it
    if split.image_shape:  # arrays beside metrics.json, for the figures plot() draws as images
        wrong = np.flatnonzero(y_pred != split.y_test)[:32]
        save_arrays(
            harness.out_dir,
            "misclassified",
            images=split.x_test[wrong],
            true=split.y_test[wrong],
            predicted=y_pred[wrong],
        )
        save_arrays(harness.out_dir, "first_layer_weights", kernel=kernel)
    published = references(*REFERENCE_KEYS.get(split.name, ()))
    with harness.finish(results, published) as metrics:  # the numbers first
        plot(metrics, harness.out_dir)  # then every figure, from metrics.json (and arrays beside it)
    return metrics


RECIPE = Recipe(
    NAME,
    "MLP classifier",
    "a Keras MLP on digits / MNIST-1D / your CSV, beside scikit-learn and a NumPy MLP",
    runs=DEFAULT_RUNS,
)


def main(argv=None) -> int:
    return run_main(NAME, build_parser(), run, argv)
