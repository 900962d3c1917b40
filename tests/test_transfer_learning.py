"""Smoke, weight-copy, freezing, reuse and bad-input tests of `python -m recipes.transfer_learning`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from common.data import Split
from common.harness import Harness
from recipes import transfer_learning as T
from recipes.transfer_learning import flags, models, recipe
from tests.conftest import assert_bad_input, assert_outputs_contract, assert_png, error_lines

FIGURES = ("accuracy_vs_labels", "anb_layers", "source_vs_target_examples")
FEATURE_LAYERS = models.feature_layers(models.BLOCKS)


@pytest.fixture(scope="module")
def source_model(quick_outputs):
    """The quick run's pretrained source model, loaded the way --pretrained loads it."""
    out = quick_outputs.folder("transfer_learning")
    args = T.build_parser().parse_args(["--quick"])
    flags.validate_args(args)
    arch = models.architecture_for("mnist1d", 10)
    return recipe.load_pretrained(out / "models" / "source.keras", arch, args)


def test_quick_run_writes_the_outputs_contract(quick_outputs):
    out = quick_outputs.folder("transfer_learning")
    metrics = assert_outputs_contract(out, "transfer_learning", figures=FIGURES)
    results = metrics["results"]
    assert results["scenario"] == "shift"
    assert 0.1 < results["source_test_accuracy"] <= 1
    assert set(results["curves"]) == set(recipe.MODES)  # shift: same labels, so `full` is run too
    for mode in recipe.MODES:
        for k in ("5", "all"):  # --quick: the kept model's budget and all
            entry = results["curves"][mode][k]
            assert 0 <= entry["test_accuracy"] <= 1 and entry["test_accuracy_std"] >= 0
            assert [s["seed"] for s in entry["per_seed"]] == [0]
    assert sorted(results["anb"], key=int) == ["0", str(models.BLOCKS)]  # --quick: the two ends
    assert results["anb"]["0"]["copied_layers"] == []
    assert results["anb"][str(models.BLOCKS)]["copied_layers"] == FEATURE_LAYERS
    assert results["copied_layers"]["frozen"] == FEATURE_LAYERS
    assert results["copied_layers"]["full"] == [*FEATURE_LAYERS, "head"]
    assert results["shift_parameters"]["seed"] == 7
    assert 0 <= results["zero_shot_target_accuracy"] <= 1
    assert metrics["references"][0]["value"] == 0.94 and metrics["references"][0]["source"]
    card = json.loads((out / "models" / "source.json").read_text())
    assert card["task"] == {"scenario": "shift", "dataset": "mnist1d"} and card["seed"] == 0
    kept = {f"models/target_{mode}_k5.keras" for mode in recipe.MODES} | {"models/source.keras"}
    assert set(results["models"]) == kept
    assert all((out / name).is_file() for name in kept)


def test_split_quick_run_learns_disjoint_classes_without_the_full_mode(quick_outputs):
    out = quick_outputs.folder("transfer_learning", "split")
    results = assert_outputs_contract(out, "transfer_learning", figures=FIGURES)["results"]
    assert results["scenario"] == "split" and results["dataset"] == "digits"
    assert results["source"]["classes"] == ["0", "1", "2", "3", "4"]
    assert results["target"]["classes"] == ["5", "6", "7", "8", "9"]
    assert list(results["curves"]) == ["scratch", "frozen", "finetune"]  # the heads cannot match
    assert "zero_shot_target_accuracy" not in results and "shift_parameters" not in results
    assert sorted(results["anb"], key=int) == ["0", str(models.BLOCKS)]


def submodel(model, layer_name):
    """The part of `model` from its input up to the output of `layer_name`."""
    import keras

    return keras.Model(model.inputs, model.get_layer(layer_name).output)


def test_copied_layers_give_bit_identical_outputs(source_model):
    arch = models.architecture_for("mnist1d", 10)
    target = recipe.build_model(arch, frozen_blocks=models.BLOCKS, inference_blocks=models.BLOCKS)
    assert recipe.copy_weights(source_model, target, FEATURE_LAYERS) == FEATURE_LAYERS
    x = np.random.default_rng(0).normal(size=(64, 40)).astype(np.float32)
    for block in range(1, models.BLOCKS + 1):
        name = f"block_{block}_relu"
        outputs = [submodel(model, name).predict(x, verbose=0) for model in (source_model, target)]
        np.testing.assert_array_equal(outputs[0], outputs[1], err_msg=name)
    # the new head is not the source's: only what was copied matches
    assert not np.array_equal(
        target.get_layer("head").get_weights()[0], source_model.get_layer("head").get_weights()[0]
    )


