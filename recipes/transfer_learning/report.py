"""What a run reports besides its figures: the line printed for each seed, the summary over seeds,
metrics.json's results (what was measured, beside the tasks and flags it was measured on), and the
headline numbers of each default run."""

from __future__ import annotations

import numpy as np

from common.harness import DefaultRun, Headline, seed_summary
from recipes.transfer_learning.tasks import SHIFTED_MNIST1D


def describe_modes(record: dict) -> str:
    """One seed at one label budget: each mode's target test accuracy."""
    return ", ".join(f"{mode} {value:.3f}" for mode, value in record["test_accuracy"].items())


def describe_anb(record: dict) -> str:
    """One seed's AnB-n target test accuracy."""
    return f"{record['test_accuracy']:.3f}"


def accuracy_summary(records: list[dict], mode: str | None = None) -> dict:
    """The mean and spread of the seeds' test accuracy (in `mode`, for records of every mode)."""
    scores = [r["test_accuracy"] if mode is None else r["test_accuracy"][mode] for r in records]
    per_seed = [{"seed": r["seed"], "test_accuracy": s} for r, s in zip(records, scores)]
    return seed_summary(per_seed, "test_accuracy")


def results_of(
    args, source, target, pretrained, source_accuracy, learned, anb, target_seconds, zero_shot
) -> dict:
    """metrics.json's results: the tasks (their sizes and classes) and the flags that shape the
    curves, beside what was measured: the source model's `pretrained` epochs and seconds and its test
    accuracy, each mode's curve over the label budgets k (`learned`: k -> the seeds' records of
    recipe.learn_target), the AnB-n curve (`anb`: n -> the seeds' records of recipe.anb), and, for the
    shift scenario (`zero_shot` not None), the source model's accuracy on the target."""
    counts = np.bincount(target.y_pool)
    modes = list(next(iter(learned.values()))[0]["test_accuracy"])
    curves = {mode: {k: accuracy_summary(learned[k], mode) for k in learned} for mode in modes}
    last = learned[list(learned)[-1]][-1]  # the last budget's last seed
    results = {
        "scenario": args.scenario,
        "dataset": args.dataset,
        "source": {"name": source.name, "description": source.description}
        | {"classes": source.class_names, "train": len(source.x_train), "test": len(source.x_test)},
        "target": {"name": target.name, "description": target.description}
        | {"classes": target.class_names, "pool_per_class": counts.tolist()}
        | {"test": len(target.x_test)},
        "source_test_accuracy": source_accuracy,
        "labels_per_class": list(args.labels_per_class),
        "all_per_class": float(counts.mean()),
        "curves": curves,
        "anb_labels_per_class": args.anb_labels,
        "anb": {
            str(n): dict(accuracy_summary(records), copied_layers=records[-1]["copied"])
            for n, records in anb.items()
        },
        "copied_layers": last["copied"],
        "pretrained": {"reused": bool(args.pretrained), "epochs": pretrained["epochs"]},
        "steps": {k: records[-1]["steps"] for k, records in learned.items()},
        "pretrain_seconds": pretrained["seconds"],
        "target_seconds": target_seconds,
    }
    if zero_shot is not None:  # the shift scenario's own target
        results["shift_parameters"] = dict(SHIFTED_MNIST1D, seed=args.target_seed)
        results["zero_shot_target_accuracy"] = zero_shot
    return results


def headlines(scenario: str) -> tuple[Headline, ...]:
    """Fine-tuned and frozen-feature accuracy at 5 labels per class, beside training from scratch."""
    return tuple(
        Headline(
            f"{scenario}: {label}, 5 labels per class",
            f"results.curves.{mode}.5.test_accuracy",
            beside_label="from scratch",
            beside_path="results.curves.scratch.5.test_accuracy",
        )
        for mode, label in (("finetune", "fine-tuned"), ("frozen", "frozen features"))
    )


DEFAULT_RUNS = (  # what `python -m recipes` runs, and the README's numbers from each
    DefaultRun(headlines=headlines("shift")),
    DefaultRun(flags=("--scenario", "split"), subdir="split", headlines=headlines("split")),
)
