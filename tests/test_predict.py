"""Saved models take the rows a user has: `python -m recipes predict MODEL INPUT`, in a fresh process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import error_lines, run_cli


def predicted(model, rows_file) -> list[str]:
    """The classes `predict` prints for each row of `rows_file` (a fresh process)."""
    result = run_cli("recipes", "predict", str(model), str(rows_file))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    for line in lines:
        name, probability = line.split("\t")
        assert 0 < float(probability) <= 1
    return [line.split("\t")[0] for line in lines]


def refused(model, rows_file, message: str) -> None:
    """`python -m recipes predict MODEL ROWS` refuses with one line and exit 2, printing nothing:
    its main in this process (the code a process runs; test_collection runs the real processes)."""
    import contextlib
    import io

    from recipes.__main__ import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["predict", str(model), str(rows_file)])
    assert code == 2 and stdout.getvalue() == "", stderr.getvalue()
    lines = error_lines(stderr.getvalue())
    assert len(lines) == 1 and message in lines[0], stderr.getvalue()
    assert lines[0].startswith("python -m recipes predict: error:")


def predicted_here(model, rows_file) -> list[str]:
    """What `python -m recipes predict MODEL ROWS` prints, one line per row: its main in this process."""
    import contextlib
    import io

    from recipes.__main__ import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["predict", str(model), str(rows_file)])
    assert code == 0, stderr.getvalue()
    lines = stdout.getvalue().strip().splitlines()
    for line in lines:  # a class and its probability, or a regression model's value
        assert "\t" not in line or 0 < float(line.split("\t")[1]) <= 1, line
    return lines


def card_classes(card: dict) -> list[str]:
    outputs = np.asarray(card["example"]["outputs"])
    return [card["classes"][i] for i in outputs.argmax(axis=1)]


@pytest.fixture(scope="module")
def csv_model(tmp_path_factory):
    """mlp_classifier on a table with a text column: its kept model takes the raw rows."""
    folder = tmp_path_factory.mktemp("csv_model")
    rng = np.random.default_rng(0)
    colour = rng.choice(["red", "blue", "green"], 240)
    size = rng.normal(size=240)
    label = np.where((size > 0) ^ (colour == "red"), "hi", "lo")
    lines = ["size,colour,label"] + [f"{s:.3f},{c},{y}" for s, c, y in zip(size, colour, label)]
    (folder / "table.csv").write_text("\n".join(lines) + "\n")
    out = folder / "out"
    argv = ["--dataset", f"csv:{folder / 'table.csv'}", "--target", "label", "--quick"]
    from recipes import mlp_classifier  # the recipe's main in this process: `predict` runs in one

    assert mlp_classifier.main([*argv, "--quiet", "--output-dir", str(out)]) == 0
    return out / "models" / "mlp.keras", folder


def test_a_model_trained_on_a_csv_with_a_text_column_predicts_raw_rows(csv_model):
    """The card's example rows, written as a user would (text as text, columns in another order,
    an extra column): `predict` in a new process gives the classes the run's model gave them."""
    model, folder = csv_model
    card = json.loads(model.with_suffix(".json").read_text())
    assert [c["name"] for c in card["columns"]] == ["size", "colour"]
    assert card["columns"][1]["values"] == ["blue", "green", "red"]  # the encoding, inside the model
    rows = card["example"]["inputs"]
    lines = ["colour,note,size"] + [f"{c[0]},x,{s[0]}" for s, c in zip(rows["size"], rows["colour"])]
    (folder / "rows.csv").write_text("\n".join(lines) + "\n")
    assert predicted(model, folder / "rows.csv") == card_classes(card)


def test_rows_that_do_not_fit_the_model_are_refused_in_one_line(csv_model):
    model, folder = csv_model
    (folder / "missing.csv").write_text("colour\nred\n")
    refused(model, folder / "missing.csv", "no column 'size' (the model reads: size, colour)")
    (folder / "unseen.csv").write_text("size,colour\n1.0,purple\n")
    refused(model, folder / "unseen.csv", "column 'colour' has 'purple', not seen in training")
    (folder / "text.csv").write_text("size,colour\nbig,red\n")
    refused(model, folder / "text.csv", "column 'size': 'big' is not a number")
    refused(folder / "none.keras", folder / "unseen.csv", "none.keras: no such file")
    refused(folder / "table.csv", folder / "unseen.csv", "not a .keras file a run kept")


def test_the_online_learners_model_scales_inside_and_takes_the_streams_values(quick_outputs, tmp_path):
    """Its running scaling is a Normalization layer in the kept model: raw feature values in, the
    classes the run's learner gave out."""
    folder = quick_outputs.folder("online_learning") / "models"
    model = sorted(folder.glob("*_keras_mlp.keras"))[0]
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["scaling"]["inside_the_model"] is True
    lines = [",".join(card["features"])]
    lines += [",".join(map(repr, row)) for row in card["example"]["inputs"]]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    lines = predicted_here(model, tmp_path / "rows.csv")  # in this process: the csv test starts one
    assert [line.split("\t")[0] for line in lines] == card_classes(card)


