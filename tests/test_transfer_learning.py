"""Smoke, weight-copy, freezing, reuse and bad-input tests of `python -m recipes.transfer_learning`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from recipes import transfer_learning as T
from tests.conftest import assert_bad_input, assert_finite_numbers, assert_png, error_lines, run_cli

FIGURES = ("accuracy_vs_labels", "anb_layers", "source_vs_target_examples")
FEATURE_LAYERS = [name for block in range(1, T.BLOCKS + 1) for name in T.block_layer_names(block)]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("transfer") / "out"
    assert T.main(["--quick", "--output-dir", str(out)]) == 0
    return out, json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def source_model(quick_run):
    """The quick run's pretrained source model, loaded the way --pretrained loads it."""
    out, _ = quick_run
    args = T.build_parser().parse_args(["--quick"])
    T.validate(args)
    return T.load_pretrained(out / T.WEIGHTS_FILE, T.architecture_for("mnist1d", 10), args)


def test_quick_run_writes_the_outputs_contract(quick_run):
    out, metrics = quick_run
    assert list(metrics) == [
        "recipe", "version", "created", "duration_s", "args", "environment", "results", "references",
    ]  # fmt: skip
    assert metrics["recipe"] == "transfer_learning" and metrics["args"]["quick"] is True
    results = metrics["results"]
    assert_finite_numbers(results)
    assert results["scenario"] == "shift"
    assert 0.1 < results["source_test_accuracy"] <= 1
    assert set(results["curves"]) == set(T.MODES)  # shift: same labels, so `full` is run too
    for mode in T.MODES:
        for k in ("1", "5", "all"):
            entry = results["curves"][mode][k]
            assert 0 <= entry["test_accuracy"] <= 1 and entry["test_accuracy_std"] >= 0
            assert [s["seed"] for s in entry["per_seed"]] == [0]
    assert sorted(results["anb"], key=int) == [str(n) for n in range(T.BLOCKS + 1)]
    assert results["anb"]["0"]["copied_layers"] == []
    assert results["anb"][str(T.BLOCKS)]["copied_layers"] == FEATURE_LAYERS
    assert results["copied_layers"]["frozen"] == FEATURE_LAYERS
    assert results["copied_layers"]["full"] == [*FEATURE_LAYERS, "head"]
    assert results["shift_parameters"]["seed"] == 7
    assert 0 <= results["zero_shot_target_accuracy"] <= 1
    assert metrics["references"][0]["value"] == 0.94 and metrics["references"][0]["source"]
    for name in FIGURES:
        assert_png(out / f"{name}.png")
    assert (out / T.WEIGHTS_FILE).is_file() and (out / T.ARCHITECTURE_FILE).is_file()
    assert not list(out.glob(".*tmp*")) and not list(out.glob(".pretrained*")), "temporary files"


def submodel(model, layer_name):
    """The part of `model` from its input up to the output of `layer_name`."""
    import keras

    return keras.Model(model.inputs, model.get_layer(layer_name).output)


def test_copied_layers_give_bit_identical_outputs(source_model):
    arch = T.architecture_for("mnist1d", 10)
    target, copied = T.transfer(source_model, arch, T.BLOCKS)
    assert copied == FEATURE_LAYERS
    x = np.random.default_rng(0).normal(size=(64, 40)).astype(np.float32)
    for block in range(1, T.BLOCKS + 1):
        name = f"block_{block}_relu"
        outputs = [submodel(model, name).predict(x, verbose=0) for model in (source_model, target)]
        np.testing.assert_array_equal(outputs[0], outputs[1], err_msg=name)
    # the new head is not the source's: only what was copied matches
    assert not np.array_equal(
        target.get_layer("head").get_weights()[0], source_model.get_layer("head").get_weights()[0]
    )


def test_frozen_layers_are_bit_identical_after_target_training(source_model):
    from common.training import seed_everything

    arch = T.architecture_for("mnist1d", 10)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 40)).astype(np.float32)
    y = np.repeat(np.arange(10), 4)
    seed_everything(0)
    start, _ = T.transfer(source_model, arch, T.BLOCKS)
    frozen = T.Trainer(T.build_model(arch, frozen_blocks=T.BLOCKS, inference_blocks=T.BLOCKS), 1e-2)
    frozen.fit(start, x, y, steps=50, batch_size=16, seed=0)
    for name in FEATURE_LAYERS:
        for got, want in zip(
            frozen.model.get_layer(name).get_weights(), source_model.get_layer(name).get_weights()
        ):
            np.testing.assert_array_equal(got, want, err_msg=name)
    assert not np.array_equal(
        frozen.model.get_layer("head").get_weights()[0], start.get_layer("head").get_weights()[0]
    )
    # fine-tuning moves the kernels but not the copied BatchNorm statistics (inference mode)
    unfrozen = T.Trainer(T.build_model(arch, inference_blocks=T.BLOCKS), 1e-3)
    unfrozen.fit(frozen.model, x, y, steps=50, batch_size=16, seed=0)
    tuned, source = unfrozen.model.get_layer("block_1"), source_model.get_layer("block_1")
    assert not np.array_equal(tuned.get_weights()[0], source.get_weights()[0])
    for name in (f"block_{b}_bn" for b in range(1, T.BLOCKS + 1)):
        tuned, source = unfrozen.model.get_layer(name), source_model.get_layer(name)
        np.testing.assert_array_equal(tuned.moving_mean.numpy(), source.moving_mean.numpy())
        np.testing.assert_array_equal(tuned.moving_variance.numpy(), source.moving_variance.numpy())


