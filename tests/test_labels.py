"""Labels and categories as values: one order in every process, numbers compared as numbers, a
missing value never a class, and a class of one example refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common import data
from common.errors import UsageError
from tests.conftest import ROOT


def table(tmp_path, labels, colours=None, name="t.csv") -> str:
    colours = colours or ["red", "blue"] * (len(labels) // 2 + 1)
    rows = [f"{i % 5},{c},{y}" for i, (c, y) in enumerate(zip(colours, labels))]
    path = tmp_path / name
    path.write_text("size,colour,label\n" + "\n".join(rows) + "\n")
    return str(path)


ORDER = """
import json, sys
from common import data
x, y, classes, features, columns = data.load_csv_table(sys.argv[1], "label")
print(json.dumps({"classes": classes, "colours": columns[1]["values"], "y": y.tolist()}))
"""


def test_every_order_derived_from_data_is_the_same_under_any_hash_seed(tmp_path):
    """Class and category orders once came from a set's order where a text (`nan`) compared false
    with everything: two processes, two hash seeds, two class orders. Now the order is total."""
    colours = ["nan", "b", "NaN", "a", "1", "null text", "b", "a", "nan", "1"] * 2
    labels = ["b", "10", "2", "a", "1.5", "b", "10", "2", "a", "1.5"] * 2
    path = table(tmp_path, labels, colours)
    seen = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-c", ORDER, path], capture_output=True, text=True, env=env, check=True
        )
        seen.append(json.loads(done.stdout.splitlines()[-1]))  # after the one-hot line
    assert seen[0] == seen[1] == seen[2]
    assert seen[0]["classes"] == ["1.5", "2", "10", "a", "b"]  # numbers by value, then texts
    assert seen[0]["colours"] == ["1", "NaN", "a", "b", "nan", "null text"]


@pytest.mark.parametrize("missing", ["nan", "NaN", "NA", "null", "NULL", "None", "<NA>", "n/a", "inf"])
def test_a_label_pandas_writes_for_a_missing_value_is_refused_as_an_empty_cell_is(tmp_path, missing):
    path = table(tmp_path, ["0", "1", missing, "1", "0", "1"])
    with pytest.raises(UsageError, match=f"line 4: target 'label' has no value \\({missing!r}\\)"):
        data.load_csv_table(path, "label")
    np.savez(tmp_path / "y.npz", x=np.zeros((6, 2)), y=np.array(["0", "1", missing, "1", "0", "1"]))
    with pytest.raises(UsageError, match="y has no label for example 2"):
        data.read_labelled_npz(f"npz:{tmp_path / 'y.npz'}")


def test_numeric_labels_are_compared_as_numbers(tmp_path):
    """`1` and `1.0` beside `2` were three classes, and a model right on every row scored 0.75."""
    path = table(tmp_path, ["1", "1.0", "2", "2.00", "01", "2", "1", "+2"])
    _, y, classes, _, _ = data.load_csv_table(path, "label")
    assert classes == ["1", "2"] and y.tolist() == [0, 0, 1, 1, 0, 1, 0, 1]
    np.savez(tmp_path / "y.npz", x=np.zeros((6, 2)), y=np.array([1.0, 2.0, 1.0, 2.0, 1.0, 2.0]))
    assert data.read_labelled_npz(f"npz:{tmp_path / 'y.npz'}")[2] == ["1", "2"]


def test_a_streams_labels_are_compared_as_numbers_too(tmp_path):
    from recipes.online_learning.streams import load_csv_stream

    path = table(tmp_path, ["1", "1.0", "2", "2.0", "1", "2"])
    stream = load_csv_stream(path, "label", None, 100)
    assert stream.classes == ["1", "2"]
    assert [label for _, label in stream.records] == ["1", "1", "2", "2", "1", "2"]
    assert load_csv_stream(path, "label", "2.0,1", 100).classes == ["2", "1"]  # --classes as given


def test_a_class_with_one_example_is_refused_naming_it(tmp_path):
    """Checked as an average once: 10 examples of `a`, 10 of `b` and one `c` passed."""
    path = table(tmp_path, ["a"] * 10 + ["b"] * 10 + ["c"])
    with pytest.raises(UsageError, match=r"1 of its 3 classes have one example \('c'\)"):
        data.load_csv_table(path, "label")
