"""Smoke, determinism, reload and bad-input tests of `python -m recipes.mlp_classifier`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recipes import mlp_classifier
from tests.conftest import assert_bad_input, assert_finite_numbers, assert_png, run_cli
from tests.conftest import without_timings as shared_without_timings

FIGURES = ("learning_curves", "confusion_matrix", "comparison", "misclassified", "first_layer_weights")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp") / "out"
    assert mlp_classifier.main(["--quick", "--output-dir", str(out)]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_quick_run_writes_the_outputs_contract(quick_run):
    out, metrics = quick_run
    assert list(metrics) == [
        "recipe", "version", "created", "duration_s", "args", "environment", "results", "references",
    ]  # fmt: skip
    assert metrics["recipe"] == "mlp_classifier" and metrics["args"]["quick"] is True
    results = metrics["results"]
    for key in ("test_accuracy", "test_accuracy_std", "per_seed", "per_class", "confusion_matrix",
                "baselines", "train_seconds", "params"):  # fmt: skip
        assert key in results, key
    assert_finite_numbers(results)
    assert results["test_accuracy"] > 0.5  # ten classes: chance is 0.1
    assert set(results["baselines"]) == {"sklearn_mlp", "logistic_regression", "numpy_mlp"}
    for baseline in results["baselines"].values():
        assert baseline["test_accuracy"] > 0.5 and baseline["fit_seconds"] >= 0
    assert np.sum(results["confusion_matrix"]) == results["sizes"]["test"]
    assert set(results["per_class"]) == {str(d) for d in range(10)}
    assert metrics["references"][0]["value"] == 0.969 and metrics["references"][0]["source"]
    for name in FIGURES:
        assert_png(out / f"{name}.png")
    assert not list(out.glob(".*tmp")), "temporary files left behind"


def test_saved_model_reloads_with_identical_predictions(quick_run):
    import keras

    from common.data import load_digits_split

    out, metrics = quick_run
    model = keras.saving.load_model(out / "model.keras")
    x = load_digits_split().x_test
    again = keras.saving.load_model(out / "model.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))
    accuracy = float((model.predict(x, verbose=0).argmax(1) == load_digits_split().y_test).mean())
    assert accuracy == pytest.approx(metrics["results"]["per_seed"][0]["test_accuracy"], abs=1e-6)


def without_timings(value):
    """Results without the `*_seconds` wall-clock figures."""
    return shared_without_timings(value, lambda key: key.endswith("_seconds"))


def test_same_seed_gives_identical_results(quick_run, tmp_path):
    _, first = quick_run
    assert mlp_classifier.main(["--quick", "--output-dir", str(tmp_path)]) == 0
    second = json.loads((tmp_path / "metrics.json").read_text())
    assert without_timings(second["results"]) == without_timings(first["results"])


def test_plot_redraws_every_figure_from_metrics_alone(quick_run, tmp_path):
    import shutil

    out, metrics = quick_run
    for name in ("misclassified.npz", "first_layer_weights.npz"):
        shutil.copy(out / name, tmp_path / name)
    mlp_classifier.plot(metrics, tmp_path)
    for name in FIGURES:
        assert_png(tmp_path / f"{name}.png")


def test_mnist1d_signal_shifts_and_above_chance(tmp_path):
    assert mlp_classifier.main(["--quick", "--dataset", "mnist1d", "--output-dir", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    results = metrics["results"]
    assert results["augmented"] is True and results["sizes"]["test"] == 1000
    assert results["test_accuracy"] > 0.15  # chance is 0.1; two epochs on 400 sequences
    assert [r["value"] for r in metrics["references"]] == [0.32, 0.68, 0.94]
    assert not (tmp_path / "misclassified.png").exists()  # a signal is not drawn as an image


def test_xor_and_user_csv_run(tmp_path):
    assert mlp_classifier.main(["--quick", "--dataset", "xor", "--output-dir", str(tmp_path / "x")]) == 0
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    label = np.where(x[:, 0] + x[:, 1] > 0, "pos", "neg")
    lines = ["f1,f2,f3,kind"] + [f"{a:.4f},{b:.4f},{c:.4f},{k}" for (a, b, c), k in zip(x, label)]
    (tmp_path / "table.csv").write_text("\n".join(lines) + "\n")
    argv = ["--quick", "--dataset", f"csv:{tmp_path / 'table.csv'}", "--target", "kind"]
    assert mlp_classifier.main([*argv, "--output-dir", str(tmp_path / "c")]) == 0
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert metrics["results"]["class_names"] == ["neg", "pos"]
    assert not (tmp_path / "c" / "misclassified.png").exists()  # a table has no images to draw


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--seeds", "-1"], "--seeds: must be at least 1, got -1"),
        (["--dataset", "cifar"], "unknown data set 'cifar'"),
        (["--dataset", "csv:{tmp}/none.csv", "--target", "y"], "no such file"),
        (["--dataset", "csv:{tmp}/empty.csv", "--target", "y"], "is empty"),
        (["--dataset", "csv:{tmp}/text.csv", "--target", "y"], "column 'a' is not numeric"),
        (["--dataset", "csv:{tmp}/text.csv", "--target", "z"], "has no column 'z'"),
        (["--dropout", "1.5"], "--dropout: must be in [0, 1)"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, message):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "text.csv").write_text("a,y\n1,0\nabc,1\n")
    out = tmp_path / "out"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert_bad_input("mlp_classifier", argv, message, out)


def test_help_documents_every_flag():
    result = run_cli("recipes.mlp_classifier", "--help")
    assert result.returncode == 0
    flags = "--quick --epochs --seeds --output-dir --dataset --target --hidden --activation --dropout"
    for flag in [*flags.split(), "--seed ", "--l2", "--augment", "--patience", "--batch-size"]:
        assert flag in result.stdout, flag
    assert "(default: 200)" in result.stdout


def test_tensorboard_flag_writes_event_files(tmp_path):
    argv = ["--quick", "--dataset", "xor", "--tensorboard", "--output-dir", str(tmp_path)]
    assert mlp_classifier.main(argv) == 0
    events = list((tmp_path / "logs").rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} == {"train", "validation"}
