"""Smoke, determinism, replot, expectations and bad-input tests of `python -m recipes.rnn_sequence`,
and the adding problem's data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from common.harness import Harness
from recipes import rnn_sequence
from tests.conftest import assert_bad_input, assert_outputs_contract, assert_png, without_timings

NAME = "rnn_sequence"
FIGURES = (
    "learning_curves",
    "accuracy_vs_reference",
    "adding_mse_vs_length",
    "gradient_through_time",
    "confusion_matrix",
)


def test_quick_run_writes_the_outputs_contract(quick_outputs):
    metrics = assert_outputs_contract(quick_outputs.folder(NAME), NAME, figures=FIGURES)
    results = metrics["results"]
    assert list(results["mnist1d"]) == ["simple"]  # --quick: one cell, one epoch
    for r in results["mnist1d"].values():
        for key in ("test_accuracy", "test_accuracy_std", "per_seed", "params", "seconds_per_epoch"):
            assert key in r, key
        assert [list(record)[0] for record in r["per_seed"]] == ["seed"]  # --quick: one seed
        assert r["per_seed"][0]["test_accuracy"] == r["test_accuracy"] and r["test_accuracy_std"] == 0
        assert r["params"] > r["plain"]["params"] > 0 and r["seconds_per_epoch"] > 0
        assert len(r["history"]["loss"][0]) == 1
        assert np.sum(r["confusion_matrix"]) == 300  # every quick test sequence, once
    # a smoke run, one epoch on 300 sequences: its numbers are no result, only finite and in range
    assert all(0 <= r["test_accuracy"] <= 1 for r in results["mnist1d"].values())
    for cell, per_length in results["adding"].items():
        assert list(per_length) == ["25"], cell
        r = per_length["25"]
        # four steps of training: finite and of the targets' order (on JAX's draws 2.6 was seen)
        assert 0 < r["test_mse"] < 10 and 0.1 < r["baseline_mse"] < 0.25
    assert "checks" not in results  # the expectations are for a full run
    names = {r["name"] for r in metrics["references"]}
    assert {"CNN (MNIST-1D paper)", "GRU (MNIST-1D paper)", "predict 1 (adding problem)"} <= names


def test_gradient_through_time_covers_every_step(quick_outputs):
    results = quick_outputs.metrics(NAME)["results"]
    gradients = results["gradient_through_time"]
    assert set(gradients) == {"simple"}
    for r in gradients.values():
        for key in ("plain_init", "plain_trained", "model_trained"):
            assert len(r[key]) == 40 and all(v > 0 for v in r[key]), key
    for cell, per_length in results["adding"].items():  # the longest length: here the only one
        assert len(per_length["25"]["gradient_through_time"]) == 25, cell


def test_models_read_steps_and_keep_cudnn_settings():
    import keras

    model = rnn_sequence.recurrent_model(
        "gru", 40, 1, 10, units=8, layers=2, bidirectional=True, all_steps=True, shift=4
    )
    assert model.input_shape == (None, 40, 1)  # 40 steps of one value, not one vector of 40
    assert model.output_shape == (None, 10)
    for name in ("gru", "lstm"):
        built = rnn_sequence.recurrent_model(name, 40, 1, 10, units=8, layers=2, bidirectional=True)
        cells = [b.forward_layer for b in built.layers if isinstance(b, keras.layers.Bidirectional)]
        assert len(cells) == 2
        for layer in cells:
            assert layer.activation is keras.activations.tanh
            assert layer.recurrent_activation is keras.activations.sigmoid
            assert layer.cell.recurrent_dropout == 0 and layer.unroll is False and layer.use_bias
    plain = rnn_sequence.recurrent_model("simple", 100, 2, 1, units=8)
    assert plain.output_shape == (None, 1) and plain.layers[-1].activation is keras.activations.linear


def test_adding_problem_data():
    x, y = rnn_sequence.adding_problem(20_000, 30, seed=3)
    assert x.shape == (20_000, 30, 2) and y.shape == (20_000, 1) and x.dtype == np.float32
    markers = x[..., 1]
    assert np.all(markers[:, :15].sum(axis=1) == 1) and np.all(markers[:, 15:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(axis=1), rtol=1e-6)
    # predicting 1 gives the variance of a sum of two U[0, 1] values: 2/12 = 0.167
    assert np.mean((y - 1) ** 2) == pytest.approx(1 / 6, abs=0.01)
    again, _ = rnn_sequence.adding_problem(20_000, 30, seed=3)
    assert np.array_equal(x, again)
    with pytest.raises(ValueError, match="at least 2 steps"):
        rnn_sequence.adding_problem(10, 1)


def test_same_seed_gives_identical_results(quick_outputs, tmp_path):
    first = quick_outputs.metrics(NAME)["results"]
    assert rnn_sequence.main(["--quick", "--task", "adding", "--output-dir", str(tmp_path)]) == 0
    second = json.loads((tmp_path / "metrics.json").read_text())["results"]
    assert "mnist1d" not in second
    assert without_timings(second["adding"]) == without_timings(first["adding"])


def test_plot_redraws_every_figure_from_metrics_alone(quick_outputs, tmp_path):
    rnn_sequence.plot(quick_outputs.metrics(NAME), tmp_path)
    for name in FIGURES:
        assert_png(tmp_path / f"{name}.png")


def test_check_expectations_reports_what_was_measured(tmp_path):
    args = rnn_sequence.build_parser().parse_args(["--output-dir", str(tmp_path)])
    harness = Harness(NAME, args)
    results = {
        "mnist1d": {"simple": {"test_accuracy": 0.955}, "gru": {"test_accuracy": 0.975}},
        "adding": {
            "simple": {"100": {"test_mse": 0.17}},
            "gru": {"100": {"test_mse": 0.02}},
            "lstm": {"100": {"test_mse": 0.17}},  # solves it on some seeds only: not checked
        },
    }
    rnn_sequence.check_expectations(harness, results)
    checks = harness.checks
    assert checks["mnist1d_simple_test_accuracy"] == {
        "value": 0.955,
        "expected": ">= 0.96",
        "holds": False,
    }
    assert checks["mnist1d_gru_test_accuracy"]["holds"] is True
    assert checks["adding_T100_simple_test_mse"]["holds"] is True
    assert checks["adding_T100_gru_test_mse"] == {"value": 0.02, "expected": "< 0.01", "holds": False}
    assert "adding_T100_lstm_test_mse" not in checks
    # without T=100 among the lengths, or in a smoke run, only what can be checked is
    for argv in (["--lengths", "25,50"], ["--quick"]):
        args = rnn_sequence.build_parser().parse_args([*argv, "--output-dir", str(tmp_path)])
        harness = Harness(NAME, args)
        rnn_sequence.check_expectations(harness, results)
        expected = (
            [] if "--quick" in argv else ["mnist1d_simple_test_accuracy", "mnist1d_gru_test_accuracy"]
        )
        assert list(harness.checks) == expected


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--cells", "simple,transformer"], "unknown transformer; valid: simple, gru, lstm"),
        (["--lengths", "25,1"], "--lengths: a length must be at least 2"),
        (["--lengths", "ten"], "--lengths: expected an integer length, got 'ten'"),
        (["--task", "translation"], "unknown translation; valid: mnist1d, adding"),
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--dataset", "npz:{tmp}/none.npz"], "none.npz: no such file"),
        (["--dataset", "npz:{tmp}/no_y.npz"], "has no array 'y' (it has: x)"),
        (["--dataset", "npz:{tmp}/flat.npz"], "x must have shape (sequences, steps, features)"),
        (["--dataset", "npz:{tmp}/one_class.npz"], "y has only one class"),
        (["--dataset", "npz:{tmp}/text.npz"], "cannot read"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, message):
    x = np.zeros((20, 5, 1), np.float32)
    np.savez(tmp_path / "no_y.npz", x=x)
    np.savez(tmp_path / "flat.npz", x=x[:, :, 0], y=np.arange(20) % 2)
    np.savez(tmp_path / "one_class.npz", x=x, y=np.zeros(20))
    (tmp_path / "text.npz").write_text("not a zip")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert_bad_input(NAME, argv, message, tmp_path / "out")


def test_user_sequences_from_an_npz_file(tmp_path, capsys):
    """--dataset npz:PATH: several features per step, text labels; no MNIST-1D reference or check."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = rng.normal(size=(300, 12, 2)).astype(np.float32) * 0.3
    x[:, :, 0] += y[:, None]  # the class shows in the first feature at every step
    np.savez(tmp_path / "mine.npz", x=x, y=np.array(["low", "mid", "high"])[y])
    out = tmp_path / "out"
    argv = [
        "--task",
        "mnist1d",
        "--dataset",
        f"npz:{tmp_path / 'mine.npz'}",
        "--cells",
        "simple",
        "--epochs",
        "8",
        "--output-dir",
        str(out),
    ]
    assert rnn_sequence.main(argv) == 0
    printed = capsys.readouterr().out
    metrics = assert_outputs_contract(out, NAME, quick=False, figures=("confusion_matrix",))
    results = metrics["results"]
    assert results["classes"] == ["high", "low", "mid"]
    assert np.asarray(results["mnist1d"]["simple"]["confusion_matrix"]).shape == (3, 3)
    assert results["mnist1d"]["simple"]["test_accuracy"] > 0.8  # chance is 1/3
    assert all("MNIST-1D" not in ref["name"] for ref in metrics["references"])
    assert "checks" not in results  # the MNIST-1D targets do not apply
    # named for the user's data, not for MNIST-1D: printed stages, the model file, the labels
    assert results["models"]["models/mine_simple.keras"]["input_shape"] == [12, 2]
    assert "npz:mine.npz/simple seed" in printed and "mnist1d" not in printed.lower()
    assert results["dataset_name"] == "npz:mine.npz"
