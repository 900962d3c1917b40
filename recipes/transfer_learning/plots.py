"""The transfer_learning figures, drawn from metrics.json (and examples.npz beside it) alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.results import load_arrays

LEAD = "accuracy_vs_labels"  # the figure the gallery opens with, one per recipe
CAPTIONS = {  # figure name (or its prefix) -> what to see in it, shown under it in the gallery
    "accuracy_vs_labels": "Target test accuracy against labelled examples per class for each way of "
    "reusing the source network, beside training from scratch: transfer pays where a curve is above "
    "scratch.",
    "anb_layers": "AnB-n: the first n feature blocks copied from the source and frozen, the rest "
    "trained anew: where accuracy drops, the copied features stop fitting the target.",
    "source_vs_target_examples": "An example of each of the first classes of the source task and of "
    "the target task.",
}


def example_arrays(source, target, per_task: int = 5) -> dict:
    """The first example of each of the first few classes of each task, for examples.npz."""

    def first_of_each(x, y):
        classes = np.unique(y)[:per_task]
        return x[[np.flatnonzero(y == c)[0] for c in classes]], classes

    source_x, source_y = first_of_each(source.x_test, source.y_test)
    target_x, target_y = first_of_each(target.x_test, target.y_test)
    return {"source_x": source_x, "source_y": source_y, "target_x": target_x, "target_y": target_y}


# what each way of reusing the source is, as the legends say it
MODE_LABELS = {
    "scratch": "scratch: fresh weights",
    "frozen": "frozen: source blocks frozen, new head",
    "finetune": "finetune: then blocks unfrozen, lr/10",
    "full": "full: blocks and head copied, all tuned",
}


def plot(metrics: dict, out_dir) -> None:
    """accuracy_vs_labels.png, anb_layers.png and source_vs_target_examples.png."""
    import matplotlib.pyplot as plt

    from common.plotting import color, save_figure

    out_dir = Path(out_dir)
    results = metrics["results"]
    scenario = results["scenario"]
    budgets = results["labels_per_class"]
    x = [results["all_per_class"] if k == "all" else float(k) for k in budgets]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (mode, per_k) in enumerate(results["curves"].items()):
        mean = np.array([per_k[k]["test_accuracy"] for k in budgets])
        std = np.array([per_k[k]["test_accuracy_std"] for k in budgets])
        ax.plot(x, mean, marker="o", color=color(i), label=MODE_LABELS.get(mode, mode))
        ax.fill_between(x, mean - std, mean + std, color=color(i), alpha=0.2, linewidth=0)
    if "zero_shot_target_accuracy" in results:
        zero_shot = results["zero_shot_target_accuracy"]
        ax.axhline(zero_shot, color="#666666", linestyle="--", label="source model, no target labels")
    ax.axhline(1 / len(results["target"]["classes"]), color="#aaaaaa", linestyle=":", label="chance")
    ax.set_xscale("log")
    ax.set_xticks(x, [f"all\n({v:.0f})" if k == "all" else k for k, v in zip(budgets, x)])
    ax.minorticks_off()
    ax.set_xlabel("labelled target examples per class")
    ax.set_ylabel("target test accuracy")
    ax.set_ylim(0, 1.02)
    seeds = len(next(iter(results["curves"].values()))[budgets[0]]["per_seed"])
    route = f"{results['source']['name']} -> {results['target']['name']}"
    first = metrics["args"]["seed"]
    runs = f"seeds {first}-{first + seeds - 1}" if seeds > 1 else f"seed {first}"
    which = f"mean and spread over {seeds} training run(s), {runs}"
    if "shift_parameters" in results:  # the seed in the target's name is its data's, not a run's
        which = f"target data generated with seed {results['shift_parameters']['seed']}; {which}"
    ax.set_title(f"{scenario}: {route}\n{which}")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    save_figure(fig, out_dir / "accuracy_vs_labels.png")

    anb = results["anb"]
    n = [int(key) for key in anb]
    fig, ax = plt.subplots(figsize=(6, 4))
    mean = [anb[str(i)]["test_accuracy"] for i in n]
    std = [anb[str(i)]["test_accuracy_std"] for i in n]
    ax.errorbar(n, mean, yerr=std, marker="o", capsize=4, color=color(0), label="AnB-n")
    for i, (mode, per_k) in enumerate(results["curves"].items()):
        k = results["anb_labels_per_class"]
        if mode in ("scratch", "finetune") and k in per_k:
            label = MODE_LABELS.get(mode, mode)
            ax.axhline(per_k[k]["test_accuracy"], color=color(i), linestyle="--", label=label)
    ax.set_xticks(n)
    ax.set_xlabel("n: feature blocks copied from the source and frozen (the rest re-initialised)")
    ax.set_ylabel("target test accuracy")
    ax.set_title(f"AnB-n ({scenario}), {results['anb_labels_per_class']} labels per class")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    save_figure(fig, out_dir / "anb_layers.png")

    arrays = load_arrays(out_dir, "examples")
    tasks = [("source", results["source"]), ("target", results["target"])]
    cols = len(arrays["source_x"])
    fig, axes = plt.subplots(2, cols, figsize=(2.0 * cols, 4.2), squeeze=False)
    for row, (role, task) in enumerate(tasks):
        for col, (xs, ys) in enumerate(zip(arrays[f"{role}_x"], arrays[f"{role}_y"])):
            ax = axes[row, col]
            if results["dataset"] == "digits":
                ax.imshow(xs.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
                ax.axis("off")
            else:
                ax.plot(xs, np.arange(len(xs)), color=color(row))
                ax.set_xticks([])
                ax.set_yticks([])
            ax.set_title(f"{role}: {task['classes'][int(ys)]}", fontsize=8)
    descriptions = [f"{role}: {task['description']}" for role, task in tasks]
    fig.suptitle("\n".join(descriptions), fontsize=8, y=1.0)
    fig.tight_layout(rect=(0, 0, 1, 0.9))  # the panels' titles below the figure's two lines
    save_figure(fig, out_dir / "source_vs_target_examples.png")
