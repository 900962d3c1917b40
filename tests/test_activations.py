"""Smoke, determinism, replot and bad-input tests of `python -m recipes.activations`."""

from __future__ import annotations

import json
import shutil

import pytest

from recipes import activations
from tests.conftest import (
    assert_bad_input,
    assert_finite_numbers,
    assert_png,
    run_cli,
    without_timings,
)

FIGURES = (
    "activation_curves",
    "learning_curves_digits",
    "learning_curves_mnist1d",
    "final_accuracy",
    "gradient_flow",
)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("activations") / "out"
    assert activations.main(["--quick", "--output-dir", str(out)]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_quick_run_writes_the_outputs_contract(quick_run):
    out, metrics = quick_run
    assert list(metrics) == [
        "recipe", "version", "created", "duration_s", "args", "environment", "results", "references",
    ]  # fmt: skip
    assert metrics["recipe"] == "activations" and metrics["args"]["quick"] is True
    results = metrics["results"]
    assert_finite_numbers(results)
    for dataset in ("digits", "mnist1d"):
        assert list(results[dataset]) == ["relu", "sigmoid"]
        for r in results[dataset].values():
            for key in ("test_accuracy", "test_accuracy_std", "per_seed", "final_train_loss",
                        "epochs_to_90pct_best", "seconds_per_epoch"):  # fmt: skip
                assert key in r, key
            assert len(r["per_seed"]) == 1 and r["test_accuracy_std"] == 0
            assert 1 <= r["epochs_to_90pct_best"] <= 2 and r["seconds_per_epoch"] > 0
            assert len(r["history"]["val_accuracy"][0]) == 2
    assert results["digits"]["relu"]["test_accuracy"] > 0.3  # ten classes: chance is 0.1
    assert results["digits"]["relu"]["initializer"] == "he_normal"
    assert results["digits"]["sigmoid"]["initializer"] == "glorot_uniform"
    for name in FIGURES:
        assert_png(out / f"{name}.png")
    assert not list(out.glob(".*tmp")), "temporary files left behind"
    assert {r["name"] for r in metrics["references"]} >= {"sigmoid, 5x1000 (Glorot & Bengio)"}


def test_autodiff_curves_match_the_numpy_closed_forms(quick_run):
    _, metrics = quick_run
    for name, deviation in metrics["results"]["curves_max_abs_deviation_from_numpy"].items():
        assert deviation["f"] < 1e-6 and deviation["df"] < 1e-6, name


def test_gradient_flow_records_every_hidden_layer(quick_run):
    _, metrics = quick_run
    flow = metrics["results"]["gradient_flow"]
    assert set(flow) == {"relu", "sigmoid"}
    for r in flow.values():
        for key in ("init", "epoch1", "init_glorot"):
            norms = r["layer_grad_norms"][key]
            assert len(norms) == 10 and all(n > 0 for n in norms)
        assert 0 <= r["dead_fraction"] <= 1 and 0 <= r["saturated_fraction"] <= 1
    assert flow["sigmoid"]["dead_fraction"] == 0  # a sigmoid unit is never exactly 0
    # the vanishing gradient of Glorot & Bengio, measured at initialisation
    sigmoid = flow["sigmoid"]["layer_grad_norms"]["init_glorot"]
    assert sigmoid[0] < sigmoid[-1] / 100
    checks = metrics["results"]["checks"]
    assert checks["sigmoid_vanishes"]["holds"] is True
    assert "mnist1d_gap_over_linear" not in checks  # linear was not run


def test_same_seed_gives_identical_results(quick_run, tmp_path):
    _, first = quick_run
    argv = ["--quick", "--datasets", "digits", "--output-dir", str(tmp_path)]
    assert activations.main(argv) == 0
    second = json.loads((tmp_path / "metrics.json").read_text())["results"]
    assert without_timings(second["digits"]) == without_timings(first["results"]["digits"])


def test_plot_redraws_every_figure_from_metrics_alone(quick_run, tmp_path):
    out, metrics = quick_run
    shutil.copy(out / "curves.npz", tmp_path / "curves.npz")
    activations.plot(metrics, tmp_path)
    for name in FIGURES:
        assert_png(tmp_path / f"{name}.png")


def test_subset_of_activations(tmp_path):
    argv = ["--quick", "--activations", "gelu,linear", "--datasets", "digits", "--depth", "3"]
    assert activations.main([*argv, "--init", "glorot", "--output-dir", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "metrics.json").read_text())["results"]
    assert list(results["digits"]) == ["gelu", "linear"] and "mnist1d" not in results
    assert results["digits"]["gelu"]["initializer"] == "glorot_uniform"
    assert len(results["gradient_flow"]["gelu"]["layer_grad_norms"]["init"]) == 3


def test_epochs_to_fraction_of_best():
    assert activations.epochs_to_fraction_of_best([0.1, 0.5, 0.86, 0.95, 0.9]) == 3  # 0.86 >= 0.9 * 0.95
    assert activations.epochs_to_fraction_of_best([0.9, 0.2]) == 1


def test_check_bars_reports_a_failing_bar():
    flow = {"layer_grad_norms": {"init_glorot": [1.0, 1.0]}}
    results = {
        "mnist1d": {"linear": {"test_accuracy": 0.32}, "relu": {"test_accuracy": 0.40}},
        "gradient_flow": {"relu": flow},
    }
    checks = activations.check_bars(results)
    assert checks["mnist1d_gap_over_linear"]["holds"] is False
    assert checks["mnist1d_gap_over_linear"]["min_gap"] == pytest.approx(0.08)
    assert checks["relu_within_10x"]["holds"] is True


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--activations", "relu,swish"], "unknown swish; valid: linear, sigmoid, tanh, relu"),
        (["--datasets", "cifar"], "unknown cifar; valid: digits, mnist1d"),
        (["--init", "he"], "invalid choice: 'he'"),
        (["--depth", "1"], "--depth: must be at least 2"),
        (["--seeds", "0"], "--seeds: must be at least 1, got 0"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, message):
    out = tmp_path / "out"
    assert_bad_input("activations", argv, message, out)


def test_help_documents_every_flag():
    result = run_cli("recipes.activations", "--help")
    assert result.returncode == 0
    for flag in ("--quick", "--epochs", "--seed ", "--seeds", "--output-dir", "--activations",
                 "--datasets", "--layers", "--units", "--depth", "--init", "--batch-size",
                 "--learning-rate"):  # fmt: skip
        assert flag in result.stdout, flag
    assert "(default: 30)" in result.stdout and "(default: 3)" in result.stdout
