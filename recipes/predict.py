"""`python -m recipes predict MODEL.keras INPUT`: a prediction per row of INPUT by a model a run kept.

The model's card (MODEL.json beside it, written by the run) says what the model takes and what its
outputs mean; the rows are read by `common.rawinput.read_inputs` (a CSV for a model of table columns
or numbers, an `.npz` with an array `x` for arrays and sequences), and each row's class is printed with
its probability, tab-separated, in the order of the rows. A file that does not fit the model (a missing
column, a text the model never saw, rows of another shape) is refused with one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from common.errors import UsageError

PROG = "python -m recipes predict"


def load_card(model_path: Path) -> dict:
    if model_path.suffix != ".keras" or not model_path.is_file():
        raise UsageError(f"{model_path}: not a .keras file a run kept (outputs/<recipe>/models/)")
    card_path = model_path.with_suffix(".json")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{card_path}: the model's card cannot be read ({error})") from None
    if not isinstance(card, dict) or not isinstance(card.get("classes"), list):
        raise UsageError(f"{card_path}: not a model card (it names no classes)")
    return card


def predict(model_path: str, input_path: str) -> int:
    try:
        card = load_card(Path(model_path))
        from common.rawinput import as_tensors, read_inputs

        inputs = read_inputs(card, input_path)
        from common.device import import_tensorflow

        import_tensorflow()
        import keras

        try:  # safe mode stays on: a model file runs no code of its own
            model = keras.models.load_model(model_path)
        except Exception as error:  # a damaged or foreign file: Keras's own reason, on one line
            reason = " ".join(str(error).split())[:200]
            raise UsageError(f"{model_path}: cannot load it ({reason})") from None
        outputs = np.asarray(model.predict(as_tensors(inputs), verbose=0), np.float64)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    classes = card["classes"]
    if outputs.ndim != 2 or outputs.shape[1] != len(classes):
        print(
            f"{PROG}: error: {model_path} gives {outputs.shape[1:]} outputs per row for "
            f"{len(classes)} classes",
            file=sys.stderr,
        )
        return 2
    if card.get("output") == "logits":  # the online learner's network ends in logits
        outputs = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        outputs /= outputs.sum(axis=1, keepdims=True)
    for row in outputs:
        print(f"{classes[int(row.argmax())]}\t{row.max():.4f}")
    return 0
