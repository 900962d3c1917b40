"""Smoke, determinism, reload and bad-input tests of `python -m recipes.mlp_classifier`."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from recipes import mlp_classifier
from tests.conftest import assert_bad_input, assert_outputs_contract, assert_png
from tests.conftest import without_timings as shared_without_timings

NAME = "mlp_classifier"
FIGURES = ("learning_curves", "confusion_matrix", "comparison", "misclassified", "first_layer_weights")


def test_quick_run_writes_the_outputs_contract(quick_outputs):
    metrics = assert_outputs_contract(quick_outputs.folder(NAME), NAME, figures=FIGURES)
    results = metrics["results"]
    for key in (
        "test_accuracy",
        "test_accuracy_std",
        "per_seed",
        "per_class",
        "confusion_matrix",
        "baselines",
        "train_seconds",
        "params",
    ):
        assert key in results, key
    assert [list(record)[0] for record in results["per_seed"]] == ["seed"]  # --quick: one seed
    assert 0 <= results["test_accuracy"] <= 1  # a smoke run's number (one epoch): no result
    assert set(results["baselines"]) == {"sklearn_mlp", "logistic_regression", "numpy_mlp"}
    for baseline in results["baselines"].values():
        assert baseline["test_accuracy"] > 0.2 and baseline["fit_seconds"] >= 0  # chance: 0.1
    assert np.sum(results["confusion_matrix"]) == results["sizes"]["test"]
    assert set(results["per_class"]) == {str(d) for d in range(10)}
    assert metrics["references"][0]["value"] == 0.969


def test_saved_model_reproduces_what_the_run_scored(quick_outputs):
    """models/mlp.keras, reloaded, predicts the run's own test split exactly as the first seed's
    model did: the same test accuracy and the same confusion matrix as metrics.json records."""
    import keras
    from sklearn.metrics import confusion_matrix

    out, metrics = quick_outputs.folder(NAME), quick_outputs.metrics(NAME)
    results = metrics["results"]
    split = mlp_classifier.load_data(argparse.Namespace(**metrics["args"]))  # the same --quick split
    assert len(split.x_test) == results["sizes"]["test"]
    assert results["models"]["models/mlp.keras"]["seed"] == 0
    assert results["models"]["models/mlp.keras"]["classes"] == split.class_names
    model = keras.saving.load_model(out / "models" / "mlp.keras")
    y_pred = model.predict(split.x_test, verbose=0).argmax(axis=1)
    matrix = confusion_matrix(split.y_test, y_pred, labels=range(split.num_classes))
    assert matrix.tolist() == results["confusion_matrix"]
    # Keras scores accuracy in float32: correct / total
    correct, total = np.float32((y_pred == split.y_test).sum()), np.float32(len(y_pred))
    assert float(correct / total) == results["per_seed"][0]["test_accuracy"]


def without_timings(value):
    """Results without the `*_seconds` wall-clock figures."""
    return shared_without_timings(value, lambda key: key.endswith("_seconds"))


def test_same_seed_gives_identical_results(quick_outputs, tmp_path):
    first = quick_outputs.metrics(NAME)
    assert mlp_classifier.main(["--quick", "--output-dir", str(tmp_path)]) == 0
    second = json.loads((tmp_path / "metrics.json").read_text())
    assert without_timings(second["results"]) == without_timings(first["results"])


def test_plot_redraws_every_figure_from_metrics_alone(quick_outputs, tmp_path):
    import shutil

    out = quick_outputs.folder(NAME)
    for name in ("misclassified.npz", "first_layer_weights.npz"):
        shutil.copy(out / name, tmp_path / name)
    mlp_classifier.plot(quick_outputs.metrics(NAME), tmp_path)
    for name in FIGURES:
        assert_png(tmp_path / f"{name}.png")


def test_mnist1d_signal_shifts_and_its_references(tmp_path):
    assert mlp_classifier.main(["--quick", "--dataset", "mnist1d", "--output-dir", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    results = metrics["results"]
    assert results["augmented"] is True and results["sizes"]["test"] == 1000
    assert 0 <= results["test_accuracy"] <= 1  # a smoke run's number (one epoch): no result
    assert [r["value"] for r in metrics["references"]] == [0.32, 0.68, 0.94]
    assert not (tmp_path / "misclassified.png").exists()  # a signal is not drawn as an image


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    """One quick XOR run with --tensorboard, shared by the XOR and the TensorBoard tests."""
    out = tmp_path_factory.mktemp("xor") / "out"
    argv = ["--quick", "--dataset", "xor", "--tensorboard", "--output-dir", str(out)]
    assert mlp_classifier.main(argv) == 0
    return out


def test_xor_and_user_csv_run(xor_run, tmp_path):
    assert json.loads((xor_run / "metrics.json").read_text())["results"]["dataset"] == "xor"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    label = np.where(x[:, 0] + x[:, 1] > 0, "pos", "neg")
    colour = np.where(x[:, 2] > 0, "red", "blue")  # a text column: one-hot encoded
    lines = ["f1,f2,colour,kind"] + [
        f"{a:.4f},{b:.4f},{c},{k}" for (a, b, _), c, k in zip(x, colour, label)
    ]
    (tmp_path / "table.csv").write_text("\n".join(lines) + "\n")
    argv = ["--quick", "--dataset", f"csv:{tmp_path / 'table.csv'}", "--target", "kind"]
    assert mlp_classifier.main([*argv, "--output-dir", str(tmp_path / "c")]) == 0
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert metrics["results"]["class_names"] == ["neg", "pos"]
    features = metrics["results"]["models"]["models/mlp.keras"]["features"]
    assert features == ["f1", "f2", "colour=blue", "colour=red"]
    assert not (tmp_path / "c" / "misclassified.png").exists()  # a table has no images to draw


def test_tensorboard_flag_writes_event_files(xor_run):
    events = list((xor_run / "logs").rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} == {"train", "validation"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--seeds", "-1"], "--seeds: must be at least 1, got -1"),
        (["--dataset", "cifar"], "unknown data set 'cifar'"),
        (["--dataset", "csv:{tmp}/none.csv", "--target", "y"], "no such file"),
        (["--dataset", "csv:{tmp}/empty.csv", "--target", "y"], "is empty"),
        (["--dataset", "csv:{tmp}/text.csv", "--target", "y"], "60 distinct values, too many"),
        (["--dataset", "csv:{tmp}/text.csv", "--target", "z"], "has no column 'z'"),
        (["--dropout", "1.5"], "--dropout: must be in [0, 1)"),
        # issue 28: a label leak, a missing label, a value float32 training cannot hold
        (["--dataset", "csv:{tmp}/twice.csv", "--target", "y"], "column 'y' appears twice"),
        (["--dataset", "csv:{tmp}/nolabel.csv", "--target", "y"], "line 3: target 'y' has no value"),
        (
            ["--dataset", "csv:{tmp}/huge.csv", "--target", "y"],
            "line 3: column 'a' holds '3e38', beyond",
        ),
        # issue 41: an infinite step size trained to NaN and reported accuracy 0.333
        (["--learning-rate", "inf"], "--learning-rate: expected a finite number, got 'inf'"),
        (["--hidden", "100000000000"], "of memory"),  # the network cannot fit: before any weight
        (
            ["--seed", "4294967296"],
            "--seed: must be between 0 and 2147483647",
        ),  # once sklearn's traceback
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, message):
    rows = "".join(f"{i},{i % 2}\n" for i in range(20))
    (tmp_path / "twice.csv").write_text("a,y,y\n" + "".join(f"{i},{i % 2},{i % 2}\n" for i in range(20)))
    (tmp_path / "nolabel.csv").write_text("a,y\n1,0\n2,\n" + rows)
    (tmp_path / "huge.csv").write_text("a,y\n1,0\n3e38,1\n" + rows)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "text.csv").write_text("a,y\n" + "".join(f"t{i},{i % 2}\n" for i in range(60)))
    out = tmp_path / "out"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert_bad_input(NAME, argv, message, out)


def test_a_diverged_training_stops_the_run_with_one_line_and_claims_no_number(tmp_path):
    """A step size that sends the loss to NaN: exit 2 and one line naming the stage and the epoch;
    no metrics.json, no kept model (once: exit 0 and a test accuracy from the NaN-trained model)."""
    import contextlib
    import io

    from tests.conftest import error_lines

    out, stderr = tmp_path / "out", io.StringIO()
    argv = ["--quick", "--dataset", "xor", "--epochs", "3", "--learning-rate", "1e30"]
    with contextlib.redirect_stderr(stderr):
        code = mlp_classifier.main([*argv, "--output-dir", str(out)])
    lines = error_lines(stderr.getvalue())
    assert code == 2 and len(lines) == 1, stderr.getvalue()
    assert re.search(
        r"stage seed_0: the training loss is nan at epoch \d of 3: the training diverged", lines[0]
    )
    assert not (out / "metrics.json").exists() and not (out / "models").exists()
