"""The pretrained source model on disk: `models/source.keras` and, beside it, `models/source.json`
with the architecture and the task it was trained for, so `--pretrained` can refuse a model that does
not fit the run."""

from __future__ import annotations

import json
from pathlib import Path

from common.errors import UsageError
from recipes.transfer_learning.models import (
    TransferError,
    build_model,
    copy_weights,
    weighted_layer_names,
)

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
    harness.save_model(model, SOURCE, seed=args.seed, architecture=arch, task=source_task(args),
                       classes=list(range(arch["classes"])), example=example)  # fmt: skip


def load_pretrained(path: Path, arch: dict, args):
    """A saved source model (`keras.models.load_model`, safe mode on), checked against the one this
    run needs; UsageError when it cannot be read or does not fit."""
    import keras

    card = path.with_suffix(".json")
    if card.is_file():
        try:
            task = json.loads(card.read_text(encoding="utf-8"))["task"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(f"--pretrained: cannot read {card} ({error})") from None
        if task != source_task(args):
            raise UsageError(f"--pretrained: {path} was trained for {task}, this run needs "
                             f"{source_task(args)}")  # fmt: skip
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # not a .keras archive, truncated, unsafe (a lambda layer)
        message = " ".join(str(error).split())[:300]
        raise UsageError(
            f"--pretrained: cannot load {path} ({type(error).__name__}: {message})"
        ) from None
    expected = build_model(arch)
    try:
        copy_weights(model, expected, weighted_layer_names(expected))
    except TransferError as error:
        raise UsageError(f"--pretrained: {path} does not fit this run's source model: {error}") from None
    return expected
