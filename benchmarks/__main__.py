"""`python -m benchmarks`: how fast the collection's Keras code is beside the peers its tables compare
against, as ratios measured in one run on one machine (medians over `--repeats`), each beside both
sides' accuracies.

(a) the online learner: Keras items/s over river LogisticRegression items/s, test-then-train on SEA
    0->3 and Agrawal 0->2 (`--items` items each), the learners and streams of recipes.online_learning;
(b) MLP training: Keras `fit` samples/s over scikit-learn's `MLPClassifier` on the same network
    (64-128-64-10), data (digits tiled x10, 17 970 rows), epochs (20), batch (200) and optimizer
    (Adam 1e-3): a new model on NumPy arrays; a new model with one compiled call per epoch; that
    model compiled once per process, fresh weights each repeat (the headline ratio; see `mlp`);
(c) each recipe's default run, its wall time (`--recipes`; about 20 minutes on 2 cores);
(d) the online learner as a river classifier, scored item by item by river's progressive_val_score
    on the SEA streams of (a): its accuracy and items/s beside the recipe loop's.

Writes outputs/benchmarks/metrics.json and ratios.png. A ratio above 1 means Keras is faster.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import common  # noqa: F401  (quiet TensorFlow's start-up logs)
from common.cli import DefaultsHelpFormatter, RecipeArgumentParser, positive_int
from common.errors import UsageError
from common.results import build_metrics, check_writable, environment, write_metrics

NAME = "benchmarks"


def median(values) -> float:
    return float(np.median(values))


# -- (a) the online learner beside river ---------------------------------------------------------------


def online_args(items: int, seed: int):
    from recipes.online_learning.recipe import build_parser

    return build_parser().parse_args(["--items", str(items), "--seed", str(seed), "--quiet"])


def online(stream: str, items: int, repeats: int) -> dict:
    """Keras learner and river LogisticRegression on one stream, `repeats` times each (seeds 0..)."""
    from common.training import seed_everything
    from recipes.online_learning.learner import KerasOnlineClassifier
    from recipes.online_learning.prequential import Tracker, baseline_on_stream, learner_summary
    from recipes.online_learning.recipe import prepare_stream, prequential

    seed_everything(0)  # once, as the recipe does; each learner draws its weights from its seed
    runs = {"keras_mlp": [], "river_lr": []}
    for seed in range(repeats):
        args = online_args(items, seed)
        prepared = prepare_stream(stream, args)
        spec, x, y = prepared.stream, prepared.x, prepared.y
        tracker = Tracker(len(x), f"{stream}/keras", False)
        learner = KerasOnlineClassifier.from_flags(args, spec.classes, spec.features, seed)
        prequential(learner, x, y, tracker)
        runs["keras_mlp"].append(learner_summary(tracker, len(x)))
        runs["river_lr"].append(baseline_on_stream("river_lr", x, y, len(spec.classes), args, "lr"))
    result = {
        name: {
            "items_per_second": median([r["items_per_second"] for r in rs]),
            "accuracy": float(np.mean([r["accuracy"] for r in rs])),
            "per_repeat": [{k: r[k] for k in ("items_per_second", "accuracy")} for r in rs],
        }
        for name, rs in runs.items()
    }
    result["ratio"] = result["keras_mlp"]["items_per_second"] / result["river_lr"]["items_per_second"]
    return result


def river_interface(items: int, repeats: int, loop: dict) -> dict:
    """The online learner as a river classifier (`KerasOnlineClassifier`, its default parameters),
    scored item by item by river's own `progressive_val_score` on the SEA streams and seeds of (a):
    its accuracy beside the recipe loop's, and the items/s of the two paths."""
    from river import evaluate, metrics

    from recipes.online_learning import KerasOnlineClassifier
    from recipes.online_learning.recipe import prepare_stream

    runs = []
    for seed in range(repeats):
        stream = prepare_stream("sea", online_args(items, seed)).stream
        start = time.perf_counter()
        score = evaluate.progressive_val_score(
            stream.records, KerasOnlineClassifier(seed=seed), metrics.Accuracy()
        )
        seconds = time.perf_counter() - start
        runs.append({"accuracy": score.get(), "items_per_second": len(stream.records) / seconds})
    keras = loop["keras_mlp"]
    accuracies = [r["accuracy"] for r in keras["per_repeat"]]
    result = {
        "progressive_val_score": {
            "items_per_second": median([r["items_per_second"] for r in runs]),
            "accuracy": float(np.mean([r["accuracy"] for r in runs])),
            "accuracy_std": float(np.std([r["accuracy"] for r in runs])),
            "per_repeat": runs,
        },
        "recipe_loop": {
            "items_per_second": keras["items_per_second"],
            "accuracy": keras["accuracy"],
            "accuracy_std": float(np.std(accuracies)),
            "accuracy_range": [min(accuracies), max(accuracies)],
        },
    }
    result["speed_ratio"] = (
        result["progressive_val_score"]["items_per_second"] / keras["items_per_second"]
    )
    return result


