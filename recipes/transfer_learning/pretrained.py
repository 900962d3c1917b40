"""The models on disk: the pretrained source model, `models/source.keras`, with `models/source.json`
beside it (the architecture and the task it was trained for, so `--pretrained` can refuse a model that
does not fit the run), and the target models a run keeps."""

from __future__ import annotations

import json
from pathlib import Path

from common.errors import UsageError

SOURCE = "source"  # models/source.keras, models/source.json


def source_task(args) -> dict:
    """What the source model was trained on; a reused model must have learned the same task."""
    task = {"scenario": args.scenario, "dataset": args.dataset}
    if args.scenario == "split":
        task["source_classes"] = list(args.source_classes)
    return task


def save_source(harness, model, arch: dict, example) -> None:
    """models/source.keras and its card (architecture, task, classes), each written atomically."""
    args = harness.args
    classes = list(range(arch["classes"]))
    task = source_task(args)
    harness.save_model(
        model, SOURCE, seed=args.seed, architecture=arch, task=task, classes=classes, example=example
    )


def save_target(harness, model, mode: str, k: str, target) -> None:
    """models/target_<mode>_k<k>.keras and its card: a target model trained on k labels per class."""
    harness.save_model(
        model,
        f"target_{mode}_k{k}",
        seed=harness.args.seed,
        labels_per_class=k,
        classes=target.class_names,
        example=target.x_test[:4],
    )


def read_saved(path: Path, args):
    """A saved source model as it is on disk (`keras.models.load_model`, safe mode on), after its card
    is checked against this run's task; UsageError when either cannot be read or does not fit.
    (recipe.load_pretrained then copies its weights into this run's network.)"""
    from common.rawinput import load_keras

    card = path.with_suffix(".json")
    if card.is_file():
        try:
            task = json.loads(card.read_text(encoding="utf-8"))["task"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(f"--pretrained: cannot read {card} ({error})") from None
        if task != source_task(args):
            needs = source_task(args)
            raise UsageError(f"--pretrained: {path} was trained for {task}, this run needs {needs}")
    return load_keras(path, "--pretrained: ", compile=False)  # a broken file: one line
