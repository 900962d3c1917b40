"""The online-learning figures, drawn from metrics.json alone: rolling accuracy per stream, throughput,
accuracy against speed; with --ablation, the settings-by-streams accuracy table."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.plotting import color, save_figure
from recipes.online_learning.prequential import WINDOW

LABELS = {
    "keras_mlp": "Keras MLP (train_on_batch, replay)",
    "keras_compiled": "the same, compiled (XLA)",
    "keras_plain": "Keras MLP, plain loop",
    "river_lr": "river LogisticRegression",
    "river_hatc": "river HoeffdingAdaptiveTree",
    "river_arf": "river ARF",
    "sklearn_sgd": "sklearn SGDClassifier",
}


LEAD = "rolling_accuracy_agrawal"  # the figure the gallery opens with, one per recipe
CAPTIONS = {  # figure name (or its prefix) -> what to see in it, shown under it in the gallery
    "rolling_accuracy": "Accuracy over the last items, test-then-train, for every learner on this "
    "stream: the dip at a drift and how fast each learner recovers.",
    "throughput": "Items per second over the whole stream (predict and learn), each learner a point "
    "on a log scale.",
    "accuracy_vs_throughput": "Accuracy against speed, one point per learner and stream: up and to "
    "the right is better.",
    "ablation": "Mean accuracy of the Keras learner with one part changed at a time, each cell "
    "coloured by its difference from the default setting on that stream.",
}


def plot(metrics: dict, out_dir) -> None:
    """rolling_accuracy_<stream>.png, throughput.png, accuracy_vs_throughput.png (ablation.png for an
    --ablation run), from metrics alone."""
    out_dir = Path(out_dir)
    results = metrics["results"]
    if "ablation" in results:
        seeds = metrics["args"]["seeds"]
        plot_ablation(results["ablation"], results["streams"], seeds, out_dir / "ablation.png")
        return
    for stream in results["streams"]:
        plot_rolling_accuracy(results, stream, out_dir / f"rolling_accuracy_{stream}.png")
    plot_throughput(results, out_dir / "throughput.png")
    plot_accuracy_vs_throughput(results, out_dir / "accuracy_vs_throughput.png")


def plot_rolling_accuracy(results: dict, stream: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    data = results[stream]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for i, name in enumerate(results["learners"]):
        values, label = data[name]["rolling_accuracy"], LABELS[name]
        runs = len(data[name].get("per_seed", []))
        if runs > 1:  # the curve is one run of the several the headline averages: say which
            label += f" (the run of seed {data[name]['per_seed'][0]['seed']}, of {runs})"
        ax.plot(
            data["rolling_items"][: len(values)],
            values,
            color=color(i),
            label=label,
            linewidth=2 if name == "keras_mlp" else 1.2,
        )
    if data["known_drift"] is not None:
        ax.axvline(data["known_drift"], color="black", linestyle="--", label="known drift")
    for j, point in enumerate(data["keras_mlp"]["drift_points"]):
        ax.axvline(
            point,
            color=color(0),
            linestyle=":",
            alpha=0.7,
            label="ADWIN drift (Keras errors)" if j == 0 else None,
        )
    ax.set_xlabel("items seen")
    ax.set_ylabel(f"rolling accuracy (last {WINDOW})")
    seeds = max(len(data[name].get("per_seed", [])) for name in results["learners"])
    one = f"\neach curve is one run; the accuracies reported are means over {seeds} seeds" * (seeds > 1)
    ax.set_title(f"Prequential accuracy on {stream}{one}")
    # below the axes: inside, it hides the low baselines on one stream or another
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    save_figure(fig, path)


def plot_throughput(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    learners, streams = results["learners"], results["streams"]
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(streams) + 2), 4.2))
    width = 0.8 / len(learners)
    for i, name in enumerate(learners):  # points, not bars: a bar's height means nothing on a log axis
        rates = [results[s][name]["items_per_second"] for s in streams]
        xs = np.arange(len(streams)) + (i - (len(learners) - 1) / 2) * width
        ax.plot(xs, rates, "o", markersize=8, color=color(i), label=LABELS[name])
    ax.set_xticks(np.arange(len(streams)), streams)
    ax.set_yscale("log")
    ax.set_ylabel("items per second (log scale)")
    ax.set_title("Prequential throughput (predict + learn, whole stream)")
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    save_figure(fig, path)


def plot_accuracy_vs_throughput(results: dict, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    learners, streams = results["learners"], results["streams"]
    fig, axes = plt.subplots(1, len(streams), figsize=(4 * len(streams), 4), squeeze=False)
    for ax, stream in zip(axes[0], streams):
        for i, name in enumerate(learners):
            r = results[stream][name]
            ax.scatter(r["items_per_second"], r["accuracy"], color=color(i), s=60, label=LABELS[name])
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # 2x10^3 labels would overlap
        ax.set_xlabel("items per second")
        ax.set_title(stream)
    axes[0][0].set_ylabel("prequential accuracy")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles, labels, fontsize=8, ncol=len(learners), loc="lower center", bbox_to_anchor=(0.5, -0.1)
    )
    fig.suptitle("Accuracy against speed: up and to the right is better")
    save_figure(fig, path)


def plot_ablation(ablation: dict, streams: list[str], seeds: int, path: Path) -> None:
    """A table, settings by streams, of mean accuracy (± std) and median items/s, each cell coloured
    by its accuracy's difference from the default setting's on that stream."""
    import matplotlib.pyplot as plt

    settings = list(ablation)
    cells = [[ablation[s][t] for t in streams] for s in settings]
    accuracy = np.array([[cell["accuracy"] for cell in row] for row in cells])
    gain = accuracy - accuracy[settings.index("default")] if "default" in settings else accuracy * 0
    limit = max(float(np.abs(gain).max()), 1e-3)
    fig, ax = plt.subplots(figsize=(2.2 * len(streams) + 3.5, 0.62 * len(settings) + 1.6))
    image = ax.imshow(gain, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), cell in np.ndenumerate(np.array(cells, dtype=object)):
        text = f"{cell['accuracy']:.3f} ± {cell['accuracy_std']:.3f}"
        text += f"\n{cell['items_per_second']:,.0f} items/s"
        dark = abs(gain[i, j]) > 0.6 * limit  # white on the deepest colours
        ax.text(j, i, text, ha="center", va="center", fontsize=8.5, color="white" if dark else "black")
    ax.set_xticks(np.arange(len(streams)), streams)
    ax.set_yticks(np.arange(len(settings)), settings)
    ax.xaxis.tick_top()
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="accuracy minus the default's")
    ax.set_title(
        f"Keras learner: prequential accuracy, mean ± std over {seeds} seed(s); median speed", pad=24
    )
    save_figure(fig, path)
