"""Smoke, determinism, replot and bad-input tests of `python -m recipes.rnn_sequence`, and the
adding problem's data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from common import data as D
from recipes import rnn_sequence
from tests.conftest import (
    assert_bad_input,
    assert_finite_numbers,
    assert_png,
    run_cli,
    without_timings,
)

FIGURES = (
    "learning_curves",
    "accuracy_vs_reference",
    "adding_mse_vs_length",
    "gradient_through_time",
    "confusion_matrix",
)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rnn_sequence") / "out"
    assert rnn_sequence.main(["--quick", "--output-dir", str(out)]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_quick_run_writes_the_outputs_contract(quick_run):
    out, metrics = quick_run
    assert list(metrics) == [
        "recipe", "version", "created", "duration_s", "args", "environment", "results", "references",
    ]  # fmt: skip
    assert metrics["recipe"] == "rnn_sequence" and metrics["args"]["quick"] is True
    results = metrics["results"]
    assert_finite_numbers(results)
    assert list(results["mnist1d"]) == ["simple", "lstm"]
    for r in results["mnist1d"].values():
        for key in ("test_accuracy", "test_accuracy_std", "per_seed", "params", "seconds_per_epoch"):
            assert key in r, key
        assert len(r["per_seed"]) == 1 and r["test_accuracy_std"] == 0
        assert r["params"] > r["plain"]["params"] > 0 and r["seconds_per_epoch"] > 0
        assert len(r["history"]["loss"][0]) == 2
        assert np.sum(r["confusion_matrix"]) == 300  # every quick test sequence, once
    # two epochs on 600 sequences: well short of the bars, but above ten-class chance
    assert max(r["test_accuracy"] for r in results["mnist1d"].values()) > 0.15
    for cell, per_length in results["adding"].items():
        assert list(per_length) == ["25"], cell
        r = per_length["25"]
        assert 0 < r["test_mse"] < 1 and 0.1 < r["baseline_mse"] < 0.25
    for name in FIGURES:
        assert_png(out / f"{name}.png")
    assert not list(out.glob(".*tmp")), "temporary files left behind"
    names = {r["name"] for r in metrics["references"]}
    assert {"CNN (MNIST-1D paper)", "GRU (MNIST-1D paper)", "predict 1 (adding problem)"} <= names


def test_gradient_through_time_covers_every_step(quick_run):
    _, metrics = quick_run
    gradients = metrics["results"]["gradient_through_time"]
    assert set(gradients) == {"simple", "lstm"}
    for r in gradients.values():
        for key in ("plain_init", "plain_trained", "model_trained"):
            assert len(r[key]) == 40 and all(v > 0 for v in r[key]), key


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
    x, y = D.adding_problem(20_000, 30, seed=3)
    assert x.shape == (20_000, 30, 2) and y.shape == (20_000, 1) and x.dtype == np.float32
    markers = x[..., 1]
    assert np.all(markers[:, :15].sum(axis=1) == 1) and np.all(markers[:, 15:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(axis=1), rtol=1e-6)
    # predicting 1 gives the variance of a sum of two U[0, 1] values: 2/12 = 0.167
    assert np.mean((y - 1) ** 2) == pytest.approx(1 / 6, abs=0.01)
    again, _ = D.adding_problem(20_000, 30, seed=3)
    assert np.array_equal(x, again)
    with pytest.raises(ValueError, match="at least 2 steps"):
        D.adding_problem(10, 1)


def test_same_seed_gives_identical_results(quick_run, tmp_path):
    _, first = quick_run
    assert rnn_sequence.main(["--quick", "--task", "adding", "--output-dir", str(tmp_path)]) == 0
    second = json.loads((tmp_path / "metrics.json").read_text())["results"]
    assert "mnist1d" not in second
    assert without_timings(second["adding"]) == without_timings(first["results"]["adding"])


def test_plot_redraws_every_figure_from_metrics_alone(quick_run, tmp_path):
    _, metrics = quick_run
    rnn_sequence.plot(metrics, tmp_path)
    for name in FIGURES:
        assert_png(tmp_path / f"{name}.png")


def test_check_bars_reports_what_was_measured():
    args = rnn_sequence.build_parser().parse_args([])
    results = {
        "mnist1d": {"simple": {"test_accuracy": 0.955}, "gru": {"test_accuracy": 0.975}},
        "adding": {
            "simple": {"100": {"test_mse": 0.17}},
            "lstm": {"100": {"test_mse": 0.02}},
        },
    }
    checks = rnn_sequence.check_bars(results, args)
    assert checks["mnist1d_simple"]["holds"] is False and checks["mnist1d_gru"]["holds"] is True
    assert checks["adding_T100_simple"]["holds"] is True
    assert checks["adding_T100_lstm"]["holds"] is False


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--cells", "simple,transformer"], "unknown transformer; valid: simple, gru, lstm"),
        (["--lengths", "25,1"], "--lengths: a length must be at least 2"),
        (["--lengths", "ten"], "--lengths: expected an integer length, got 'ten'"),
        (["--task", "translation"], "unknown translation; valid: mnist1d, adding"),
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, message):
    out = tmp_path / "out"
    assert_bad_input("rnn_sequence", argv, message, out)


def test_help_documents_every_flag():
    result = run_cli("recipes.rnn_sequence", "--help")
    assert result.returncode == 0
    for flag in ("--quick", "--epochs", "--seed ", "--seeds", "--output-dir", "--tensorboard",
                 "--task", "--cells", "--units", "--layers", "--shift", "--batch-size",
                 "--learning-rate", "--clipnorm", "--lengths", "--adding-train", "--adding-test",
                 "--adding-epochs", "--adding-units", "--adding-learning-rate"):  # fmt: skip
        assert flag in result.stdout, flag
    assert "(default: 30)" in result.stdout and "(default: 25,50,100)" in result.stdout
