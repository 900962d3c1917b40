"""One figure style, atomic PNG saving, and the plot kinds several recipes share.

Every function takes plain numbers (lists from metrics.json), so `python -m recipes plots` can redraw a
figure without training anything.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed, and the same pixels everywhere

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from common.results import atomic_write_bytes  # noqa: E402

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "axes.titlesize": 11,
    "legend.fontsize": 9,
    "legend.frameon": False,
}
plt.rcParams.update(STYLE)
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def color(index: int) -> str:
    return COLORS[index % len(COLORS)]


def save_figure(fig, path: str | Path) -> Path:
    """Render to PNG in memory, write atomically, close the figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def mean_band(runs):
    """Mean and std over seeds of curves that may differ in length (early stopping): NaN-padded."""
    length = max(len(run) for run in runs)
    table = np.full((len(runs), length), np.nan)
    for i, run in enumerate(runs):
        table[i, : len(run)] = run
    with np.errstate(invalid="ignore"):
        return np.nanmean(table, axis=0), np.nanstd(table, axis=0)


def plot_band(ax, runs, label: str, color_: str, linestyle: str = "-", x=None, log: bool = False):
    """One line: the mean over seeds with a shaded band of one standard deviation. With `log` (for a
    log axis), the mean and deviation are those of the logarithms, so the band, a factor either
    side of the geometric mean, stays above zero and on the axis."""
    if log:
        runs = [np.log(np.maximum(np.asarray(run, dtype=float), 1e-12)) for run in runs]
    mean, std = mean_band(runs)
    low, high = mean - std, mean + std
    if log:
        mean, low, high = np.exp(mean), np.exp(low), np.exp(high)
    x = np.arange(1, len(mean) + 1) if x is None else np.asarray(x)
    ax.plot(x, mean, color=color_, linestyle=linestyle, label=label)
    if len(runs) > 1:
        ax.fill_between(x, low, high, color=color_, alpha=0.2, linewidth=0)


def plot_learning_curves(
    curves: dict[str, dict[str, list[list[float]]]],
    path: str | Path,
    title: str,
    panels: tuple[tuple[str, str], ...] = (("loss", "loss"), ("accuracy", "accuracy")),
) -> Path:
    """Train (solid) and validation (dashed) curves per model, mean with a band over seeds.

    `curves[label][metric]` is a list over seeds of per-epoch values; metrics named `val_<name>` are
    drawn dashed beside `<name>`.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (metric, ylabel) in zip(axes[0], panels):
        for i, (label, history) in enumerate(curves.items()):
            if metric in history:
                plot_band(ax, history[metric], f"{label} train", color(i))
            if f"val_{metric}" in history:
                plot_band(ax, history[f"val_{metric}"], f"{label} validation", color(i), "--")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if metric == "loss":
            ax.set_yscale("log")
        ax.legend()
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_bars(
    values: dict[str, float],
    path: str | Path,
    title: str,
    ylabel: str,
    errors: dict[str, float] | None = None,
    references: dict[str, float] | None = None,
    ylim: tuple[float, float] | None = None,
    highlight: str | None = None,
) -> Path:
    """Bars with error bars (std over seeds), the value printed on each, published references hatched."""
    labels = list(values) + list(references or {})
    heights = list(values.values()) + list((references or {}).values())
    errs = [(errors or {}).get(k, 0.0) for k in values] + [0.0] * len(references or {})
    errs = errs if any(errs) else None  # one seed: no spread, so no error bars of zero size
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(labels) + 1.5), 4))
    colors = [color(0) if k != highlight else color(3) for k in values]
    colors += ["#bbbbbb"] * len(references or {})
    bars = ax.bar(labels, heights, yerr=errs, color=colors, capsize=4)
    for bar in bars[len(values) :]:
        bar.set_hatch("//")
        bar.set_edgecolor("#666666")
    for bar, height in zip(bars, heights):
        ax.annotate(
            f"{height:.3f}",
            (bar.get_x() + bar.get_width() / 2, height),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
    if references:  # the key outside the axes, right of them: it never sits on a bar
        from matplotlib.patches import Patch

        key = [
            Patch(facecolor=color(0), label="this run"),
            Patch(facecolor="#bbbbbb", edgecolor="#666666", hatch="//", label="published"),
        ]
        ax.legend(handles=key, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return save_figure(fig, path)


LABELLED_CLASSES = 50  # above this, a confusion matrix is a heat map of bounded size


def plot_confusion_matrix(matrix, class_names: list[str], path: str | Path, title: str) -> Path:
    """Counts with each row (true class) normalised for the colour; the count printed in each cell.
    Above LABELLED_CLASSES classes, a heat map of bounded size without counts or class ticks."""
    matrix = np.asarray(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    labelled = len(class_names) <= LABELLED_CLASSES
    size = max(4.0, 0.45 * len(class_names) + 2) if labelled else 12.0
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    ax.grid(False)
    if labelled:
        for i, j in zip(*np.nonzero(matrix)):
            color = "white" if norm[i, j] > 0.5 else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=color)
        ticks = np.arange(len(class_names))
        ax.set_xticks(ticks, class_names, rotation=45 if len(class_names) > 10 else 0)
        ax.set_yticks(ticks, class_names)
    else:
        title = f"{title} ({len(class_names)} classes: row-normalised, no counts)"
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return save_figure(fig, path)