# -- (b) MLP training beside scikit-learn --------------------------------------------------------------


def mlp_data(tile: int):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    return np.tile(x, (tile, 1)), np.tile(digits.target, tile), x, digits.target


def keras_model(features: int, steps_per_execution: int):
    import keras

    inputs = keras.Input((features,))
    h = keras.layers.Dense(128, activation="relu")(inputs)
    h = keras.layers.Dense(64, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        steps_per_execution=steps_per_execution,
    )
    return model


def keras_fit(model, x, y, x_eval, y_eval, epochs: int, batch: int, seed: int, pipeline: bool):
    """`fit` timed from its call to its return; `pipeline`: the recipes' cached, seeded tf.data input
    (common.training.make_dataset) instead of NumPy arrays."""
    from common.training import make_dataset

    start = time.perf_counter()
    if pipeline:
        data = make_dataset(x, y, batch, shuffle=True, seed=seed)  # reshuffled by tf.data
        model.fit(data, epochs=epochs, shuffle=False, verbose=0)
    else:
        model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(model.predict(x_eval, verbose=0).argmax(axis=1) == y_eval))
    return {"samples_per_second": len(x) * epochs / seconds, "accuracy": accuracy}


def sklearn_mlp(x, y, x_eval, y_eval, epochs: int, batch: int, seed: int):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        (128, 64),
        batch_size=batch,
        max_iter=epochs,
        learning_rate_init=1e-3,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # exactly `epochs` epochs, as asked
        model.fit(x, y)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(model.predict(x_eval) == y_eval))
    return {"samples_per_second": len(x) * epochs / seconds, "accuracy": accuracy}


