"""Saved models that take the rows a user has, and reading those rows back for a prediction.

A recipe trains on numbers: a CSV's text columns one-hot encoded by `common/data.py`, the online
learner's inputs scaled by its running mean and spread. Following Keras's advice (preprocessing inside
the model, as in keras-io's structured-data examples), the model a run keeps has that encoding in
front of the trained network, so it takes the raw rows:

- `rows_model(model, columns)`: one input per CSV column (named by `input_name`), a number as it is,
  a text looked up and one-hot encoded (`StringLookup`) exactly as the loader did, concatenated in
  the loader's order;
- `scaled_model(model, mean, std)`: a `Normalization` layer holding the learner's scaling.

TensorFlow runs the `StringLookup` of a kept table model; on JAX and PyTorch, which take no text
tensors, `predict` encodes the rows as the lookup would (`encode_rows`) and calls the network inside
(`network_of`): the same numbers.

`read_inputs(card, path)` reads a CSV (tabular models) or an `.npz` (arrays, sequences) into what the
model described by its card takes, or raises UsageError naming what does not fit; `rows_inputs(card,
rows)` does the same, with the same checks, for rows in Python (a pandas DataFrame, a list of dicts,
an array). `python -m recipes predict` and `recipes.predict.predict_rows` are built on them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from common.data import checked_column, checked_features, is_number, read_npz_examples
from common.errors import UsageError
from common.tables import Table, read_csv_table


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


# what a .keras archive's config may inflate to before Keras reads it whole and parses it: a
# model's config is kilobytes (the recipes' largest is under 100 KB); a crafted one could be gigabytes
MAX_CONFIG_BYTES = 16 << 20


def load_keras(path: str | Path, what: str, **options):
    """`keras.models.load_model(path)` in safe mode (a model file runs no code of its own), after
    the archive's config is checked to be of a model's size, not read whole first; UsageError (`what`:
    how the user named the file) for a file Keras cannot load, on one line."""
    import zipfile

    import keras

    from common.augment import random_shift_layer

    random_shift_layer()  # the recipes' own layer, registered for loading

    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.filename.endswith(".json") and member.file_size > MAX_CONFIG_BYTES:
                    size = f"{member.file_size:,} bytes"
                    raise UsageError(
                        f"{what}cannot load {path}: its {member.filename} inflates to {size}, far "
                        f"beyond a model's config (at most {MAX_CONFIG_BYTES:,}); not a model a run kept"
                    )
    except (zipfile.BadZipFile, OSError) as error:
        raise UsageError(f"{what}cannot load {path}: not a .keras archive ({error})") from None
    try:
        return keras.models.load_model(path, **options)
    except Exception as error:  # truncated, unsafe (a lambda layer), another Keras's format
        reason = " ".join(str(error).split())[:300]
        raise UsageError(f"{what}cannot load {path} ({type(error).__name__}: {reason})") from None


def encode_rows(rows: dict, columns: list[dict]) -> np.ndarray:
    """Rows of columns (as `rows_model` takes them) in the loader's encoding: what the network inside
    a `rows_model` reads, a number as it is, a text one-hot by the column's values (the inverse of
    `decode_rows`)."""
    parts = []
    for column in columns:
        cells, values = rows[column["name"]], column["values"]
        if values is None:
            parts.append(np.asarray(cells, np.float32).reshape(-1, 1))
        else:
            index = {value: i for i, value in enumerate(values)}
            codes = [index[str(cell)] for cell in np.asarray(cells).reshape(-1)]
            parts.append(np.eye(len(values), dtype=np.float32)[codes])
    return np.concatenate(parts, axis=1)


def call_kept(model, inputs, columns: list[dict] | None = None):
    """A kept model called directly (eagerly) on `inputs`, as `read_inputs` reads them: on JAX and
    PyTorch, which take no text tensors, a table's model is its network inside on the rows encoded
    as its StringLookup layers would (`encode_rows`). NumPy out."""
    import keras

    if columns and keras.config.backend() != "tensorflow":
        model, inputs = network_of(model), encode_rows(inputs, columns)
    return np.asarray(keras.ops.convert_to_numpy(model(as_tensors(inputs), training=False)))


def network_of(model):
    """The trained network inside a `rows_model` (its one nested model)."""
    import keras

    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


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
    import keras

    if keras.config.backend() != "tensorflow":  # texts as NumPy strings: StringLookup reads them
        return {input_name(n): v.astype(str) if v.dtype == object else v for n, v in inputs.items()}
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
    if path.suffix == ".npz" and not card.get("columns"):
        return _shaped(read_npz_examples(path, ("x",))["x"], card, path)
    names = [column["name"] for column in card.get("columns") or []]
    names = names or [str(name) for name in card.get("features") or []]
    table = read_csv_table(path, None, "INPUT", need_target=False, needed=tuple(names))
    return _from_table(card, table)


def _from_table(card: dict, table: Table):
    """A table's rows (a CSV's, or a user's rows in Python) as the model of `card` takes them."""
    columns = card.get("columns")
    names = [c["name"] for c in columns] if columns else [str(n) for n in card.get("features") or []]
    missing = [name for name in names if name not in table.header]
    if missing:
        raise UsageError(
            f"{table.where}: no column {', '.join(map(repr, missing))} (the model reads: "
            f"{', '.join(names)})"
        )
    label = card.get("target")
    if label in table.header:  # the column the model predicts: a user may not know it is not read
        print(
            f"note: {table.where}: column {label!r} is what the model predicts; ignored",
            file=sys.stderr,
        )
    if columns:
        return _columns(table, columns)
    numbers = [_numbers(table, name) for name in names or table.header]
    return _shaped(np.stack(numbers, axis=1).astype(np.float32), card, table.where)


