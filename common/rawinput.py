"""Saved models that take the rows a user has, and reading those rows back for a prediction.

A recipe trains on numbers: a CSV's text columns one-hot encoded by `common/data.py`, the online
learner's inputs scaled by its running mean and spread. Following Keras's advice (preprocessing inside
the model, as in keras-io's structured-data examples), the model a run keeps has that encoding in
front of the trained network, so it takes the raw rows:

- `rows_model(model, columns)`: one input per CSV column (named by `input_name`), a number as it is,
  a text looked up and one-hot encoded (`StringLookup`) exactly as the loader did, concatenated in
  the loader's order;
- `scaled_model(model, mean, std)`: a `Normalization` layer holding the learner's scaling.

`read_inputs(card, path)` reads a CSV (tabular models) or an `.npz` (arrays, sequences) into what the
model described by its card takes, or raises UsageError naming what does not fit;
`python -m recipes predict` is built on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.data import (
    check_table,
    checked_features,
    column_cells,
    is_number,
    read_csv_rows,
    read_npz_examples,
)
from common.errors import UsageError


def input_name(column: str) -> str:
    """A Keras input's name for a column (and its key in the dict the model is called with: Keras
    maps a dict's keys to the inputs of those names): `in_` and the column's name escaped, `_` as
    `__` and `/` (which Keras refuses in a name) as `_s`. One name per column (`a/b` and `a_b` stay
    two), and never the name of another layer of the model (a column named `columns` or `mlp`)."""
    return "in_" + column.replace("_", "__").replace("/", "_s")


def rows_model(model, columns: list[dict]):
    """`model` (trained on the loader's encoding of a CSV) behind that encoding: it takes a dict of
    columns, {input_name(name): (rows, 1) float32 numbers or strings} (`as_tensors` makes it)."""
    import keras

    inputs, parts = {}, []
    for i, column in enumerate(columns):
        name, values = input_name(column["name"]), column["values"]
        if values is None:
            inputs[name] = keras.Input((1,), name=name, dtype="float32")
            parts.append(inputs[name])
        else:
            inputs[name] = keras.Input((1,), name=name, dtype="string")
            lookup = keras.layers.StringLookup(
                vocabulary=list(values), num_oov_indices=0, output_mode="one_hot", name=f"lookup_{i}"
            )
            parts.append(lookup(inputs[name]))
    x = keras.layers.Concatenate(name="columns")(parts) if len(parts) > 1 else parts[0]
    return keras.Model(inputs, model(x), name=f"{model.name}_on_rows")


def scaled_model(model, mean, std):
    """`model` (trained on `(x - mean) / std`) behind that scaling, in a Normalization layer."""
    import keras

    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    inputs = keras.Input(mean.shape, name="features")
    scale = keras.layers.Normalization(mean=mean, variance=std**2, name="scaling")
    return keras.Model(inputs, model(scale(inputs)), name=f"{model.name}_on_raw")


def decode_rows(x, columns: list[dict]) -> dict:
    """Rows of the loader's encoding back to the columns they came from, as `rows_model` takes them."""
    rows, i = {}, 0
    for column in columns:
        values = column["values"]
        if values is None:
            rows[column["name"]] = np.asarray(x[:, i : i + 1], np.float32)
            i += 1
        else:
            picked = np.asarray(x[:, i : i + len(values)]).argmax(axis=1)
            rows[column["name"]] = np.array([[values[k]] for k in picked], dtype=object)
            i += len(values)
    return rows


def card_input_shape(model) -> list | None:
    """A model's input shape as its card records it (one example, without the batch): None for a
    model of named columns, whose input is a dict (`rows_model`)."""
    shape = model.input_shape
    return list(shape[1:]) if isinstance(shape, tuple) else None


def as_tensors(inputs):
    """What the model is called with: an array, or for a dict of columns (by the columns' names) a
    dict of tensors (strings included) by the model's input names (`input_name`)."""
    if not isinstance(inputs, dict):
        return np.asarray(inputs, np.float32)
    import tensorflow as tf

    return {
        input_name(name): tf.constant(v.astype(str) if v.dtype == object else v)
        for name, v in inputs.items()
    }


def read_inputs(card: dict, path: str | Path):
    """The rows of `path` as the model of `card` takes them: for a model of columns (`card["columns"]`)
    a CSV holding those columns (others are ignored); else arrays of the card's input shape, from an
    `.npz` (array `x`) or a CSV of numbers (the card's `features`, when it names them, by name)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    shape = tuple(card.get("input_shape") or ())
    if card.get("columns"):
        return _csv_columns(path, card["columns"])
    if path.suffix == ".npz":
        x = read_npz_examples(path, ("x",))["x"]
    else:
        x = _csv_numbers(path, card.get("features"))
    if tuple(x.shape[1:]) != shape:
        if x.ndim == 2 and int(np.prod(shape)) == x.shape[1]:
            x = x.reshape(-1, *shape)
        else:
            raise UsageError(
                f"{path}: rows of shape {tuple(x.shape[1:])}; the model takes rows of shape {shape}"
            )
    return x


def _table(path: Path, needed: list[str]) -> tuple[list[str], list[list[str]]]:
    """The CSV's header and rows; the header may be left out where no column is needed by name."""
    header, body = read_csv_rows(path, None, "INPUT", need_target=False, needed=tuple(needed))
    missing = [name for name in needed if name not in header]
    if missing:
        raise UsageError(
            f"{path}: no column {', '.join(map(repr, missing))} (the model reads: {', '.join(needed)})"
        )
    check_table(path, header, body)
    return header, body


def _numbers(cells: list[str], where: str) -> np.ndarray:
    try:
        return np.array([float(cell) for cell in cells], np.float64)
    except ValueError:
        bad = next(cell for cell in cells if not is_number(cell))
        raise UsageError(f"{where}: {bad!r} is not a number") from None


def _csv_numbers(path: Path, features: list[str] | None) -> np.ndarray:
    names = [str(name) for name in features or []]  # a stream's features may be numbered (SEA)
    header, body = _table(path, names)
    names = names or header
    columns = [_numbers(column_cells(path, header, body, n), f"{path}: column {n!r}") for n in names]
    return checked_features(np.stack(columns, axis=1), f"{path}: values")


def _csv_columns(path: Path, columns: list[dict]) -> dict:
    names = [column["name"] for column in columns]
    header, body = _table(path, names)
    rows = {}
    for column in columns:
        name, values = column["name"], column["values"]
        cells = column_cells(path, header, body, name)
        if values is None:
            numbers = _numbers(cells, f"{path}: column {name!r}")
            rows[name] = checked_features(numbers[:, None], f"{path}: column {name!r}")
        else:
            unknown = sorted(set(cells) - set(values))
            if unknown:
                raise UsageError(
                    f"{path}: column {name!r} has {', '.join(map(repr, unknown[:3]))}, not seen in "
                    f"training (it knows: {', '.join(values[:8])}{', ...' if len(values) > 8 else ''})"
                )
            rows[name] = np.array([[cell] for cell in cells], dtype=object)
    return rows