def toy_target(seed=1):
    from recipes.transfer_learning.tasks import TargetTask

    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(60, 40)).astype(np.float32), np.repeat(np.arange(10), 6)
    return TargetTask("toy", "toy", x[:40], y[:40], x[40:], y[40:], [str(c) for c in range(10)])


def learn(models_, source_model, seed, modes=("scratch", "frozen", "finetune")):
    """recipe.learn_target at k=2 on the toy target, 50 steps a training, nothing kept."""
    from types import SimpleNamespace

    args = SimpleNamespace(target_steps=50, target_epochs=1, batch_size=16, seed=0)
    harness = SimpleNamespace(args=args)
    return recipe.learn_target(seed, harness, models_, source_model, toy_target(), "2", modes, "none")


def test_frozen_layers_are_bit_identical_after_target_training(source_model):
    """`frozen` trains only its head; `finetune` then moves the copied kernels, never the copied
    BatchNorm statistics (inference mode)."""
    from common.training import reinitialize_weights

    arch = models.architecture_for("mnist1d", 10)
    target_models = recipe.target_models(arch, [], 1e-2)
    record = learn(target_models, source_model, seed=0)
    assert record["copied"]["frozen"] == FEATURE_LAYERS and record["steps"] == 50
    frozen, tuned = target_models["frozen"], target_models["finetune"]
    for name in FEATURE_LAYERS:
        copied = zip(frozen.get_layer(name).get_weights(), source_model.get_layer(name).get_weights())
        for got, want in copied:
            np.testing.assert_array_equal(got, want, err_msg=name)
    start = recipe.build_model(arch)
    reinitialize_weights(start, 0)  # the weights `frozen` started from, before the copy
    heads = [model.get_layer("head").get_weights()[0] for model in (frozen, start)]
    assert not np.array_equal(*heads)  # the head trained
    kernels = [model.get_layer("block_1").get_weights()[0] for model in (tuned, source_model)]
    assert not np.array_equal(*kernels)  # fine-tuning moved the copied kernels
    for name in (f"block_{b}_bn" for b in range(1, models.BLOCKS + 1)):
        layer, copied = tuned.get_layer(name), source_model.get_layer(name)
        np.testing.assert_array_equal(layer.moving_mean.numpy(), copied.moving_mean.numpy())
        np.testing.assert_array_equal(layer.moving_variance.numpy(), copied.moving_variance.numpy())


@pytest.mark.tensorflow  # the draws of an unseeded initialiser, as TensorFlow's Keras makes them
def test_models_built_once_train_each_seed_as_freshly_built_models_would(source_model):
    """The recipe builds and compiles each target network once and starts every training from the
    weights it needs (reinitialize, copy_weights): a seed's numbers and weights must be those of
    networks built afresh for it, whatever the networks trained before (a resumed run relies on it)."""
    arch = models.architecture_for("mnist1d", 10)
    modes = ("scratch", "frozen", "finetune", "full")
    fresh = recipe.target_models(arch, [], 1e-3)
    want = learn(fresh, source_model, seed=3, modes=modes)
    want_weights = {mode: fresh[mode].get_weights() for mode in ("scratch", "frozen")}
    reused = recipe.target_models(arch, [], 1e-3)
    learn(reused, source_model, seed=4, modes=modes)  # another seed trains them first
    assert learn(reused, source_model, seed=3, modes=modes) == want
    for mode, expected in want_weights.items():
        for got, w in zip(reused[mode].get_weights(), expected):
            np.testing.assert_array_equal(got, w, err_msg=mode)