def test_a_mismatch_names_each_layer_and_both_shapes_and_copies_nothing():
    arch = T.architecture_for("mnist1d", 10)
    source = T.build_model(dict(arch, filters=[16, 32, 32]))
    target = T.build_model(arch)
    before = target.get_layer("block_4").get_weights()[0].copy()
    with pytest.raises(T.TransferError) as error:
        T.copy_weights(source, target, [*FEATURE_LAYERS, "missing"])
    message = str(error.value)
    assert "layer 'block_1': source shapes [(5, 1, 16)] vs target shapes [(5, 1, 32)]" in message
    assert "layer 'block_1_bn': source shapes [(16,), (16,), (16,), (16,)]" in message
    assert "layer 'block_2': source shapes [(5, 16, 32)] vs target shapes [(5, 32, 32)]" in message
    assert "layer 'missing' is not in the source model" in message
    # block_4 fits, but nothing is copied when anything does not
    np.testing.assert_array_equal(target.get_layer("block_4").get_weights()[0], before)


def test_reusing_the_pretrained_model_repeats_the_run_exactly(quick_run, tmp_path):
    out, first = quick_run
    argv = ["--quick", "--pretrained", str(out / T.WEIGHTS_FILE), "--output-dir", str(tmp_path)]
    assert T.main(argv) == 0
    second = json.loads((tmp_path / "metrics.json").read_text())
    assert second["results"]["pretrained"]["reused"] is True
    for key in ("source_test_accuracy", "zero_shot_target_accuracy", "curves", "anb"):
        assert second["results"][key] == first["results"][key], key


def test_plot_redraws_every_figure_from_metrics_alone(quick_run, tmp_path):
    out, metrics = quick_run
    shutil.copy(out / "examples.npz", tmp_path / "examples.npz")
    T.plot(metrics, tmp_path)
    for name in FIGURES:
        assert_png(tmp_path / f"{name}.png")


def write_pretrained(folder, arch, task):
    folder.mkdir()
    T.build_model(arch).save_weights(folder / T.WEIGHTS_FILE)
    (folder / T.ARCHITECTURE_FILE).write_text(json.dumps({"architecture": arch, "task": task}))
    return folder / T.WEIGHTS_FILE


@pytest.mark.parametrize("case", ["missing", "corrupt", "other_architecture", "other_task"])
def test_a_bad_pretrained_file_exits_2_and_writes_nothing(case, tmp_path, capsys):
    arch = T.architecture_for("mnist1d", 10)
    task = {"scenario": "shift", "dataset": "mnist1d"}
    if case == "missing":
        path, message = tmp_path / "none.weights.h5", "no such file"
    elif case == "corrupt":
        path = write_pretrained(tmp_path / "saved", arch, task)
        path.write_bytes(b"not an HDF5 file")
        message = "cannot load"
    elif case == "other_architecture":
        path = write_pretrained(tmp_path / "saved", dict(arch, dense=32), task)
        message = "layer 'block_4': source shapes [(320, 32)] vs target shapes [(320, 64)]"
    else:
        path = write_pretrained(tmp_path / "saved", arch, {"scenario": "split", "dataset": "x"})
        message = "was trained for"
    out = tmp_path / "out"
    assert T.main(["--quick", "--pretrained", str(path), "--output-dir", str(out)]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and message in lines[0], lines
    assert lines[0].startswith("python -m recipes.transfer_learning: error: --pretrained")
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--scenario", "split", "--target-classes", "4,5,6"], "must be disjoint; both contain 4"),
        (["--scenario", "split", "--source-classes", "0,1,12"], "unknown class '12'"),
        (["--scenario", "split", "--target-classes", "7"], "needs at least 2 classes, got 1"),
        (["--scenario", "shift", "--dataset", "digits"], "the shift scenario uses mnist1d"),
        (["--labels-per-class", "0,5"], "expected positive integers or 'all', got '0'"),
        (["--anb-labels", "5,10"], "--anb-labels takes one value"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, message):
    out = tmp_path / "out"
    assert_bad_input("transfer_learning", argv, message, out)


def test_help_documents_every_flag():
    result = run_cli("recipes.transfer_learning", "--help")
    assert result.returncode == 0
    for flag in ("--quick", "--epochs", "--seeds", "--output-dir", "--scenario", "--dataset",
                 "--source-classes", "--target-classes", "--target-seed", "--labels-per-class",
                 "--anb-labels", "--pretrained", "--target-steps", "--target-epochs"):  # fmt: skip
        assert flag in result.stdout, flag
    assert "(default: shift)" in result.stdout and "(default: 3)" in result.stdout
