"""The pretrained source model on disk: its weights and, beside them, the architecture and task they
were trained for, so `--pretrained` can refuse a file that does not fit the run."""

from __future__ import annotations

import json
from pathlib import Path

from common.cli import UsageError
from common.results import atomic_write_text, atomic_write_with
from recipes.transfer_learning.models import (
    TransferError,
    build_model,
    copy_weights,
    weighted_layer_names,
)

WEIGHTS_FILE = "pretrained.weights.h5"
ARCHITECTURE_FILE = "pretrained.architecture.json"


def architecture_path(weights_path: Path) -> Path:
    return weights_path.with_name(weights_path.name[: -len(".weights.h5")] + ".architecture.json")


def source_task(args) -> dict:
    """What the source model was trained on; a reused model must have learned the same task."""
    task = {"scenario": args.scenario, "dataset": args.dataset}
    if args.scenario == "split":
        task["source_classes"] = list(args.source_classes)
    return task


def check_path(path: Path) -> None:
    """A --pretrained path names a .weights.h5 file with its architecture beside it."""
    if not path.is_file():
        raise UsageError(f"--pretrained: no such file: {path}")
    if not path.name.endswith(".weights.h5"):
        raise UsageError(f"--pretrained: expected a .weights.h5 file, got {path.name}")
    if not architecture_path(path).is_file():
        raise UsageError(f"--pretrained: no {architecture_path(path).name} beside {path}")


def save_pretrained(model, arch: dict, args, out_dir: Path) -> None:
    """pretrained.weights.h5 and its architecture, each through a temporary file and a rename."""
    atomic_write_with(out_dir / WEIGHTS_FILE, lambda tmp: model.save_weights(tmp, overwrite=True))
    text = json.dumps({"architecture": arch, "task": source_task(args)}, indent=2) + "\n"
    atomic_write_text(out_dir / ARCHITECTURE_FILE, text)


def load_pretrained(path: Path, arch: dict, args):
    """A saved source model, checked against the one this run needs; UsageError when it does not fit."""
    try:
        saved = json.loads(architecture_path(path).read_text(encoding="utf-8"))
        saved_arch, saved_task = saved["architecture"], saved["task"]
        model = build_model(saved_arch)
    except Exception as error:  # not JSON, missing keys, an architecture we cannot build
        raise UsageError(
            f"--pretrained: cannot read {architecture_path(path)} ({type(error).__name__}: {error})"
        ) from None
    try:
        model.load_weights(path)
    except Exception as error:  # not HDF5, truncated, another model's weights
        message = " ".join(str(error).split())[:300]
        raise UsageError(
            f"--pretrained: cannot load {path} ({type(error).__name__}: {message})"
        ) from None
    if saved_task != source_task(args):
        raise UsageError(f"--pretrained: {path} was trained for {saved_task}, this run needs "
                         f"{source_task(args)}")  # fmt: skip
    expected = build_model(arch)
    try:
        copy_weights(model, expected, weighted_layer_names(expected))
    except TransferError as error:
        raise UsageError(f"--pretrained: {path} does not fit this run's source model: {error}") from None
    return expected
