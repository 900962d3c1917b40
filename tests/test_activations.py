"""Smoke, determinism, replot, checks and bad-input tests of `python -m recipes.activations`."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from common.harness import Harness
from recipes import activations
from recipes.activations.recipe import (
    check_expectations,
    epochs_to_fraction_of_best,
    gaps_over_linear,
)
from tests.conftest import assert_bad_input, assert_outputs_contract, assert_png, without_timings

NAME = "activations"
FIGURES = (  # --quick trains on MNIST-1D alone: learning_curves_digits is a full run's
    "activation_curves",
    "learning_curves_mnist1d",
    "final_accuracy",
    "gradient_flow",
)


def test_quick_run_writes_the_outputs_contract(quick_outputs):
    metrics = assert_outputs_contract(quick_outputs.folder(NAME), NAME, figures=FIGURES)
    results = metrics["results"]
    assert "digits" not in results and metrics["args"]["datasets"] == ["mnist1d"]  # --quick
    for dataset in ("mnist1d",):
        assert list(results[dataset]) == ["sigmoid"]  # --quick: one activation
        for r in results[dataset].values():
            for key in (
                "test_accuracy",
                "test_accuracy_std",
                "per_seed",
                "final_train_loss",
                "epochs",
                "epochs_to_90pct_best",
                "seconds_per_epoch",
            ):
                assert key in r, key
            assert len(r["per_seed"]) == 1 and r["test_accuracy_std"] == 0
            assert list(r["per_seed"][0]) == [
                "seed",
                "test_accuracy",
                "final_train_loss",
                "epochs_to_90pct_best",
                "epochs",
                "seconds_per_epoch",
            ]
            assert r["per_seed"][0]["test_accuracy"] == r["test_accuracy"]
            assert r["epochs"] == 1  # --quick: one epoch, all early stopping's patience allows
            assert r["epochs_to_90pct_best"] == 1 and r["seconds_per_epoch"] > 0
            assert len(r["history"]["val_accuracy"][0]) == 1
            assert 0 <= r["test_accuracy"] <= 1  # a smoke run's number: no result
    assert metrics["args"]["regularise"] is True  # the default: shifts, cosine decay, early stopping
    assert results["mnist1d"]["sigmoid"]["initializer"] == "glorot_uniform"
    assert {r["name"] for r in metrics["references"]} >= {"sigmoid, 5x1000 (Glorot & Bengio)"}


def test_autodiff_curves_match_the_numpy_closed_forms(quick_outputs):
    deviations = quick_outputs.metrics(NAME)["results"]["curves_max_abs_deviation_from_numpy"]
    assert set(deviations) == {"sigmoid"}
    for name, deviation in deviations.items():
        assert deviation["f"] < 1e-6 and deviation["df"] < 1e-6, name


def test_gradient_flow_records_every_hidden_layer(quick_outputs):
    results = quick_outputs.metrics(NAME)["results"]
    flow = results["gradient_flow"]
    assert set(flow) == {"sigmoid"} and results["gradient_flow_dataset"] == "mnist1d"
    for r in flow.values():
        for key in ("init", "epoch1", "init_glorot"):
            norms = r["layer_grad_norms"][key]
            assert len(norms) == 10 and all(n > 0 for n in norms)
        assert 0 <= r["dead_fraction"] <= 1 and 0 <= r["saturated_fraction"] <= 1
    assert flow["sigmoid"]["dead_fraction"] == 0  # a sigmoid unit is never exactly 0
    # the vanishing gradient of Glorot & Bengio, measured at initialisation
    sigmoid = flow["sigmoid"]["layer_grad_norms"]["init_glorot"]
    assert sigmoid[0] < sigmoid[-1] / 100
    assert results["gradient_flow_first_over_last"]["sigmoid"] == sigmoid[0] / sigmoid[-1]
    checks = results["checks"]
    assert checks["sigmoid_vanishes"] == {
        "value": sigmoid[0] / sigmoid[-1],
        "expected": "< 0.01",
        "holds": True,
    }
    assert "relu_within_10x" not in checks  # relu was not run
    # linear was not run: no gap, and no check on it
    assert "mnist1d_min_gap_over_linear" not in checks
    assert "mnist1d_gap_over_linear" not in results


def test_same_seed_gives_identical_results(quick_outputs, tmp_path):
    first = quick_outputs.metrics(NAME)["results"]
    argv = ["--quick", "--output-dir", str(tmp_path)]
    assert activations.main(argv) == 0
    second = json.loads((tmp_path / "metrics.json").read_text())["results"]
    assert without_timings(second["mnist1d"]) == without_timings(first["mnist1d"])
    assert without_timings(second["gradient_flow"]) == without_timings(first["gradient_flow"])


def test_plot_redraws_every_figure_from_metrics_alone(quick_outputs, tmp_path):
    shutil.copy(quick_outputs.folder(NAME) / "curves.npz", tmp_path / "curves.npz")
    activations.plot(quick_outputs.metrics(NAME), tmp_path)
    for name in FIGURES:
        assert_png(tmp_path / f"{name}.png")


def test_subset_of_activations(tmp_path):
    argv = ["--quick", "--activations", "gelu,linear", "--datasets", "digits", "--depth", "3"]
    argv += ["--no-regularise", "--init", "glorot"]
    assert activations.main([*argv, "--output-dir", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "metrics.json").read_text())["results"]
    assert list(results["digits"]) == ["gelu", "linear"] and "mnist1d" not in results
    assert results["digits"]["gelu"]["initializer"] == "glorot_uniform"
    assert len(results["gradient_flow"]["gelu"]["layer_grad_norms"]["init"]) == 3
    assert results["gradient_flow_dataset"] == "digits"
    assert "checks" not in results  # none of the checks has what it needs in this run


def test_the_initialiser_is_matched_to_the_activation():
    from recipes.activations.recipe import initializer

    assert initializer("relu", "matched") == "he_normal"
    assert initializer("sigmoid", "matched") == "glorot_uniform"
    assert initializer("selu", "matched") == "lecun_normal"
    assert initializer("relu", "glorot") == "glorot_uniform"


def test_epochs_to_fraction_of_best():
    assert epochs_to_fraction_of_best([0.1, 0.5, 0.86, 0.95, 0.9]) == 3  # 0.86 >= 0.9 * 0.95
    assert epochs_to_fraction_of_best([0.9, 0.2]) == 1


def test_check_expectations_reports_a_failing_check(tmp_path):
    mnist1d = {"linear": {"test_accuracy": 0.32}, "relu": {"test_accuracy": 0.36}}
    gaps = gaps_over_linear(mnist1d)
    assert gaps == {"relu": pytest.approx(0.04)}
    assert gaps_over_linear({"relu": {"test_accuracy": 0.40}}) == {}  # no linear: no gap
    assert gaps_over_linear({"linear": {"test_accuracy": 0.32}}) == {}  # linear alone: no gap
    args = argparse.Namespace(output_dir=str(tmp_path), quick=False, regularise=False)
    harness = Harness(NAME, args)
    check_expectations(harness, {"mnist1d_gap_over_linear": gaps}, {"relu": 1.0, "sigmoid": 0.5})
    checks = harness.checks
    assert checks["mnist1d_min_gap_over_linear"]["holds"] is False
    assert checks["mnist1d_min_gap_over_linear"]["value"] == pytest.approx(0.04)
    assert checks["mnist1d_min_gap_over_linear"]["expected"] == ">= 0.05"
    assert checks["relu_within_10x"]["holds"] is True
    assert checks["sigmoid_vanishes"]["holds"] is False
    assert "tanh_within_10x" not in checks


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--activations", "relu,swish"], "unknown swish; valid: linear, sigmoid, tanh, relu"),
        (["--datasets", "cifar"], "unknown cifar; valid: digits, mnist1d"),
        (["--init", "he"], "invalid choice: 'he'"),
        (["--depth", "1"], "--depth: must be at least 2"),
        (["--seeds", "0"], "--seeds: must be at least 1, got 0"),
        (["--tensorboard"], "unrecognized arguments: --tensorboard"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, message):
    assert_bad_input(NAME, argv, message, tmp_path / "out")


def test_a_regularised_run_is_held_to_the_published_level(tmp_path):
    """--regularise: ReLU above the paper's MLP, the best at 0.74, linear near logistic regression,
    sigmoid last; the unregularised gap check is not made. Not on --quick."""
    accuracy = {"linear": 0.33, "sigmoid": 0.45, "relu": 0.69, "mish": 0.78}
    results = {
        "mnist1d": {name: {"test_accuracy": value} for name, value in accuracy.items()},
        "digits": {"relu": {"test_accuracy": 0.975}},
        "mnist1d_gap_over_linear": {"relu": 0.36},
    }
    args = argparse.Namespace(output_dir=str(tmp_path / "a"), quick=False, regularise=True)
    harness = Harness(NAME, args)
    check_expectations(harness, results, {})
    holds = {name: check["holds"] for name, check in harness.checks.items()}
    assert holds == {
        "mnist1d_relu_test_accuracy": False,  # 0.69 < 0.70
        "mnist1d_best_test_accuracy": True,
        "mnist1d_linear_near_logistic": True,
        "mnist1d_sigmoid_trails_the_others": True,
    }
    assert harness.checks["mnist1d_best_test_accuracy"]["value"] == 0.78
    quick = Harness(
        NAME, argparse.Namespace(output_dir=str(tmp_path / "b"), quick=True, regularise=True)
    )
    check_expectations(quick, results, {})
    assert quick.checks == {}
