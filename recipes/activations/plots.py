"""Every figure of the activations recipe, drawn from metrics.json and curves.npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.plotting import color, plot_band, plt, save_figure
from common.results import load_arrays

LEAD = "gradient_flow"  # the figure the gallery opens with, one per recipe
CAPTIONS = {  # figure name (or its prefix) -> what to see in it, shown under it in the gallery
    "activation_curves": "Each activation and its derivative by autodiff: where f' is near 0, "
    "gradients vanish (sigmoid and tanh far from 0, relu below 0).",
    "learning_curves": "Training loss and validation accuracy per epoch, mean and spread over seeds: "
    "which activations learn fastest on this data set, and which stall.",
    "final_accuracy": "Test accuracy by activation (mean and std over seeds), linear as the control: "
    "the gap above linear is what the non-linearity buys.",
    "gradient_flow": "The gradient norm of each hidden layer's kernel in a deep net, input side first: "
    "a line falling towards the input is a vanishing gradient.",
}


def style(i: int) -> dict:
    """Twelve lines need more than ten colours: the next ones are dashed."""
    return {"color": color(i), "linestyle": "-" if i < 10 else "--"}


def grid(count: int, columns: int = 4, size: tuple[float, float] = (3.2, 2.6), **shared):
    """A figure of `count` small panels, `columns` a row, the unused ones hidden."""
    rows = -(-count // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(size[0] * columns, size[1] * rows + 0.6), squeeze=False, **shared
    )
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_activation_curves(out_dir: Path) -> None:
    """Small multiples: one panel per activation, f and its derivative, the axes shared."""
    arrays = load_arrays(out_dir, "curves")
    names = [str(name) for name in arrays["names"]]
    fig, panels = grid(len(names), sharex=True, sharey=True)
    for i, (ax, name, (f, df)) in enumerate(zip(panels, names, arrays["values"])):
        ax.plot(arrays["x"], f, color=color(i), label="f(x)")
        ax.plot(arrays["x"], df, color="#333333", linestyle="--", label="f'(x), autodiff")
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.set(title=name, ylim=(-2, 3))
    panels[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Each activation f and its derivative f' (autodiff on the Keras activation)")
    save_figure(fig, out_dir / "activation_curves.png")


PER_PANEL = 4  # activations drawn on one axis: more and their bands hide each other


def plot_learning(dataset: str, results: dict, out_dir: Path) -> None:
    """Small multiples: a row of (training loss, validation accuracy) per group of PER_PANEL
    activations, the axes shared, so every curve can be followed and rows compared."""
    names = list(results)
    groups = [names[i : i + PER_PANEL] for i in range(0, len(names), PER_PANEL)]
    fig, axes = plt.subplots(
        len(groups), 2, figsize=(12, 3.2 * len(groups) + 0.6), squeeze=False, sharex=True, sharey="col"
    )
    for row, group in zip(axes, groups):
        for name in group:
            s, history = style(names.index(name)), results[name]["history"]
            plot_band(row[0], history["loss"], name, s["color"], s["linestyle"], log=True)
            plot_band(row[1], history["val_accuracy"], name, s["color"], s["linestyle"])
        row[0].set(yscale="log", ylabel="training loss")
        row[1].set(ylabel="validation accuracy")
        row[1].legend(loc="lower right", fontsize=8, ncol=2)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    seeds = len(next(iter(results.values()))["per_seed"])
    fig.suptitle(f"{dataset}: mean and spread over {seeds} seed(s) (loss: geometric)")
    save_figure(fig, out_dir / f"learning_curves_{dataset}.png")


def plot_final_accuracy(metrics: dict, datasets: list[str], out_dir: Path) -> None:
    results = metrics["results"]
    names = list(results[datasets[0]])
    width = 0.8 / len(datasets)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(names) + 2), 4.5))
    for k, dataset in enumerate(datasets):
        x = np.arange(len(names)) + (k - (len(datasets) - 1) / 2) * width
        means = [results[dataset][n]["test_accuracy"] for n in names]
        stds = [results[dataset][n]["test_accuracy_std"] for n in names]
        ax.bar(x, means, width, yerr=stds, capsize=3, color=color(k), label=dataset)
    papers = [r for r in metrics["references"] if r["name"].endswith("(MNIST-1D paper)")]
    for r, linestyle in zip(papers, (":", "--", "-.")):  # named in the key, never written on a bar
        label = f"MNIST-1D paper: {r['name'].split(' (')[0]} ({r['value']:.2f})"
        ax.axhline(r["value"], color="#555555", linestyle=linestyle, linewidth=1, label=label)
    ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
    ax.set(ylabel="test accuracy", ylim=(0, 1.05), title="Test accuracy by activation (mean ± std)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the axes: off the bars
    save_figure(fig, out_dir / "final_accuracy.png")


def plot_gradient_flow(metrics: dict, out_dir: Path) -> None:
    """Small multiples: one panel per activation, its layers' gradient norms at initialisation
    (Glorot, and the run's init) and after one epoch, on one shared log scale."""
    flow = metrics["results"]["gradient_flow"]
    moments = (
        ("init_glorot", "init, Glorot for all", ":"),
        ("init", f"init, {metrics['args']['init']}", "--"),
        ("epoch1", "after one epoch", "-"),
    )
    fig, panels = grid(len(flow), sharex=True, sharey=True)
    for i, (ax, (name, r)) in enumerate(zip(panels, flow.items())):
        for key, label, linestyle in moments:
            norms = r["layer_grad_norms"][key]
            ax.plot(
                np.arange(1, len(norms) + 1),
                norms,
                marker="o",
                markersize=2.5,
                label=label,
                color=color(i),
                linestyle=linestyle,
            )
        ax.set(title=name, yscale="log")
    panels[0].legend(loc="lower right", fontsize=7)
    args, data = metrics["args"], metrics["results"].get("gradient_flow_dataset", "?")
    fig.suptitle(  # which network, on which data
        f"Gradient flow: an MLP of {args['depth']} hidden layers of {args['units']} units, on {data}"
    )
    fig.supxlabel("hidden layer (input side first)")
    fig.supylabel("gradient norm of the layer's kernel")
    save_figure(fig, out_dir / "gradient_flow.png")


def plot(metrics: dict, out_dir) -> None:
    """Every figure from metrics.json and curves.npz."""
    out_dir = Path(out_dir)
    datasets = sorted(metrics["args"]["datasets"])  # digits before mnist1d, whatever the flag's order
    plot_activation_curves(out_dir)
    for dataset in datasets:
        plot_learning(dataset, metrics["results"][dataset], out_dir)
    plot_final_accuracy(metrics, datasets, out_dir)
    plot_gradient_flow(metrics, out_dir)
