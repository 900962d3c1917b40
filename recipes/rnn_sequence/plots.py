"""Every figure of the rnn_sequence recipe, drawn from metrics.json alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.plotting import (
    color,
    plot_bars,
    plot_confusion_matrix,
    plot_learning_curves,
    plt,
    save_figure,
)
from recipes.rnn_sequence.models import CELLS, LABELS

LEAD = "accuracy_vs_reference"  # the figure the gallery opens with, one per recipe
CAPTIONS = {  # figure name (or its prefix) -> what to see in it, shown under it in the gallery
    "accuracy_vs_reference": "Test accuracy of each cell (MNIST-1D or your sequences), mean over "
    "seeds, beside the published numbers for MNIST-1D.",
    "learning_curves": "Loss and accuracy per epoch for each recurrent cell, mean and spread over "
    "seeds.",
    "confusion_matrix": "Test sequences by true class (rows) and predicted class (columns).",
    "gradient_through_time": "How strongly the loss depends on each input step: a line that falls "
    "towards early steps is a gradient that does not reach back in time.",
    "adding_mse": "The adding problem: test MSE against sequence length for each cell, beside always "
    "predicting 1 (MSE about 0.17); below that line the cell has learned to carry two numbers.",
}


def task_name(metrics: dict) -> str:
    """What the classifiers were trained on: MNIST-1D, or the user's npz:PATH."""
    dataset = metrics["args"].get("dataset", "mnist1d")
    return "MNIST-1D" if dataset == "mnist1d" else dataset


def plot_accuracy(metrics: dict, out_dir: Path) -> None:
    cells = metrics["results"]["mnist1d"]
    values, errors = {}, {}
    for cell, r in cells.items():
        values[LABELS[cell]] = r["test_accuracy"]
        errors[LABELS[cell]] = r["test_accuracy_std"]
    for cell, r in cells.items():
        values[f"{LABELS[cell]}, plain"] = r["plain"]["test_accuracy"]
    published = {
        r["name"].replace(" (MNIST-1D paper)", ", paper"): r["value"]
        for r in metrics["references"]
        if r["name"].endswith("(MNIST-1D paper)")
    }
    plot_bars(
        values,
        out_dir / "accuracy_vs_reference.png",
        f"{task_name(metrics)} test accuracy ('plain': one layer, last step)",
        "test accuracy",
        errors=errors,
        references=published,
        ylim=(0, 1.05),
    )


def plot_learning(metrics: dict, out_dir: Path) -> None:
    curves = {LABELS[cell]: r["history"] for cell, r in metrics["results"]["mnist1d"].items()}
    plot_learning_curves(
        curves, out_dir / "learning_curves.png", f"{task_name(metrics)}, recurrent models"
    )


def plot_confusion(metrics: dict, out_dir: Path) -> None:
    cells = metrics["results"]["mnist1d"]
    cell = "simple" if "simple" in cells else next(iter(cells))
    plot_confusion_matrix(
        cells[cell]["confusion_matrix"],
        metrics["results"].get("classes", [str(d) for d in range(10)]),
        out_dir / "confusion_matrix.png",
        f"{task_name(metrics)} test set, {LABELS[cell]} (seed {metrics['args']['seed']})",
    )


def plot_gradients(metrics: dict, out_dir: Path) -> None:
    gradients = metrics["results"]["gradient_through_time"]
    panels = [
        ("plain_init", f"{task_name(metrics)}, one layer, last step:\nat initialisation", gradients),
        ("plain_trained", f"{task_name(metrics)}, one layer, last step:\ntrained", gradients),
        (
            "model_trained",
            f"{task_name(metrics)}, the recipe's bidirectional\nmodel: trained",
            gradients,
        ),
    ]
    adding = metrics["results"].get("adding", {})
    longest = {c: r[t] for c, r in adding.items() for t in r if "gradient_through_time" in r[t]}
    if longest:
        length = len(next(iter(longest.values()))["gradient_through_time"])
        panels.append(("gradient_through_time", f"adding problem, T={length}:\ntrained", longest))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.5), squeeze=False)
    for ax in axes[0][1:3]:
        ax.sharey(axes[0][0])  # the three MNIST-1D panels on one scale
    for ax, (key, title, per_cell) in zip(axes[0], panels):
        for i, cell in enumerate(CELLS):
            if cell in per_cell:
                norms = np.asarray(per_cell[cell][key])
                ax.plot(np.arange(1, len(norms) + 1), norms, label=LABELS[cell], color=color(i))
        ax.set(title=title, xlabel="input step t (the output reads the last)", yscale="log")
    axes[0][0].set_ylabel("norm of d(loss) / d(x_t)")
    axes[0][0].legend(loc="best")
    fig.suptitle("How far back the gradient reaches (test sequences)", y=1.06)
    save_figure(fig, out_dir / "gradient_through_time.png")


def plot_adding(metrics: dict, out_dir: Path) -> None:
    adding = metrics["results"]["adding"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    baselines = []
    for cell, per_length in adding.items():
        lengths = sorted(per_length, key=int)
        mse = [per_length[t]["test_mse"] for t in lengths]
        baselines += [per_length[t]["baseline_mse"] for t in lengths]
        ax.plot(
            [int(t) for t in lengths],
            mse,
            marker="o",
            label=LABELS[cell],
            color=color(CELLS.index(cell)),
        )
    published = next(r["value"] for r in metrics["references"] if r["metric"] == "test_mse")
    ax.axhline(published, color="#666666", linestyle="--", linewidth=1)
    ax.text(
        ax.get_xlim()[0],
        published,
        f" predict 1: MSE {published:.3f} (measured {np.mean(baselines):.3f})",
        va="bottom",
        fontsize=8,
        color="#444444",
    )
    ax.set(
        title="The adding problem: test MSE by sequence length",
        xlabel="sequence length T",
        ylabel="test MSE",
        yscale="log",
    )
    # below the axes: inside, it hides a point (the LSTM's at T=100)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(adding))
    save_figure(fig, out_dir / "adding_mse_vs_length.png")


def plot(metrics: dict, out_dir) -> None:
    """Every figure from metrics.json alone."""
    out_dir = Path(out_dir)
    results = metrics["results"]
    if "mnist1d" in results:
        plot_learning(metrics, out_dir)
        plot_accuracy(metrics, out_dir)
        plot_confusion(metrics, out_dir)
        plot_gradients(metrics, out_dir)
    if "adding" in results:
        plot_adding(metrics, out_dir)