def _shaped(x: np.ndarray, card: dict, where) -> np.ndarray:
    """Rows of numbers in the card's input shape (a flat row of as many numbers is reshaped)."""
    shape = tuple(card.get("input_shape") or ())
    if tuple(x.shape[1:]) != shape:
        if x.ndim == 2 and int(np.prod(shape)) == x.shape[1]:
            return x.reshape(-1, *shape)
        raise UsageError(
            f"{where}: rows of shape {tuple(x.shape[1:])}; the model takes rows of shape {shape}"
        )
    return x


def rows_inputs(card: dict, rows):
    """Rows as a user has them in Python, as the model of `card` takes them, through the checks
    `read_inputs` gives a CSV: a pandas DataFrame, a list of dicts or a dict of columns (columns
    by their names, as the card's `columns` or `features` name them), or for a model of unnamed
    numbers an array of rows."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a pandas DataFrame
        rows = rows.to_dict(orient="list")
    if isinstance(rows, dict):  # columns by name
        header = [str(name) for name in rows]
        columns = [list(values) for values in rows.values()]
        if len({len(values) for values in columns}) > 1:
            raise UsageError("rows: the columns are of different lengths")
        body = [[_cell(v) for v in row] for row in zip(*columns)]
    elif isinstance(rows, (list, tuple)) and rows and all(isinstance(r, dict) for r in rows):
        header = list(dict.fromkeys(str(name) for row in rows for name in row))
        body = [[_cell(row.get(name, "")) for name in header] for row in rows]
    else:  # numbers: one row each
        try:
            x = np.asarray(rows, np.float64)
        except (TypeError, ValueError) as error:
            raise UsageError(f"rows: not a table of rows, nor an array of numbers ({error})") from None
        if x.ndim < 2:
            raise UsageError(f"rows: an array of shape {x.shape}; give one row per example")
        return _shaped(checked_features(x, "rows: values"), card, "rows")
    return _from_table(card, Table.from_rows("rows", header, body))


def _cell(value) -> str:
    """A value of a user's row as a CSV would hold it: a number as Python writes it back exactly."""
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def _numbers(table: Table, name: str) -> np.ndarray:
    """Column `name` as numbers, checked (a NaN, an infinity, a text: one line naming its line)."""
    cells = table.cells(name)
    try:
        numbers = cells.astype(np.float64)
    except ValueError:
        row = next(i for i, cell in enumerate(cells.tolist()) if not is_number(cell.decode()))
        raise UsageError(
            f"{table.where} line {table.line(row)}: column {name!r}: "
            f"{cells[row].decode('utf-8')!r} is not a number"
        ) from None
    return checked_column(numbers, table, name)


def _columns(table: Table, columns: list[dict]) -> dict:
    rows = {}
    for column in columns:
        name, values = column["name"], column["values"]
        if values is None:
            rows[name] = _numbers(table, name)[:, None].astype(np.float32)
        else:
            cells = table.cells(name)
            unknown = sorted(set(table.texts(name)) - set(values))
            if unknown:
                known = ", ".join(values[:8]) + (", ..." if len(values) > 8 else "")
                raise UsageError(
                    f"{table.where}: column {name!r} has {', '.join(map(repr, unknown[:3]))}, not seen "
                    f"in training (it knows: {known})"
                )
            rows[name] = np.array([[cell.decode("utf-8")] for cell in cells.tolist()], dtype=object)
    return rows
