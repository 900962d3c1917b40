"""`python -m recipes predict MODEL.keras INPUT`: a prediction per row of INPUT by a model a run kept.

The model's card (MODEL.json beside it, written by the run) says what the model takes and what its
outputs mean; the rows are read by `common.rawinput.read_inputs` (a CSV for a model of table columns
or numbers, an `.npz` with an array `x` for arrays and sequences), and each row's class is printed with
its probability, tab-separated, in the order of the rows; a regression model's card names its target
instead of classes (the adding problem's), and each row's predicted value is printed. A CSV starts with
a header line naming the columns; for a model of unnamed numbers (its card names no features or
columns) the header may be left out. A file that does not fit the model (a missing column, a text the
model never saw, rows of another shape), a missing file, or a model that is not its card's, is refused
with one line. From Python, `predict_rows(MODEL, rows)` does the same for rows as you have them
(a pandas DataFrame, a list of dicts, an array).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from common.errors import UsageError


def load_card(model_path: Path) -> dict:
    """The model's card (MODEL.json beside it), or UsageError saying why there is none to read."""
    if not model_path.exists():
        raise UsageError(f"{model_path}: no such file")
    if model_path.suffix != ".keras" or not model_path.is_file():
        raise UsageError(f"{model_path}: not a .keras file a run kept (outputs/<recipe>/models/)")
    card_path = model_path.with_suffix(".json")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{card_path}: the model's card cannot be read ({error})") from None
    if not isinstance(card, dict) or not isinstance(card.get("input_shape", []), (list, type(None))):
        raise UsageError(f"{card_path}: not a model card a run writes")
    if not isinstance(card.get("classes"), list) and not isinstance(card.get("target"), str):
        raise UsageError(f"{card_path}: not a model card (it names neither classes nor a target)")
    return card


def load_model(model_path: str, card: dict):
    """The kept model, loaded in safe mode (a model file runs no code of its own), or UsageError
    when it cannot be, or when it is not the model its card describes (a file copied beside another
    model's card): its input shape and its outputs per row must be the card's."""
    from common.device import import_backend, import_tensorflow
    from common.rawinput import card_input_shape, load_keras

    import_backend()
    if card.get("columns"):  # its StringLookup layers are TensorFlow's, on any backend
        import_tensorflow()  # quietly: without TensorFlow's C++ start-up log
    model = load_keras(model_path, "")  # a damaged or foreign file: Keras's reason, on one line
    if not card.get("columns"):  # a model of columns takes a dict (common/rawinput.py)
        takes = card_input_shape(model)
        if takes != card.get("input_shape"):
            raise UsageError(
                f"{model_path}: the model takes rows of shape {takes}, its card "
                f"({Path(model_path).with_suffix('.json').name}) says {card.get('input_shape')}: "
                "not the model the card describes"
            )
    outputs = model.output_shape[-1]
    expected = len(card["classes"]) if "classes" in card else 1
    if outputs != expected:
        what = f"{expected} classes" if "classes" in card else "one value (a regression model)"
        raise UsageError(f"{model_path} gives {outputs} outputs per row; its card says {what}")
    return model


def predictions(card: dict, model, inputs) -> list:
    """Each row's (class, probability), or a regression model's value, for `inputs` as
    `common.rawinput` reads them for the model of `card`."""
    import keras

    from common.rawinput import as_tensors, encode_rows, network_of

    try:
        if card.get("columns") and keras.config.backend() != "tensorflow":  # no text tensors there
            model, inputs = network_of(model), encode_rows(inputs, card["columns"])
        outputs = np.asarray(model.predict(as_tensors(inputs), verbose=0), np.float64)
    except Exception as error:  # rows the card describes that this model cannot take
        reason = " ".join(str(error).split())[:160]
        raise UsageError(
            f"the model does not take the rows its card describes ({type(error).__name__}: "
            f"{reason}): not the model the card describes"
        ) from None
    if "classes" not in card:  # a regression model (the adding problem's): the value per row
        return [float(row[0]) for row in outputs]
    if card.get("output") == "logits":  # the online learner's network ends in logits
        outputs = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        outputs /= outputs.sum(axis=1, keepdims=True)
    return [(card["classes"][int(row.argmax())], float(row.max())) for row in outputs]


def predict_rows(model_path: str, rows) -> list:
    """Predict with a kept model from Python, on rows as you have them: a pandas DataFrame or a list
    of dicts (columns by their names, as in the CSV it was trained on), or an array of numbers.
    Returns each row's (class, probability), or a regression model's value. The same checks as
    `python -m recipes predict` (UsageError names what does not fit):

        predict_rows("outputs/mlp_classifier/models/mlp.keras", [{"pixel_0": 0.0, ...}])
    """
    from common.rawinput import rows_inputs

    card = load_card(Path(model_path))
    inputs = rows_inputs(card, rows)
    return predictions(card, load_model(model_path, card), inputs)


def predict(model_path: str, input_path: str) -> int:
    """`python -m recipes predict`: its errors are UsageErrors, turned into one line by the caller
    (`common.harness.command_main`)."""
    from common.harness import check_backend, write_stdout
    from common.rawinput import read_inputs

    check_backend()
    card = load_card(Path(model_path))
    inputs = read_inputs(card, input_path)
    rows = predictions(card, load_model(model_path, card), inputs)
    lines = [  # a class and its probability, or a regression model's value
        f"{row[0]}\t{row[1]:.4f}" if isinstance(row, tuple) else f"{row:.6g}" for row in rows
    ]
    write_stdout("".join(f"{line}\n" for line in lines))
    return 0