def mlp(tile: int, epochs: int, batch: int, repeats: int) -> dict:
    """The same 64-128-64-10 network trained by Keras and by scikit-learn; accuracy on the 1 797
    original digits (training data: a speed test, not a score). Keras three ways:

    - `keras_fit`: a new model each repeat, `fit` on NumPy arrays (what most code writes);
    - `keras_fit_epoch_call`: a new model each repeat, the recipes' tf.data input and one compiled
      call per epoch (`steps_per_execution` = batches per epoch); its time includes tracing the
      training step, about 0.6 s on 2 cores;
    - `keras_fit_warm`: the same, with one model compiled once per process and fresh weights and
      optimizer state each repeat (common.training.reinitialize, its weights drawn from the repeat's
      seed without setting the global one, which would clear TensorFlow's caches of traced
      functions); one untimed epoch first traces the step.
    """
    from common.training import reinitialize, seed_everything

    x, y, x_eval, y_eval = mlp_data(tile)
    per_epoch = -(-len(x) // batch)
    warm = None

    def fresh(seed: int, spe: int):
        seed_everything(seed)
        return keras_model(x.shape[1], spe)

    def warmed(seed: int):
        nonlocal warm
        if warm is None:
            warm = fresh(seed, per_epoch)
            keras_fit(warm, x, y, x_eval, y_eval, 1, batch, seed, pipeline=True)  # trace
        reinitialize(warm, seed)
        return warm

    sides = {
        "keras_fit": lambda s: keras_fit(fresh(s, 1), x, y, x_eval, y_eval, epochs, batch, s, False),
        "keras_fit_epoch_call": lambda s: keras_fit(
            fresh(s, per_epoch), x, y, x_eval, y_eval, epochs, batch, s, True
        ),
        "keras_fit_warm": lambda s: keras_fit(warmed(s), x, y, x_eval, y_eval, epochs, batch, s, True),
        "sklearn_mlp": lambda s: sklearn_mlp(x, y, x_eval, y_eval, epochs, batch, s),
    }
    runs = {name: [run(seed) for seed in range(repeats)] for name, run in sides.items()}
    result = {
        name: {
            "samples_per_second": median([r["samples_per_second"] for r in rs]),
            "accuracy": float(np.mean([r["accuracy"] for r in rs])),
            "per_repeat": rs,
        }
        for name, rs in runs.items()
    }
    peer = result["sklearn_mlp"]["samples_per_second"]
    for side in ("keras_fit", "keras_fit_epoch_call", "keras_fit_warm"):
        result[side]["ratio"] = result[side]["samples_per_second"] / peer
    result["ratio"] = result["keras_fit_warm"]["ratio"]
    result["setup"] = {"rows": len(x), "epochs": epochs, "batch": batch, "network": "64-128-64-10"}
    return result


# -- (c) each recipe's default run ---------------------------------------------------------------------


def recipe_wall_times() -> dict:
    """Each default run of `python -m recipes all`, timed whole in its own process."""
    from recipes import registry

    times = {}
    with tempfile.TemporaryDirectory() as scratch:
        for recipe in registry().values():
            for run in recipe.runs:
                label = recipe.name + (f" ({run.subdir})" if run.subdir else "")
                out = Path(scratch) / recipe.name / run.subdir
                command = [sys.executable, "-m", recipe.module, *run.flags, "--output-dir", str(out)]
                start = time.perf_counter()
                code = subprocess.run(command, capture_output=True).returncode
                times[label] = {"seconds": time.perf_counter() - start, "exit_code": code}
                print(f"  {label:<32} {times[label]['seconds']:7.1f} s (exit {code})", flush=True)
    return times


# -- Report --------------------------------------------------------------------------------------------


def plot(metrics: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.plotting import save_figure

    results = metrics["results"]
    labels, ratios = [], []
    for stream, r in results["online"].items():
        labels.append(f"online, {stream}\nKeras / river LR")
        ratios.append(r["ratio"])
    labels += [
        "MLP fit, new model\n(NumPy arrays)\nKeras / sklearn",
        "MLP fit, new model\n(1 call per epoch)\nKeras / sklearn",
        "MLP fit, compiled\nonce per process\nKeras / sklearn",
    ]
    ratios += [
        results["mlp"][side]["ratio"] for side in ("keras_fit", "keras_fit_epoch_call", "keras_fit_warm")
    ]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    bars = ax.bar(labels, ratios, color=["#4c72b0" if r >= 1 else "#dd8452" for r in ratios])
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label="as fast as the peer")
    ax.bar_label(bars, [f"{r:.3f}" for r in ratios])
    ax.set_ylabel("speed ratio (above 1: Keras faster)")
    ax.set_title(f"Speed beside the peers, medians of {metrics['args']['repeats']} repeats")
    ax.legend()
    save_figure(fig, out_dir / "ratios.png")


class HelpFormatter(DefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help: the description as written, every flag with its default."""


def main(argv=None) -> int:
    parser = RecipeArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--repeats", type=positive_int, default=5, help="repeats per side (median)")
    parser.add_argument("--items", type=positive_int, default=20000, help="items per online stream")
    parser.add_argument("--tile", type=positive_int, default=10, help="digits tiled this many times")
    parser.add_argument("--epochs", type=positive_int, default=20, help="MLP training epochs")
    parser.add_argument("--batch-size", type=positive_int, default=200, help="MLP batch size")
    parser.add_argument(
        "--recipes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time each recipe's default run (about 20 minutes on 2 cores)",
    )
    parser.add_argument("--output-dir", default="outputs/benchmarks", help="folder for the results")
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    try:
        check_writable(out, "--output-dir")
    except UsageError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results = {"online": {}}
    for stream in ("sea", "agrawal"):
        results["online"][stream] = r = online(stream, args.items, args.repeats)
        print(
            f"online {stream}: Keras {r['keras_mlp']['items_per_second']:,.0f} items/s (accuracy "
            f"{r['keras_mlp']['accuracy']:.3f}), river LR {r['river_lr']['items_per_second']:,.0f} "
            f"(accuracy {r['river_lr']['accuracy']:.3f}): ratio {r['ratio']:.2f}",
            flush=True,
        )
    results["river_interface"] = r = river_interface(args.items, args.repeats, results["online"]["sea"])
    river, loop = r["progressive_val_score"], r["recipe_loop"]
    print(
        f"online sea through river's progressive_val_score: {river['items_per_second']:,.0f} items/s "
        f"(accuracy {river['accuracy']:.4f} ± {river['accuracy_std']:.4f}), the recipe loop "
        f"{loop['items_per_second']:,.0f} (accuracy {loop['accuracy']:.4f} ± "
        f"{loop['accuracy_std']:.4f})",
        flush=True,
    )
    results["mlp"] = r = mlp(args.tile, args.epochs, args.batch_size, args.repeats)
    sides = [
        f"{side} {r[side]['samples_per_second']:,.0f} ({r[side]['ratio']:.2f})"
        for side in ("keras_fit", "keras_fit_epoch_call", "keras_fit_warm")
    ]
    print(
        f"MLP training, samples/s (ratio): {', '.join(sides)}; scikit-learn "
        f"{r['sklearn_mlp']['samples_per_second']:,.0f}",
        flush=True,
    )
    if args.recipes:
        print("each recipe's default run:", flush=True)
        results["recipes"] = recipe_wall_times()
    from common.device import cpu_count, describe_device, intra_op_threads

    metrics = build_metrics(
        NAME,
        vars(args),
        results,
        [],
        time.perf_counter() - started,
        environment(describe_device(), intra_op_threads(), cpu_count()),
    )
    plot(metrics, out)
    write_metrics(out, metrics)
    print(f"wrote {out}/metrics.json and ratios.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
