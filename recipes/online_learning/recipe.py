"""
Title: Online learning on streams with concept drift
Description: A Keras MLP learning test-then-train from a stream, beside river and scikit-learn learners.
Accelerator: none needed (a tiny network on a CPU; a GPU would only add transfer overhead)

Items arrive one mini-batch at a time. Each mini-batch is predicted by the model as it stands, scored,
and only then learned from (prequential, "test-then-train" evaluation): every item is scored by a model
that has never seen it. That loop, in plain Keras (`predict_on_batch`, then `train_on_batch`), is
`keras_loop()` below; the run measures it on every stream (`keras_plain`). The same learner, compiled
(`KerasOnlineClassifier`, a river classifier too): the MLP with a replay memory of recent items, inputs
scaled online, and a learning-rate boost at the start of a stream; river's ADWIN watches its errors
and, when they rise, it forgets Adam's moments and its memory of the old concept and boosts its rate
again; it predicts-then-learns 64 mini-batches per XLA-compiled call, taking back those after a drift.
Malformed records are counted and skipped (`streams.py`). On the same streams: river's
LogisticRegression, Hoeffding adaptive tree and ARF, and scikit-learn's SGDClassifier (`prequential.py`).

    python -m recipes.online_learning                 # SEA and Agrawal (drift at the midpoint),
                                                      # Phishing, Bananas; Keras over 5 seeds
    python -m recipes.online_learning --stream csv:table.csv --target label
    python -m recipes.online_learning --resume        # after a kill: the finished runs are kept
    python -m recipes.online_learning --ablation      # the Keras learner under each of ABLATION
    python -m recipes.online_learning --quick         # smoke run: 1 000 items a stream, 1 seed

Writes metrics.json, rolling_accuracy_<stream>.png, throughput.png and accuracy_vs_throughput.png
(ablation.png with --ablation), and each stream's final network (models/<stream>_keras_mlp.keras) to
outputs/online_learning/. Reference: river's benchmarks (LogisticRegression, ARF on Bananas, Phishing).
"""

from __future__ import annotations

import argparse
import gc

import numpy as np

import common  # noqa: F401  (quiet TensorFlow's start-up logs)
from common.cli import recipe_parser
from common.errors import UsageError
from common.harness import Harness, Recipe, run_main, seed_summary
from common.rawinput import scaled_model
from common.references import references
from common.training import seed_everything
from recipes.online_learning.flags import add_recipe_flags, validate_args
from recipes.online_learning.learner import KerasOnlineClassifier, RunningScaler
from recipes.online_learning.plots import plot
from recipes.online_learning.prequential import (
    Tracker,
    baseline_on_stream,
    learner_summary,
    recovery_samples,
    rolling_positions,
)
from recipes.online_learning.report import DEFAULT_RUNS, describe
from recipes.online_learning.streams import Prepared, clean_records, load_stream

# -- The idea: predict, score, then learn, one mini-batch at a time ----------------------------------