def test_a_sequence_model_predicts_an_npz_and_refuses_another_shape(quick_outputs, tmp_path):
    folder = quick_outputs.folder("rnn_sequence") / "models"
    model = sorted(folder.glob("mnist1d_*.keras"))[0]
    card = json.loads(model.with_suffix(".json").read_text())
    np.savez(tmp_path / "x.npz", x=np.asarray(card["example"]["inputs"], np.float32))
    lines = predicted_here(model, tmp_path / "x.npz")
    assert [line.split("\t")[0] for line in lines] == card_classes(card)
    np.savez(tmp_path / "short.npz", x=np.zeros((3, 12, 1), np.float32))
    steps = tuple(card["input_shape"])
    refused(
        model, tmp_path / "short.npz", f"rows of shape (12, 1); the model takes rows of shape {steps}"
    )


def test_a_csv_of_numbers_without_a_header_loses_no_row(quick_outputs, tmp_path):
    """A model of unnamed numbers (the MLP on digits) reads a CSV whose first line is a row as a row:
    every row predicted, the first included; a model of named features asks for the header."""
    model = quick_outputs.folder("mlp_classifier") / "models" / "mlp.keras"
    card = json.loads(model.with_suffix(".json").read_text())
    rows = [",".join(map(str, row)) for row in card["example"]["inputs"]]
    (tmp_path / "bare.csv").write_text("\n".join(rows) + "\n")
    lines = predicted_here(model, tmp_path / "bare.csv")
    assert [line.split("\t")[0] for line in lines] == card_classes(card)
    online = sorted((quick_outputs.folder("online_learning") / "models").glob("*_keras_mlp.keras"))
    card = json.loads(online[0].with_suffix(".json").read_text())
    rows = [",".join(map(repr, row)) for row in card["example"]["inputs"]]
    (tmp_path / "unnamed.csv").write_text("\n".join(rows) + "\n")
    refused(online[0], tmp_path / "unnamed.csv", "holds numbers, not a header line naming the columns")


def test_a_regression_model_a_run_keeps_predicts_its_value_per_row(quick_outputs, tmp_path):
    """The adding problem's models: each row's predicted sum, as the run's model gave it."""
    model = sorted((quick_outputs.folder("rnn_sequence") / "models").glob("adding_*.keras"))[0]
    card = json.loads(model.with_suffix(".json").read_text())
    assert "classes" not in card and card["target"]
    np.savez(tmp_path / "x.npz", x=np.asarray(card["example"]["inputs"], np.float32))
    values = [float(line) for line in predicted_here(model, tmp_path / "x.npz")]
    np.testing.assert_allclose(values, np.asarray(card["example"]["outputs"])[:, 0], rtol=1e-4)


def test_a_model_beside_another_models_card_is_refused_in_one_line(quick_outputs, tmp_path):
    """An rnn model copied beside the MLP's card: refused before it predicts, no traceback."""
    import shutil

    models = quick_outputs.folder("mlp_classifier") / "models"
    shutil.copyfile(models / "mlp.json", tmp_path / "mlp.json")
    rnn = quick_outputs.folder("rnn_sequence") / "models" / "mnist1d_simple.keras"
    shutil.copyfile(rnn, tmp_path / "mlp.keras")
    card = json.loads((models / "mlp.json").read_text())
    rows = [",".join(map(str, row)) for row in card["example"]["inputs"]]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n")
    refused(tmp_path / "mlp.keras", tmp_path / "rows.csv", "not the model the card describes")