def test_a_mismatch_names_each_layer_and_both_shapes_and_copies_nothing():
    arch = models.architecture_for("mnist1d", 10)
    source = recipe.build_model(dict(arch, filters=[16, 32, 32]))
    target = recipe.build_model(arch)
    before = target.get_layer("block_4").get_weights()[0].copy()
    with pytest.raises(models.TransferError) as error:
        recipe.copy_weights(source, target, [*FEATURE_LAYERS, "missing"])
    message = str(error.value)
    assert "layer 'block_1': source shapes [(5, 1, 16)] vs target shapes [(5, 1, 32)]" in message
    assert "layer 'block_1_bn': source shapes [(16,), (16,), (16,), (16,)]" in message
    assert "layer 'block_2': source shapes [(5, 16, 32)] vs target shapes [(5, 32, 32)]" in message
    assert "layer 'missing' is not in the source model" in message
    # block_4 fits, but nothing is copied when anything does not
    np.testing.assert_array_equal(target.get_layer("block_4").get_weights()[0], before)


def test_reusing_the_pretrained_model_repeats_the_run_exactly(quick_outputs, tmp_path):
    out = quick_outputs.folder("transfer_learning")
    first = quick_outputs.metrics("transfer_learning")
    argv = ["--quick", "--pretrained", str(out / "models" / "source.keras")]
    assert T.main([*argv, "--output-dir", str(tmp_path)]) == 0
    second = json.loads((tmp_path / "metrics.json").read_text())
    assert second["results"]["pretrained"]["reused"] is True
    for key in ("source_test_accuracy", "zero_shot_target_accuracy", "curves", "anb"):
        assert second["results"][key] == first["results"][key], key


def test_tensorboard_writes_the_pretraining_logs(tmp_path):
    args = T.build_parser().parse_args(["--epochs", "1", "--tensorboard", "--output-dir", str(tmp_path)])
    flags.validate_args(args)
    task = toy_target()
    x, y = task.x_pool, task.y_pool
    source = Split(
        "toy", x, y, x[:10], y[:10], x[:4], y[:4], task.class_names
    )  # the source task is a Split
    harness = Harness("transfer_learning", args)
    recipe.pretrain(harness, source, models.architecture_for("mnist1d", 10))
    assert list((tmp_path / "logs" / "pretrain").rglob("events.out.tfevents.*"))  # live, in place
    assert (harness.out_dir / "models" / "source.keras").is_file()  # published when the run ends


def test_plot_redraws_every_figure_from_metrics_alone(quick_outputs, tmp_path):
    out = quick_outputs.folder("transfer_learning")
    shutil.copy(out / "examples.npz", tmp_path / "examples.npz")
    T.plot(quick_outputs.metrics("transfer_learning"), tmp_path)
    for name in FIGURES:
        assert_png(tmp_path / f"{name}.png")


def write_pretrained(folder, arch, task):
    folder.mkdir()
    recipe.build_model(arch).save(folder / "source.keras")
    (folder / "source.json").write_text(json.dumps({"architecture": arch, "task": task}))
    return folder / "source.keras"


