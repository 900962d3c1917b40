"""
Title: Online learning on streams with concept drift
Description: A Keras MLP learning test-then-train from a stream, beside river and scikit-learn learners.
Accelerator: none needed (a tiny network on a CPU; a GPU would only add transfer overhead)

Items arrive one mini-batch at a time. Each mini-batch is predicted by the model as it stands, scored,
and only then learned from (prequential, "test-then-train" evaluation): every item is scored by a model
that has never seen it: `keras_loop()` in plain Keras (`predict_on_batch`, then `train_on_batch`).
The headline learner, `replay_loop()`, is that loop, still one Keras call at a time, with a replay
memory, two steps a batch, online input scaling, a rate boost, and river's ADWIN on its errors (when
they rise it forgets Adam's moments and the old concept). The second lesson is it compiled
(`KerasOnlineClassifier`, a river classifier too: 64 batches an XLA call), measured beside it.
Beside them: river's LogisticRegression, Hoeffding adaptive tree and ARF, scikit-learn's SGD.

    python -m recipes.online_learning                 # SEA and Agrawal (drift at the midpoint),
                                                      # Phishing, Bananas; Keras over 5 seeds
    python -m recipes.online_learning --stream csv:table.csv --target label
    python -m recipes.online_learning --resume        # after a kill: the finished runs are kept
    python -m recipes.online_learning --ablation      # the learner with one part changed at a time
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
from common.cli import non_negative_int, positive_float, positive_int, recipe_parser
from common.device import backend
from common.errors import Diverged, UsageError
from common.harness import Harness, Recipe, run_main, seed_summary
from common.rawinput import scaled_model
from common.references import references
from common.training import reset_optimizer, seed_everything
from recipes.online_learning.flags import add_recipe_flags, validate_args
from recipes.online_learning.learner import KerasOnlineClassifier, RunningScaler, adwin_fired
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

NAME = "online_learning"

# -- Setup: the hyperparameters (each flag's default; --help lists them) -------------------------------

ITEMS = 20_000  # a stream's items (synthetic streams drift at the midpoint; real ones are cut to it)
SEEDS = 5  # Keras learners: the mean over seeds (on the 1 250-item Phishing one seed spreads 2 points)
HIDDEN = [64, 64]  # Dense layers, ReLU
BATCH_SIZE = 32  # items a mini-batch: predicted, scored, then learned
LEARNING_RATE = 1e-2  # Adam
STEPS_PER_BATCH = 2  # train_on_batch steps on each mini-batch
REPLAY = 128  # items recalled from memory and learned with the new batch at each step
MEMORY = 2000  # the replay memory: the last items seen
BOOST, BOOST_ITEMS = 2.0, 1000  # the rate's factor at the start and after a drift, decaying over
# --quick: every stage once: one stream of each kind (SEA generated with its drift, Phishing read
# from river's bundled file), 1 000 items (the drift at 500), one seed, one baseline of each kind
# (river per item, river's forest, scikit-learn per batch); ARF's budget (a time) far above what
# 1 000 items take, so that a smoke run repeats exactly
QUICK = {
    "stream": ["sea", "phishing"],
    "items": 1000,
    "seeds": 1,
    "baselines": ["river_lr", "river_arf", "sklearn_sgd"],
    "arf_budget": 20.0,
}
REFERENCE_KEYS = {
    "bananas": ("river_bananas_lr", "river_bananas_arf"),
    "phishing": ("river_phishing_arf",),
}
TIMING_KEYS = ("items_per_second", "seconds")  # differ between runs; everything else repeats
# --ablation: the compiled learner alone under each setting (over the run's flags), no baselines
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
        default_seeds=SEEDS,
    )
    add_recipe_flags(parser, [setting for setting in ABLATION if setting != "default"])  # flags.py
    own = parser.add_argument_group("the learner")
    own.add_argument(
        "--items",
        type=positive_int,
        default=ITEMS,
        help="items per stream (synthetic streams drift at the midpoint; real ones are cut to it)",
    )
    own.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE, help="Keras mini-batch size")
    own.add_argument(
        "--learning-rate", type=positive_float, default=LEARNING_RATE, help="Adam step size"
    )
    own.add_argument("--hidden", type=positive_int, nargs="+", default=HIDDEN, help="hidden layer sizes")
    own.add_argument(
        "--steps-per-batch",
        type=positive_int,
        default=STEPS_PER_BATCH,
        help="Adam steps taken on each mini-batch after it is scored",
    )
    own.add_argument(
        "--replay",
        type=non_negative_int,
        default=REPLAY,
        help="items recalled from memory and learned with the new batch at each step (0: none)",
    )
    own.add_argument(
        "--memory",
        type=positive_int,
        default=MEMORY,
        help="replay memory: the last N valid items seen",
    )
    own.add_argument(
        "--adapt",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when ADWIN sees the error rate rise: reset Adam, forget the replay memory, boost the rate",
    )
    own.add_argument(
        "--boost",
        type=positive_float,
        default=BOOST,
        help="learning-rate factor at the start of the stream and right after a drift",
    )
    own.add_argument(
        "--boost-items",
        type=positive_int,
        default=BOOST_ITEMS,
        help="items over which the boost decays back to 1",
    )
    parser.set_quick(QUICK)
    return parser


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


def replay_loop(model, x, y, args, seed: int, tracker: Tracker) -> RunningScaler:
    """The learner of the headline numbers: the same test-then-train loop, still one Keras call at a
    time, with what makes it learn well from a stream. Each mini-batch is predicted and scored, then
    learned by `--steps-per-batch` `train_on_batch` steps, each on the batch and `--replay` items
    recalled from a memory of the last `--memory` (experience replay: an item is learned from more
    than once, the stream read once). The rate starts boosted by `--boost`, decaying over
    `--boost-items` items; when river's ADWIN sees the error rate rise (a drift), the learner forgets
    Adam's moments and the remembered items of the old concept and boosts its rate again. Returns
    the scaler the inputs were read through (the kept model holds it)."""
    from river import drift

    rng, detector = np.random.default_rng(seed), drift.ADWIN()
    scaler, b = RunningScaler(x.shape[1]), args.batch_size
    memory_x, memory_y = np.zeros((args.memory, x.shape[1]), np.float32), np.zeros(args.memory, y.dtype)
    stored = since = 0  # items ever remembered; the first of them still recalled
    boost_left = args.boost_items
    for start in range(0, len(x), b):
        xb, yb = scaler.scale(x[start : start + b], b), y[start : start + b]
        hits = model.predict_on_batch(xb).argmax(axis=1) == yb  # test ...
        error_before = detector.estimation
        fired = adwin_fired(detector, hits)
        tracker.score(hits, fired)
        rate = args.learning_rate * (1 + (args.boost - 1) * boost_left / args.boost_items)
        model.optimizer.learning_rate.assign(rate)
        boost_left = max(0, boost_left - len(yb))
        for _ in range(args.steps_per_batch):  # ... then train, on the batch and recalled items
            held = min(stored - since, args.memory)
            xs, ys = xb, yb
            if held and args.replay:  # `--replay` items of those remembered, drawn at random
                back = (stored - 1 - rng.integers(0, held, args.replay)) % args.memory
                xs, ys = np.concatenate([xb, memory_x[back]]), np.concatenate([yb, memory_y[back]])
            model.train_on_batch(xs, ys)
        slots = (stored + np.arange(len(yb))) % args.memory
        memory_x[slots], memory_y[slots] = xb, yb
        stored += len(yb)
        if args.adapt and fired and detector.estimation > error_before:  # errors up: a drift
            reset_optimizer(model.optimizer)  # Adam's moments, of the old concept
            boost_left, since = args.boost_items, stored
        if start // b % 64 == 63 or start + b >= len(x):
            check_weights(model, start + len(yb))
    tracker.close()
    return scaler


def check_weights(model, items: int) -> None:
    """Diverged once the weights are NaN or infinite: such a network predicts one class for ever."""
    if not all(np.isfinite(w).all() for w in model.get_weights()):
        raise Diverged(
            f"the learner's weights became NaN or infinite by item {items:,}: the training "
            "diverged (a lower --learning-rate, or scaled inputs, may help)"
        )


def prequential(learner, x, y, tracker: Tracker) -> None:
    """The same learner compiled, the second lesson (`KerasOnlineClassifier`, a river classifier
    too): it predicts each mini-batch with the weights as they stand, then learns from it, 64
    batches in one XLA call, with the same replay, boost and drift reaction (a drift inside a call
    takes back the batches after it); each batch's predictions are scored here, with the places
    where the learner's ADWIN saw its errors change."""
    # every prediction is made before the model has seen its item
    for predicted, fired in learner.test_then_train(x, y):
        tracker.score(predicted == y[tracker.seen : tracker.seen + len(predicted)], fired)
    tracker.close()


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
    """A fresh network, test-then-train over the stream with `replay_loop`; with `keep`, the first
    seed's final network is kept as models/<stream>_keras_mlp.keras, with the input scaling it had
    reached inside it."""
    key, keep = f"{stage}/{seed}", keep and seed == args.seed
    stream, x, y = data.stream, data.x, data.y
    gc.collect()  # the last learner's garbage, so that no timed run pays for another's
    tracker = Tracker(len(x), key, not args.quiet)  # the clock starts here: the model's build too
    seed_everything(seed)
    model = plain_model(x.shape[1], len(stream.classes), args)
    scaler = replay_loop(model, x, y, args, seed, tracker)
    result = learner_summary(tracker, len(x))
    result["finished"] = True
    result["params"] = int(model.count_params())
    result["weights_finite"] = bool(all(np.isfinite(w).all() for w in model.get_weights()))
    if keep:  # the scaling inside the kept model: it takes the stream's values as they are
        harness.save_model(
            scaled_model(model, scaler.mean, scaler.std()),
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


def train_compiled(seed: int, harness, data: Prepared, args, stage: str, keep: bool) -> dict:
    """The same learner compiled (`prequential`), a fresh one from `seed`: its accuracy and speed."""
    key, x, y, stream = f"{stage}/{seed}", data.x, data.y, data.stream
    gc.collect()
    tracker = Tracker(len(x), key, not args.quiet)  # the clock starts here: each run counts its trace
    learner = KerasOnlineClassifier.from_flags(args, stream.classes, stream.features, seed)
    prequential(learner, x, y, tracker)
    result = learner_summary(tracker, len(x))
    result["finished"] = True
    result["weights_finite"] = bool(all(np.isfinite(w).all() for w in learner.model.get_weights()))
    return result


def train_plain(x, y, stream, args, key: str) -> dict:
    """The plain Keras loop over the stream, once (the first seed): its accuracy and items/s."""
    gc.collect()
    tracker = Tracker(len(x), key, not args.quiet)  # model building counted
    seed_everything(args.seed)
    keras_loop(plain_model(x.shape[1], len(stream.classes), args), x, y, args.batch_size, tracker)
    return learner_summary(tracker, len(x))


def keras_over_seeds(harness, data: Prepared, args, stage: str, keep=False, learn=train_keras):
    """A Keras learner (`learn`: train_keras, or train_compiled) over the run's seeds, one stage
    each: the first seed's full result, and the summary (mean accuracy; median throughput, robust to
    the process's one-time warm-up)."""
    seeds = harness.seeds(stage, describe=describe)  # one stage each, read back on --resume
    for seed in seeds:
        seeds.record(learn(seed, harness, data, args, stage, keep))
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
    if "keras_compiled" in learners_of(args):  # TensorFlow's tf.function and XLA: there only
        stage = f"{stream.name}/keras_compiled"
        first, summary = keras_over_seeds(harness, data, args, stage, learn=train_compiled)
        out["keras_compiled"] = {**first, **summary}
    for name in ["keras_plain", *args.baselines]:  # once each, a stage each
        key = f"{stream.name}/{name}"
        stage = harness.stage(key)
        if stage.done:  # read back on --resume
            out[name] = stage.result
        elif name == "keras_plain":
            out[name] = stage.record(train_plain(x, y, stream, args, key))
        else:
            out[name] = stage.record(baseline_on_stream(name, x, y, len(stream.classes), args, key))
    learners = learners_of(args)
    for name in learners:
        correct = out[name].pop("_correct")
        out[name]["recovery_samples"] = recovery_samples(correct, stream.known_drift)
    line = ", ".join(
        f"{n} {out[n]['accuracy']:.4f} ({out[n]['items_per_second']:,.0f}/s)" for n in learners
    )
    print(f"{stream.name}: {len(x)} items ({out['rejected']} rejected): {line}", flush=True)
    return out


def learners_of(args) -> list[str]:
    """The learners of a run: the Keras learner, its compiled twin (on TensorFlow, whose tf.function
    and XLA it is written in), the plain Keras loop, the baselines."""
    compiled = ["keras_compiled"] if backend() == "tensorflow" else []
    return ["keras_mlp", *compiled, "keras_plain", *args.baselines]


def ablation(harness, args) -> dict:
    """{setting: {stream: accuracy, its std and the median items/s over the seeds}}, Keras alone."""
    table = {setting: {} for setting in ABLATION}
    for spec in args.stream:
        data = prepare_stream(spec, args)
        for setting, changes in ABLATION.items():
            flags = argparse.Namespace(**{**vars(args), **changes})
            # the compiled learner where there is one (the fast one: the same learner)
            fast = "keras_compiled" in learners_of(args)
            stage = f"{data.stream.name}/{'keras_compiled' if fast else 'keras_mlp'} {setting}"
            learn = train_compiled if fast else train_keras
            _, summary = keras_over_seeds(harness, data, flags, stage, learn=learn)
            table[setting][data.stream.name] = {
                key: summary[key] for key in ("accuracy", "accuracy_std", "items_per_second")
            }
    return table


# -- Run and report -----------------------------------------------------------------------------------


def run(args) -> dict:
    # -- Prepare the data: every stream checked before anything is written
    harness = Harness(NAME, args)
    validate_args(args)
    for spec in args.stream:  # bad CSV input fails here, before anything is written
        if spec.startswith("csv:"):
            valid = len(clean_records(load_stream(spec, args))[0])
            if valid < args.batch_size:
                raise UsageError(f"{spec}: {valid} valid records, fewer than --batch-size")
    harness.setup_device()
    seed_everything(args.seed)  # once; each learner draws its weights from its own seed
    # -- Train and evaluate: every learner on each stream, test-then-train
    names = ["csv" if spec.startswith("csv:") else spec for spec in args.stream]
    if args.ablation:
        results = {"streams": names, "ablation": ablation(harness, args)}
    else:
        if "keras_compiled" not in learners_of(args):
            print(f"the compiled learner is TensorFlow's: skipped on {backend()}", flush=True)
        results = {"streams": names, "learners": learners_of(args)}
        for spec, name in zip(args.stream, names):
            results[name] = learners_on_stream(harness, spec, args)
    # -- Report: metrics.json, then the figures from it
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