def plain_model(width: int, classes: int, args):
    """The network: Dense layers (ReLU) of --hidden units, one logit per class, Adam."""
    import keras

    layers = [keras.layers.Dense(units, activation="relu") for units in args.hidden]
    model = keras.Sequential([keras.Input((width,)), *layers, keras.layers.Dense(classes)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=loss)
    return model


def keras_loop(model, x, y, batch_size: int, tracker: Tracker) -> None:
    """Test-then-train in plain Keras: each mini-batch is predicted by the model as it stands
    (`predict_on_batch`), scored, and only then learned from (`train_on_batch`), so every item is
    scored by a model that has never seen it. Inputs are scaled online: each batch by the mean and
    spread of the items up to it (`RunningScaler`), nothing later."""
    scaled = RunningScaler(x.shape[1]).scale(x, batch_size)
    for start in range(0, len(x), batch_size):
        xb, yb = scaled[start : start + batch_size], y[start : start + batch_size]
        predicted = model.predict_on_batch(xb).argmax(axis=1)  # test ...
        tracker.score(predicted == yb)
        model.train_on_batch(xb, yb)  # ... then train
    tracker.close()


def prequential(learner, x, y, tracker: Tracker) -> None:
    """The same loop, compiled (`KerasOnlineClassifier`, below): the learner predicts each mini-batch
    with the weights as they stand, then learns from it, 64 batches in one XLA call, with replay, a
    rate boost and drift reaction; each batch's predictions are scored here, with the places where
    the learner's ADWIN saw its errors change."""
    # every prediction is made before the model has seen its item
    for predicted, fired in learner.test_then_train(x, y):
        tracker.score(predicted == y[tracker.seen : tracker.seen + len(predicted)], fired)
    tracker.close()


# -- Setup --------------------------------------------------------------------------------------------

NAME = "online_learning"
REFERENCE_KEYS = {
    "bananas": ("river_bananas_lr", "river_bananas_arf"),
    "phishing": ("river_phishing_arf",),
}
TIMING_KEYS = ("items_per_second", "seconds")  # differ between runs; everything else repeats
# --ablation: the Keras learner alone under each setting (flags over the run's own), no baselines
ABLATION = {
    "default": {},
    "--no-adapt": {"adapt": False},
    "--boost 1": {"boost": 1.0},
    "--replay 0": {"replay": 0},
    "--steps-per-batch 1": {"steps_per_batch": 1},
    "--replay 0 --steps-per-batch 1": {"replay": 0, "steps_per_batch": 1},
    "--steps-per-batch 3": {"steps_per_batch": 3},
}


def build_parser():
    parser = recipe_parser(
        NAME,
        "Test-then-train learning on drifting streams: a Keras MLP beside river and scikit-learn.",
        default_seeds=5,
    )
    add_recipe_flags(parser, [setting for setting in ABLATION if setting != "default"])  # flags.py
    return parser


# -- Prepare the data ---------------------------------------------------------------------------------


def prepare_stream(spec: str, args) -> Prepared:
    """A stream's raw records, cleaned into arrays, and what is known about it."""
    stream = load_stream(spec, args)
    x, y, rejected = clean_records(stream)
    facts = {
        "items": len(stream.records),
        "valid": len(x),
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "classes": [str(c) for c in stream.classes],
        "known_drift": stream.known_drift,
        "majority_rate": float(np.bincount(y, minlength=len(stream.classes)).max() / len(y)),
        "rolling_items": rolling_positions(len(x)),
    }
    return Prepared(stream, x, y, facts)


# -- Build the model and train ------------------------------------------------------------------------


def train_keras(seed: int, harness, data: Prepared, args, stage: str, keep: bool) -> dict:
    """A fresh Keras learner, test-then-train over the stream; with `keep`, the first seed's final
    network is kept as models/<stream>_keras_mlp.keras, with the input scaling it had reached."""
    key, keep = f"{stage}/{seed}", keep and seed == args.seed
    stream, x, y = data.stream, data.x, data.y
    gc.collect()  # the last learner's garbage, so that no timed run pays for another's
    show = not args.quiet
    tracker = Tracker(len(x), key, show)  # the clock starts here: each run counts its trace
    learner = KerasOnlineClassifier.from_flags(args, stream.classes, stream.features, seed)
    prequential(learner, x, y, tracker)
    result = learner_summary(tracker, len(x))
    result["finished"] = True
    result["params"] = int(learner.model.count_params())
    result["weights_finite"] = bool(all(np.isfinite(w).all() for w in learner.model.get_weights()))
    if keep:
        scaler = learner.scaler  # inside the kept model: it takes the stream's values as they are
        harness.save_model(
            scaled_model(learner.model, scaler.mean, scaler.std()),
            f"{stream.name.lower()}_keras_mlp",
            seed=seed,
            output="logits",
            classes=[str(c) for c in stream.classes],
            features=list(stream.features),
            target=args.target,  # a CSV stream's label column (None otherwise: not on the card)
            scaling={"mean": scaler.mean, "std": scaler.std(), "inside_the_model": True},
            example=x[-4:],
        )
    return result


def train_plain(x, y, stream, args, key: str) -> dict:
    """The plain Keras loop over the stream, once (the first seed): its accuracy and items/s."""
    gc.collect()
    tracker = Tracker(len(x), key, not args.quiet)  # model building counted
    seed_everything(args.seed)
    keras_loop(plain_model(x.shape[1], len(stream.classes), args), x, y, args.batch_size, tracker)
    return learner_summary(tracker, len(x))


def keras_over_seeds(harness, data: Prepared, args, stage: str, keep: bool = False):
    """The Keras learner over the run's seeds, one stage each: the first seed's full result, and the
    summary (mean accuracy; median throughput, robust to the process's one-time warm-up)."""
    seeds = harness.seeds(stage, describe=describe)  # one stage each, read back on --resume
    for seed in seeds:
        seeds.record(train_keras(seed, harness, data, args, stage, keep))
    runs = seeds.records
    per_seed = [{k: run[k] for k in ("seed", "accuracy", "items_per_second")} for run in runs]
    summary = seed_summary(per_seed, "accuracy", median=("items_per_second",))
    first = {k: v for k, v in runs[0].items() if k != "seed"}
    return first, summary


# -- Evaluate: every learner on each stream -----------------------------------------------------------


def learners_on_stream(harness, spec: str, args) -> dict:
    """The Keras learner over the seeds (curves from the first), then each baseline once; each
    (learner, seed) is a stage (an unfinished one runs again on --resume)."""
    data = prepare_stream(spec, args)
    stream, x, y, out = data.stream, data.x, data.y, data.facts
    first, summary = keras_over_seeds(harness, data, args, f"{stream.name}/keras_mlp", keep=True)
    out["keras_mlp"] = {**first, **summary}  # curves, drift points and recovery: the first seed's
    for name in ["keras_plain", *args.baselines]:  # once each, a stage each
        key = f"{stream.name}/{name}"
        stage = harness.stage(key)
        if stage.done:  # read back on --resume
            out[name] = stage.result
        elif name == "keras_plain":
            out[name] = stage.record(train_plain(x, y, stream, args, key))
        else:
            out[name] = stage.record(baseline_on_stream(name, x, y, len(stream.classes), args, key))
    learners = ["keras_mlp", "keras_plain", *args.baselines]
    for name in learners:
        correct = out[name].pop("_correct")
        out[name]["recovery_samples"] = recovery_samples(correct, stream.known_drift)
    line = ", ".join(
        f"{n} {out[n]['accuracy']:.4f} ({out[n]['items_per_second']:,.0f}/s)" for n in learners
    )
    print(f"{stream.name}: {len(x)} items ({out['rejected']} rejected): {line}", flush=True)
    return out


def ablation(harness, args) -> dict:
    """{setting: {stream: accuracy, its std and the median items/s over the seeds}}, Keras alone."""
    table = {setting: {} for setting in ABLATION}
    for spec in args.stream:
        data = prepare_stream(spec, args)
        for setting, changes in ABLATION.items():
            flags = argparse.Namespace(**{**vars(args), **changes})
            stage = f"{data.stream.name}/keras_mlp {setting}"
            _, summary = keras_over_seeds(harness, data, flags, stage)
            table[setting][data.stream.name] = {
                key: summary[key] for key in ("accuracy", "accuracy_std", "items_per_second")
            }
    return table


# -- Run and report -----------------------------------------------------------------------------------


def run(args) -> dict:
    harness = Harness(NAME, args)
    validate_args(args)
    for spec in args.stream:  # bad CSV input fails here, before anything is written
        if spec.startswith("csv:"):
            valid = len(clean_records(load_stream(spec, args))[0])
            if valid < args.batch_size:
                raise UsageError(f"{spec}: {valid} valid records, fewer than --batch-size")
    harness.setup_device()
    seed_everything(args.seed)  # once; each learner draws its weights from its own seed
    names = ["csv" if spec.startswith("csv:") else spec for spec in args.stream]
    if args.ablation:
        results = {"streams": names, "ablation": ablation(harness, args)}
    else:
        results = {"streams": names, "learners": ["keras_mlp", "keras_plain", *args.baselines]}
        for spec, name in zip(args.stream, names):
            results[name] = learners_on_stream(harness, spec, args)
    refs = [key for spec in args.stream for key in REFERENCE_KEYS.get(spec, ())]
    with harness.finish(results, references(*refs)) as metrics:  # the numbers first
        plot(metrics, harness.out_dir)  # then every figure, from metrics.json alone
    return metrics


RECIPE = Recipe(
    NAME,
    "Online learning",
    "a Keras MLP learning test-then-train from drifting streams, beside river and sklearn",
    runs=DEFAULT_RUNS,
)


def main(argv=None) -> int:
    return run_main(NAME, build_parser(), run, argv)