@pytest.mark.parametrize(
    "case", ["missing", "not_keras", "corrupt", "other_architecture", "other_task", "unsafe"]
)
def test_a_bad_pretrained_file_exits_2_and_writes_nothing(case, tmp_path, capsys):
    arch = models.architecture_for("mnist1d", 10)
    task = {"scenario": "shift", "dataset": "mnist1d"}
    if case == "missing":
        path, message = tmp_path / "none.keras", "no such file"
    elif case == "not_keras":
        path, message = tmp_path / "old.weights.h5", "expected a Keras model ending in .keras"
        path.write_bytes(b"weights")
    elif case == "corrupt":
        path = write_pretrained(tmp_path / "saved", arch, task)
        path.write_bytes(path.read_bytes()[:500])  # truncated
        message = "cannot load"
    elif case == "unsafe":  # a Lambda layer holds code: safe mode refuses to run it
        import keras

        inputs = keras.Input((40,))
        keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs)).save(tmp_path / "x.keras")
        path, message = tmp_path / "x.keras", "cannot load"
    elif case == "other_architecture":
        path = write_pretrained(tmp_path / "saved", dict(arch, dense=32), task)
        message = "layer 'block_4': source shapes [(320, 32)] vs target shapes [(320, 64)]"
    else:
        path = write_pretrained(tmp_path / "saved", arch, {"scenario": "split", "dataset": "x"})
        message = "was trained for"
    out = tmp_path / "out"
    if case in ("missing", "not_keras"):  # refused while the flags are parsed
        with pytest.raises(SystemExit) as exit_info:
            T.main(["--quick", "--pretrained", str(path), "--output-dir", str(out)])
        assert exit_info.value.code == 2
    else:
        assert T.main(["--quick", "--pretrained", str(path), "--output-dir", str(out)]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and message in lines[0], lines
    assert lines[0].startswith("python -m recipes.transfer_learning: error:")
    assert "--pretrained" in lines[0]
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
        (["--target-data", "csv:{tmp}/t.csv"], "needs --target-column COLUMN"),
        (
            ["--target-data", "npz:{tmp}/narrow.npz"],
            "12 numbers per example; the source network reads 40",
        ),
        (["--target-data", "npz:{tmp}/none.npz"], "none.npz: no such file"),
        (["--target-column", "label"], "--target-column only applies to --target-data csv:PATH"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, message):
    (tmp_path / "t.csv").write_text("a,label\n1,x\n")
    np.savez(tmp_path / "narrow.npz", x=np.zeros((20, 12), np.float32), y=np.arange(20) % 2)
    out = tmp_path / "out"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert_bad_input("transfer_learning", [*argv, "--quick"], message, out)


@pytest.mark.parametrize("kind", ["csv", "npz"])
def test_a_user_target_task_replaces_the_scenarios(kind, quick_outputs, tmp_path):
    """--target-data: the source model (MNIST-1D, 10 classes: the shared quick run's, reused with
    --pretrained) transferred to 3 classes of the user's, 40 numbers per example; no zero-shot score
    or published reference, which need the same labels."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 150)
    x = (rng.normal(size=(150, 40)) + y[:, None] * 0.8).astype(np.float32)
    if kind == "csv":
        rows = [",".join([*(f"f{i}" for i in range(40)), "label"])]
        rows += [",".join(f"{v:.4f}" for v in row) + f",c{k}" for row, k in zip(x, y)]
        (tmp_path / "target.csv").write_text("\n".join(rows) + "\n")
        argv = ["--target-data", f"csv:{tmp_path / 'target.csv'}", "--target-column", "label"]
    else:
        np.savez(tmp_path / "target.npz", x=x[:, :, None], y=y)  # (n, 40, 1): flattened to 40
        argv = ["--target-data", f"npz:{tmp_path / 'target.npz'}"]
    out = tmp_path / "out"
    argv += ["--pretrained", str(quick_outputs.folder("transfer_learning") / "models/source.keras")]
    assert recipe.main([*argv, "--quick", "--output-dir", str(out)]) == 0
    metrics = assert_outputs_contract(out, "transfer_learning", figures=("accuracy_vs_labels",))
    results = metrics["results"]
    assert results["target"]["classes"] == (["c0", "c1", "c2"] if kind == "csv" else ["0", "1", "2"])
    assert results["target"]["test"] == 30 and sum(results["target"]["pool_per_class"]) == 120
    assert "zero_shot_target_accuracy" not in results and metrics["references"] == []
    assert "full" not in results["curves"]  # the source's head cannot be copied to other labels
    finetuned = results["curves"]["finetune"]["all"]["test_accuracy"]
    assert finetuned > 0.5  # chance is 1/3: the copied features, fine-tuned, learn the user's task


def test_a_user_target_whose_test_classes_are_missing_from_the_pool_is_refused(tmp_path):
    """A class of one example that the 20% hold-out puts in the test set: nothing to learn it from
    (once the run reported 0.000 for it); refused with one line naming the class."""
    from sklearn.model_selection import train_test_split

    n = 30
    _, test = train_test_split(np.arange(n), test_size=0.2, random_state=0)  # the recipe's split
    y = np.array(["a", "b"] * (n // 2), dtype=object)
    y[test[0]] = "lonely"
    np.savez(tmp_path / "t.npz", x=np.zeros((n, 40), np.float32), y=y.astype(str))
    argv = ["--target-data", f"npz:{tmp_path / 't.npz'}", "--quick"]
    line = assert_bad_input(  # refused as it is read: a class of one example, named
        "transfer_learning", argv, "1 of its 3 classes have one example ('lonely')", tmp_path / "o"
    )
    assert "a class needs at least two" in line