def test_column_names_that_name_a_layer_or_collide_when_escaped_train_keep_and_predict(tmp_path):
    """Columns named `columns` and `mlp` (names of layers of the kept model) and `a/b` beside `a_b`
    (one name once `/` is replaced): the run keeps its raw-row model (once it failed saving it, after
    training, leaving a lock and a checkpoint) and `predict` gives the run's classes for them."""
    from recipes.mlp_classifier import main

    rng = np.random.default_rng(0)
    names = ["columns", "mlp", "a/b", "a_b"]
    x = rng.normal(size=(120, 4))
    lines = [",".join([*names, "label"])]
    lines += [",".join(f"{v:.3f}" for v in row) + f",{'hi' if row[0] > 0 else 'lo'}" for row in x]
    (tmp_path / "odd.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    argv = ["--dataset", f"csv:{tmp_path / 'odd.csv'}", "--target", "label", "--quick"]
    assert main([*argv, "--output-dir", str(out)]) == 0
    assert not (out / ".checkpoint").exists() and not (out / ".run.lock").exists()
    model = out / "models" / "mlp.keras"
    card = json.loads(model.with_suffix(".json").read_text())
    assert [column["name"] for column in card["columns"]] == names
    rows = card["example"]["inputs"]
    body = [",".join(str(rows[name][i][0]) for name in names) for i in range(len(rows["mlp"]))]
    (tmp_path / "rows.csv").write_text("\n".join([",".join(names), *body]) + "\n")
    lines = predicted_here(model, tmp_path / "rows.csv")
    assert [line.split("\t")[0] for line in lines] == card_classes(card)


def test_rows_in_python_predict_as_the_command_does_by_column_name(csv_model, capsys):
    """`predict_rows` on a CSV model: a list of dicts and a pandas frame, columns by their names (as
    a user has them, the label column still there), give the run's classes; the label column is
    named on stderr as ignored, and rows that do not fit are refused as `predict` refuses them."""
    import pandas as pd

    from common.errors import UsageError
    from recipes.predict import predict_rows

    model, folder = csv_model
    card = json.loads(model.with_suffix(".json").read_text())
    inputs = card["example"]["inputs"]
    rows = [
        {"colour": c[0], "size": s[0], "label": "?"} for s, c in zip(inputs["size"], inputs["colour"])
    ]
    for given in (rows, pd.DataFrame(rows)):
        predicted_rows = predict_rows(str(model), given)
        assert [name for name, _ in predicted_rows] == card_classes(card)
        assert all(0 < probability <= 1 for _, probability in predicted_rows)
    assert "column 'label' is what the model predicts; ignored" in capsys.readouterr().err
    with pytest.raises(UsageError, match="column 'colour' has 'purple', not seen in training"):
        predict_rows(str(model), [{"size": 1.0, "colour": "purple"}])
    with pytest.raises(UsageError, match="no column 'size'"):
        predict_rows(str(model), [{"colour": "red"}])


def test_a_csv_that_still_holds_the_label_column_says_so(csv_model):
    import contextlib
    import io

    from recipes.__main__ import main

    model, folder = csv_model
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        assert main(["predict", str(model), str(folder / "table.csv")]) == 0
    (line,) = error_lines(stderr.getvalue())
    assert line == f"note: {folder / 'table.csv'}: column 'label' is what the model predicts; ignored"


def test_rows_of_numbers_in_python_predict_on_a_model_of_unnamed_numbers(quick_outputs):
    from recipes.predict import predict_rows

    model = quick_outputs.folder("mlp_classifier") / "models" / "mlp.keras"
    card = json.loads(model.with_suffix(".json").read_text())
    rows = card["example"]["inputs"]  # lists of 64 numbers
    assert [name for name, _ in predict_rows(str(model), rows)] == card_classes(card)
    named = [{f"pixel_{i}": v for i, v in enumerate(row)} for row in rows]
    assert [name for name, _ in predict_rows(str(model), named)] == card_classes(card)


def test_a_model_beside_a_card_of_columns_from_another_run_is_one_line(csv_model, quick_outputs):
    """A card of CSV columns (whose shape is not checked before predicting: the model takes a dict)
    beside the online learner's model, of as many classes: once a Keras traceback from predict."""
    import shutil

    model, folder = csv_model
    online = sorted((quick_outputs.folder("online_learning") / "models").glob("*_keras_mlp.keras"))[0]
    shutil.copyfile(online, folder / "swapped.keras")
    shutil.copyfile(model.with_suffix(".json"), folder / "swapped.json")
    (folder / "rows.csv").write_text("size,colour\n1.0,red\n")
    refused(folder / "swapped.keras", folder / "rows.csv", "not the model the card describes")


@pytest.mark.parametrize("other", ["tensorflow", "jax", "torch"])
def test_a_kept_model_predicts_the_same_on_every_backend(other, csv_model, quick_outputs, tmp_path):
    """A model kept by a run on this suite's backend, loaded and run by `predict` on each backend
    (a new process each): the classes of its card, a table's model (its text columns looked up)
    and the digits MLP alike."""
    from importlib.util import find_spec

    if find_spec(other) is None:
        pytest.skip(f"{other} is not installed")
    model, folder = csv_model
    card = json.loads(model.with_suffix(".json").read_text())
    rows = card["example"]["inputs"]
    lines = ["size,colour"] + [f"{s[0]},{c[0]}" for s, c in zip(rows["size"], rows["colour"])]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    digits = quick_outputs.folder("mlp_classifier") / "models" / "mlp.keras"
    digits_card = json.loads(digits.with_suffix(".json").read_text())
    pixels = [",".join(map(str, row)) for row in digits_card["example"]["inputs"]]
    (tmp_path / "pixels.csv").write_text("\n".join(pixels) + "\n")
    for kept, given, kept_card in ((model, "rows.csv", card), (digits, "pixels.csv", digits_card)):
        result = run_cli(
            "recipes", "predict", str(kept), str(tmp_path / given), env={"KERAS_BACKEND": other}
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert [line.split("\t")[0] for line in result.stdout.splitlines()] == card_classes(kept_card)
