"""Unit tests of common/: flags, atomic writes, the metrics schema, data loaders, plots."""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

from common import cli, data, plotting, results, training
from common.errors import UsageError
from recipes import NAMES
from recipes.mlp_classifier import datasets
from tests.conftest import assert_png


def parse(argv, **kwargs):
    parser = cli.recipe_parser(
        "demo", "demo", default_epochs=3, datasets=("digits", "mnist1d"), **kwargs
    )
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--seeds", "-2"], "--seeds: must be at least 1, got -2"),
        (["--seed", "-1"], "--seed: must be between 0 and 2147483647, got -1"),
        (["--epochs", "ten"], "expected an integer"),
        (["--dataset", "cifar"], "unknown data set 'cifar'; valid: digits, mnist1d"),
    ],
)
def test_bad_shared_flags_exit_2_with_one_line(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1, err


def test_shared_flags_defaults_and_csv(tmp_path, capsys):
    args = parse([])
    assert (args.epochs, args.seed, args.seeds, args.quick, args.resume) == (3, 0, 1, False, False)
    assert args.output_dir == "outputs/demo" and args.dataset == "digits"
    assert parse(["--quick"]).output_dir == "outputs/quick/demo"  # never over the full run's results
    assert parse(["--quick", "--output-dir", "x"]).output_dir == "x"
    table = tmp_path / "t.csv"
    table.write_text("a,y\n1,0\n")
    assert parse(["--dataset", f"csv:{table}"], allow_csv=True).dataset == f"csv:{table}"
    with pytest.raises(SystemExit):
        parse(["--dataset", f"csv:{table}"])  # a recipe that takes no tables
    with pytest.raises(SystemExit):  # a missing table fails while the flags are parsed, up front
        parse(["--dataset", f"csv:{tmp_path}/none.csv"], allow_csv=True)
    assert "none.csv: no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, content",
    [
        ("excel_utf8.csv", "\ufeffspecies,a,b\nx,1,2\ny,3,4\nx,1,3\ny,4,4\n"),  # BOM, target first
        ("semicolons.csv", "species;a;b\nx;1;2\ny;3;4\nx;1;3\ny;4;4\n"),
        ("tabs.tsv", "species\ta\tb\nx\t1\t2\ny\t3\t4\nx\t1\t3\ny\t4\t4\n"),
        ("quoted.csv", 'species,a,b\n"x",1,2\n"y",3,4\n"x",1,3\n"y",4,4\n'),
    ],
)
def test_a_user_csv_may_carry_a_byte_order_mark_and_use_semicolons_or_tabs(name, content, tmp_path):
    from common.data import load_csv_table

    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    x, y, classes, columns, _ = load_csv_table(path, "species")
    assert columns == ["a", "b"] and classes == ["x", "y"]
    np.testing.assert_array_equal(x, [[1, 2], [3, 4], [1, 3], [4, 4]])
    assert list(y) == [0, 1, 0, 1]


def test_comma_list_rejects_unknown_names():
    parse_list = cli.comma_list(["relu", "tanh"])
    assert parse_list("relu, tanh,relu") == ["relu", "tanh"]
    with pytest.raises(Exception, match="unknown gelu; valid: relu, tanh"):
        parse_list("relu,gelu")


def test_comma_list_converts_sorts_and_counts_items():
    lengths = cli.comma_list(item=int, noun="length", sort_key=int)
    assert lengths("50, 25,50") == [25, 50]
    pair = cli.comma_list(item=int, noun="class", minimum=2)
    with pytest.raises(Exception, match="needs at least 2 classes, got 1"):
        pair("3,3")
    baselines = cli.comma_list(["lr", "arf"], noun="baseline", none=True)
    assert baselines("none") == [] and baselines("arf,lr") == ["arf", "lr"]
    with pytest.raises(Exception, match="unknown baseline sgd; valid: lr, arf, none"):
        baselines("sgd")
    with pytest.raises(Exception, match="got nothing"):
        baselines(" , ")


def test_parser_adds_epochs_and_tensorboard_only_where_asked():
    bare = cli.recipe_parser("demo", "demo")
    assert not {"--epochs", "--tensorboard"} & set(bare._option_string_actions)
    full = cli.recipe_parser("demo", "demo", default_epochs=3, tensorboard=True)
    assert {"--epochs", "--tensorboard"} <= set(full._option_string_actions)


def test_atomic_write_with_keeps_the_suffix_a_writer_needs(tmp_path):
    seen = []

    def write(tmp):
        seen.append(tmp)
        Path(tmp).write_text("weights")

    target = tmp_path / "model.weights.h5"
    results.atomic_write_with(target, write)
    assert seen[0].endswith(".weights.h5") and Path(seen[0]).name.startswith(".")
    assert target.read_text() == "weights" and os.listdir(tmp_path) == ["model.weights.h5"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        results.atomic_write_text(tmp_path / "metrics.json", "{}")
        results.atomic_write_with(tmp_path / "model.keras", lambda tmp: Path(tmp).write_text("m"))
    finally:
        os.umask(old)
    for name in ("metrics.json", "model.keras"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_atomic_write_replaces_whole_file_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    results.atomic_write_text(target, "first")
    results.atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert sorted(os.listdir(target.parent)) == ["file.txt"]


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "file.txt"
    results.atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", broken_replace)
    with pytest.raises(OSError):
        results.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["file.txt"]


def test_metrics_schema_and_json(tmp_path):
    metrics = results.build_metrics(
        "demo",
        {"epochs": 2, "output_dir": tmp_path},
        {"acc": np.float32(0.5), "curve": np.arange(3), "bad": float("nan")},
        [{"name": "ref", "value": 0.9, "source": "paper"}],
        1.23456,
        env={
            "python": "3",
            "tensorflow": "x",
            "keras": "3",
            "numpy": "2",
            "device": "CPU",
            "platform": "p",
        },
    )
    path = results.write_metrics(tmp_path, metrics)
    loaded = json.loads(path.read_text())
    assert list(loaded) == list(results.SCHEMA_KEYS)
    assert loaded["results"] == {"acc": 0.5, "curve": [0, 1, 2], "bad": None}
    assert loaded["duration_s"] == 1.235
    assert results.load_metrics(tmp_path) == loaded
    with pytest.raises(ValueError, match="missing"):
        results.write_metrics(tmp_path, {"recipe": "demo"})


def test_environment_names_every_field():
    from common.device import cpu_count, describe_device, intra_op_threads

    env = results.environment(describe_device(), intra_op_threads(), cpu_count())
    core = {"python", "backend", "tensorflow", "keras", "numpy", "device", "threads", "platform"}
    core |= {"cpu", "cores", "jax", "torch"}
    assert set(env) == core | {"scikit-learn", "scipy", "river", "mnist1d", "matplotlib"}
    assert env["backend"] == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert env["keras"].startswith("3.")
    import importlib.metadata

    assert env["river"] == importlib.metadata.version("river")  # read from the installed package
    assert env["device"].startswith(("CPU", "GPU"))
    if env["backend"] != "jax":  # JAX's XLA takes every core
        assert env["threads"] == 1  # tests/conftest.py: one intra-op thread for every run
    assert env["cpu"] and env["cpu"] != "unknown" and env["cores"] >= 1  # the machine of the times


def test_arrays_round_trip(tmp_path):
    results.save_arrays(tmp_path, "small", a=np.arange(4), b=np.eye(2))
    loaded = results.load_arrays(tmp_path, "small")
    np.testing.assert_array_equal(loaded["a"], np.arange(4))
    np.testing.assert_array_equal(loaded["b"], np.eye(2))


def test_digits_split_is_the_gallery_split():
    split = data.load_digits_split()
    assert len(split.x_train) + len(split.x_val) == 898  # the first half
    assert len(split.x_test) == 899
    from sklearn.datasets import load_digits

    np.testing.assert_array_equal(split.x_test, load_digits().data[898:].astype(np.float32))
    assert split.image_shape == (8, 8) and split.num_classes == 10


def test_mnist1d_is_generated_locally_with_published_sizes():
    split = data.load_mnist1d_split()
    assert len(split.x_train) + len(split.x_val) == 4000
    assert split.x_test.shape == (1000, 40)
    assert set(np.unique(split.y_test)) == set(range(10))


def test_a_generated_mnist1d_set_is_kept_and_read_back_as_generated(tmp_path, monkeypatch):
    """Kept by mnist1d version and every argument: read back equal to a fresh generation, another
    argument is another file, and a damaged file is generated again, not trusted."""
    from mnist1d.data import get_dataset_args, make_dataset

    monkeypatch.setenv("RECIPES_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_generated", {})
    first = data.mnist1d_dataset(seed=5, num_samples=200)
    (kept,) = tmp_path.glob("mnist1d-*.npz")
    args = get_dataset_args()
    args.seed, args.num_samples = 5, 200
    fresh = make_dataset(args)
    for name in data.MNIST1D_ARRAYS:
        assert np.array_equal(first[name], fresh[name]), name
    monkeypatch.setattr(data, "_generated", {})  # a new process: read from the file
    again = data.mnist1d_dataset(seed=5, num_samples=200)
    assert all(np.array_equal(again[name], fresh[name]) for name in data.MNIST1D_ARRAYS)
    again["x"][:] = 0  # a copy: the kept set is not changed through it
    assert np.array_equal(data.mnist1d_dataset(seed=5, num_samples=200)["x"], fresh["x"])
    data.mnist1d_dataset(seed=6, num_samples=200)
    assert len(list(tmp_path.glob("mnist1d-*.npz"))) == 2
    kept.write_bytes(kept.read_bytes()[:100])  # damaged
    monkeypatch.setattr(data, "_generated", {})
    assert np.array_equal(data.mnist1d_dataset(seed=5, num_samples=200)["x"], fresh["x"])


def write_csv(path, text):
    path.write_text(text)
    return f"csv:{path}"


def test_csv_table_loads_numbers_and_names_classes(tmp_path):
    rows = "\n".join(f"{i},{i % 3 * 1.5},{'yes' if i % 2 else 'no'}" for i in range(20))
    spec = write_csv(tmp_path / "t.csv", "a,b,label\n" + rows + "\n")
    split = datasets.load_csv_split(spec, "label")
    assert split.class_names == ["no", "yes"]
    assert split.num_features == 2
    assert len(split.x_train) + len(split.x_val) + len(split.x_test) == 20


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("", "y", "is empty"),
        ("a,b\n1,2\n", "y", "has no column 'y'; columns: a, b"),
        ("a,y\n1,0\n,1\n", "y", "line 3: column 'a' has no value"),
        ("a,y\n" + "".join(f"t{i},{i % 2}\n" for i in range(51)), "y", "51 distinct values, too many"),
        ("a,y\n1,0\n2\n", "y", "line 3: 1 fields"),
        ("a,y\n", "y", "header but no rows"),
        ("a,y\n1,0\n2,0\n", "y", "only one class"),
        ("a,y\nnan,0\n2,1\n", "y", "line 2: column 'a' holds 'nan', NaN or infinite"),
        ("a,b,y\n1,2,0\n3,inf,1\n", "y", "line 3: column 'b' holds 'inf', NaN or infinite"),
        ("a,y\n1,0\n3e38,1\n", "y", r"line 3: column 'a' holds '3e38', beyond ±1e\+15; rescale"),
        ("a,y\n1e39,0\n2,1\n", "y", r"line 2: column 'a' holds '1e39', beyond"),  # finite in float64
        ("y,a,y\n0,1,0\n1,2,1\n", "y", r"column 'y' appears twice in the header \(columns 1 and 3\)"),
        ("a,,y\n0,1,0\n", "y", "column 2 of the header has no name"),
        ("a,y\n1,0\n2,\n3,1\n", "y", "line 3: target 'y' has no value"),
        ("1,0\n2,1\n", "y", r"its first line \(1,0\) holds numbers, not a header line .*needed: y"),
        (
            'a,y\n"4,5",0\n"2,5",1\n',
            "y",
            r"column 'a' holds numbers written with a decimal comma \('4,5'\)",
        ),
    ],
)
def test_bad_csv_gets_a_clear_usage_error(tmp_path, text, target, message):
    spec = write_csv(tmp_path / "bad.csv", text)
    with warnings.catch_warnings(), pytest.raises(UsageError, match=message):
        warnings.simplefilter("error")  # one line, no RuntimeWarning before it
        datasets.load_csv_split(spec, target)


def test_a_duplicated_target_column_is_refused_by_every_csv_reader(tmp_path):
    """A second `label` column must not become a feature (a label leak): the one header reader
    refuses it, for the mlp_classifier / transfer_learning table and the online_learning stream."""
    from recipes.online_learning.streams import load_csv_stream

    rows = "".join(f"{i % 7},{i % 2},{i % 2}\n" for i in range(20))
    path = write_csv(tmp_path / "leak.csv", "noise,label,label\n" + rows)[4:]
    for read in (
        lambda: data.load_csv_table(path, "label"),
        lambda: load_csv_stream(path, "label", None, 20),
    ):
        with pytest.raises(UsageError, match="column 'label' appears twice in the header"):
            read()


@pytest.mark.parametrize(
    "y",
    [
        np.array([0.0, 1.0, np.nan, 1.0] * 3),
        np.array([0.0, 1.0, np.inf, 1.0] * 3),  # once a class of its own
        np.array(["a", "b", "", "a"] * 3),
        np.array(["a", "b", "  ", "a"] * 3),
    ],
    ids=["nan", "inf", "empty", "blank"],
)
def test_a_missing_npz_label_is_refused_not_made_a_class(tmp_path, y):
    np.savez(tmp_path / "y.npz", x=np.zeros((12, 3), np.float32), y=y)
    with pytest.raises(
        UsageError, match="y has no label for example 2 \\(NaN, infinite, empty or a missing-value text"
    ):
        data.read_labelled_npz(f"npz:{tmp_path / 'y.npz'}")
    np.savez(tmp_path / "ok.npz", x=np.zeros((12, 3), np.float32), y=np.arange(12) % 3)
    assert data.read_labelled_npz(f"npz:{tmp_path / 'ok.npz'}")[2] == ["0", "1", "2"]


@pytest.mark.parametrize(
    "x, message",
    [
        (np.ones((12, 2), np.complex64), "x must hold real numbers, got complex64"),
        (np.full((12, 2, 2), 3e38, np.float32), r"x: value 3e\+38 at row 1 is beyond"),
        (np.array([[1.0, np.inf]] * 12), r"x: NaN or infinite value at row 1"),
    ],
    ids=["complex", "huge", "inf"],
)
def test_npz_features_that_would_break_training_are_refused(tmp_path, x, message):
    np.savez(tmp_path / "x.npz", x=x, y=np.arange(12) % 3)
    with warnings.catch_warnings(), pytest.raises(UsageError, match=message):
        warnings.simplefilter("error")
        data.read_labelled_npz(f"npz:{tmp_path / 'x.npz'}")


def test_an_npy_file_under_an_npz_name_is_refused_in_one_line(tmp_path):
    with open(tmp_path / "x.npz", "wb") as handle:
        np.save(handle, np.zeros((12, 3)))
    with pytest.raises(UsageError, match="x.npz as .npz: it holds one array \\(a .npy file\\)"):
        data.read_labelled_npz(f"npz:{tmp_path / 'x.npz'}")


def test_many_classes_of_few_rows_split_without_stratifying():
    """1 000 classes of 3 rows: no held-out part can hold one of each, so the split is a plain random
    one (it was a scikit-learn traceback); where stratifying can work, it still stratifies."""
    y = np.repeat(np.arange(1000), 3)
    x = np.arange(len(y), dtype=np.float32)[:, None]
    x_rest, y_rest, x_test, y_test = data.hold_out_test("many", x, y, seed=0, stratify_from=3)
    x_tr, y_tr, x_val, y_val = data.carve_validation(x_rest, y_rest, 0.25, seed=0)
    assert (len(y_tr), len(y_val), len(y_test)) == (1800, 600, 600)
    assert data.stratified(y, 0.2, 3) is None
    few = np.repeat(np.arange(4), 10)
    assert data.stratified(few, 0.2, 3) is few  # 8 held out, 4 classes: stratified


def test_a_text_column_is_one_hot_encoded_and_said_so(tmp_path, capsys):
    text = "size,colour,y\n" + "".join(
        f"{i},{('red', 'blue', 'green')[i % 3]},{i % 2}\n" for i in range(12)
    )
    x, y, classes, features, _ = data.load_csv_table(write_csv(tmp_path / "t.csv", text)[4:], "y")
    assert features == ["size", "colour=blue", "colour=green", "colour=red"]
    np.testing.assert_array_equal(x[:3], [[0, 0, 0, 1], [1, 1, 0, 0], [2, 0, 1, 0]])
    assert "text columns one-hot encoded: 'colour' (3: blue, green, red)" in capsys.readouterr().out


def test_csv_missing_file_and_missing_target(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        datasets.load_csv_split(f"csv:{tmp_path / 'none.csv'}", "y")
    with pytest.raises(UsageError, match="needs --target"):
        datasets.load_csv_split(f"csv:{tmp_path / 'none.csv'}", None)


def test_offline_keras_dataset_says_what_to_download_and_where(monkeypatch, tmp_path):
    import keras

    def offline(*args, **kwargs):
        raise OSError("network unreachable")  # what an offline machine gets; nothing is fetched

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(UsageError) as info:
        datasets.load_keras_images("fashion_mnist")
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "datasets" / "fashion-mnist") in message


def test_mean_band_handles_runs_of_different_lengths():
    mean, std = plotting.mean_band([[1.0, 2.0, 3.0], [3.0, 4.0]])
    np.testing.assert_allclose(mean, [2.0, 3.0, 3.0])
    np.testing.assert_allclose(std, [1.0, 1.0, 0.0])


def test_shared_plots_write_pngs(tmp_path):
    curves = {"a": {"loss": [[1.0, 0.5], [0.9, 0.4, 0.3]], "val_loss": [[1.1, 0.6], [1.0, 0.5]]}}
    plotting.plot_learning_curves(curves, tmp_path / "curves.png", "t", panels=(("loss", "loss"),))
    plotting.plot_bars(
        {"x": 0.5, "y": 0.7}, tmp_path / "bars.png", "t", "acc", {"x": 0.1}, {"paper": 0.6}
    )
    plotting.plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"], tmp_path / "cm.png", "t")
    for name in ("curves.png", "bars.png", "cm.png"):
        assert_png(tmp_path / name)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_a_confusion_matrix_of_a_thousand_classes_is_a_bounded_heat_map(tmp_path):
    """1 000 classes drew a figure of ~54 000 px square (~12 GB) after all the training; above 50
    classes it is a heat map of fixed size, without a count per cell."""
    from PIL import Image

    matrix = np.eye(1000, dtype=np.int64) * 3
    names = [f"c{i}" for i in range(1000)]
    plotting.plot_confusion_matrix(matrix, names, tmp_path / "cm.png", "t")
    with Image.open(tmp_path / "cm.png") as image:
        assert max(image.size) <= 2000, image.size
    assert_png(tmp_path / "cm.png")


def test_seeding_makes_keras_initialisation_repeatable():
    import keras

    from common.training import seed_everything

    weights = []
    for _ in range(2):
        seed_everything(3)
        layer = keras.layers.Dense(4)
        layer.build((None, 5))
        weights.append(layer.get_weights()[0])
    np.testing.assert_array_equal(weights[0], weights[1])


def test_reinitialize_draws_fresh_weights_per_seed_and_resets_the_optimizer():
    import keras

    from common.training import reinitialize, seed_everything

    seed_everything(0)
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)]
    )
    model.compile(keras.optimizers.Adam(0.01), loss="mse")
    x, y = np.ones((8, 5), np.float32), np.zeros((8, 2), np.float32)
    model.fit(x, y, epochs=2, verbose=0)
    traced = model.train_function
    drawn = {}
    for seed in (1, 2, 1):
        seed_everything(seed)
        reinitialize(model)
        assert int(model.optimizer.iterations.numpy()) == 0
        assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.01)
        kernel = model.layers[0].kernel.numpy()
        if seed in drawn:
            np.testing.assert_array_equal(kernel, drawn[seed])  # same seed, same weights
        drawn[seed] = kernel
        np.testing.assert_array_equal(model.layers[0].bias.numpy(), 0)
    assert not np.array_equal(drawn[1], drawn[2])  # another seed, other weights
    model.fit(x, y, epochs=1, verbose=0)
    assert model.train_function is traced  # nothing was traced again


def test_reinitialize_with_a_seed_gives_a_fresh_model_of_that_seed_without_reseeding():
    """`reinitialize_weights(model, seed)` gives the weights a model built right after
    `seed_everything(seed)` has, whatever the global seed is, and leaves the global seed alone."""
    import random

    import keras

    from common.training import reinitialize_weights, seed_everything

    def build():  # BatchNormalization too: its statistics and scale, not only kernels and biases
        inputs = keras.Input((6, 2))
        hidden = keras.layers.Conv1D(4, 3, activation="relu")(inputs)
        hidden = keras.layers.BatchNormalization()(hidden)
        hidden = keras.layers.Flatten()(keras.layers.Dense(8, activation="relu")(hidden))
        return keras.Model(inputs, keras.layers.Dense(3)(hidden))

    rows = np.random.default_rng(0).normal(size=(16, 6, 2)).astype(np.float32)
    for seed in (7, 8):
        seed_everything(seed)
        fresh = build().get_weights()
        model = build()
        model.compile("adam", "mse")
        model.fit(rows + 3, np.ones((16, 3)), epochs=2, verbose=0)  # every weight moves
        assert not any(np.array_equal(a, b) for a, b in zip(model.get_weights(), fresh))
        seed_everything(123)
        after_global_seed = random.random()
        seed_everything(123)
        reinitialize_weights(model, seed)
        assert random.random() == after_global_seed, "the global generator was not used"
        for got, expected in zip(model.get_weights(), fresh):
            np.testing.assert_array_equal(got, expected)


def test_reset_optimizer_zeroes_state_but_keeps_the_learning_rate():
    import keras

    from common.training import reset_optimizer

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.02), loss="mse")
    model.fit(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32), epochs=1, verbose=0)
    assert any(np.any(v.numpy()) for v in model.optimizer.variables if "momentum" in v.name)
    reset_optimizer(model.optimizer)
    assert int(model.optimizer.iterations.numpy()) == 0
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.02)
    assert not any(np.any(v.numpy()) for v in model.optimizer.variables if v.name != "learning_rate")


def harness_args(**flags) -> Namespace:
    import tempfile

    folder = tempfile.mkdtemp(prefix="harness-")  # a run's stages are recorded under its folder
    values = dict(quick=False, seed=3, seeds=2, epochs=30, output_dir=folder, items=None)
    return Namespace(**{**values, **flags})


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda out: (out / ".checkpoint").write_text("x"), ".checkpoint is a file where the run"),
        (lambda out: (out / "models").write_text("x"), "models is a file where the run writes a folder"),
        (lambda out: (out / "metrics.json").mkdir(), "metrics.json is a folder where the run writes a"),
    ],
    ids=["checkpoint-file", "models-file", "metrics-folder"],
)
def test_a_file_or_folder_in_the_way_is_refused_before_anything_runs(tmp_path, make, message):
    """Found only after all the training before (a traceback); now one line from the harness."""
    from common.harness import Harness

    out = tmp_path / "out"
    out.mkdir()
    make(out)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(UsageError, match=message):
        Harness("demo", harness_args(output_dir=str(out)))
    assert sorted(p.name for p in out.iterdir()) == before


def test_worker_timeout_changes_nothing_a_resumed_run_must_repeat():
    from common.checkpoint import fingerprint

    one, other = (fingerprint("demo", harness_args(worker_timeout=t)) for t in (5.0, 60.0))
    assert one == other and "worker_timeout" not in one["flags"]


def test_quick_sets_its_flags_unless_one_is_given_and_help_says_what_it_sets():
    from common.cli import describe_quick, recipe_parser

    parser = recipe_parser("demo", "demo", default_epochs=30, default_seeds=3)
    parser.add_argument("--cells", default=None)
    parser.set_quick({"epochs": 1, "seeds": 1, "cells": ("simple",)}, also="300 examples")
    args = parser.parse_args([])
    assert (args.epochs, args.seeds, args.cells) == (30, 3, None) and parser.quick_applied == {}
    args = parser.parse_args(["--quick"])
    assert (args.epochs, args.seeds, args.cells) == (1, 1, ["simple"])
    args = parser.parse_args(["--quick", "--epochs", "5", "--cells=gru", "--seeds", "3"])
    assert (args.epochs, args.seeds, args.cells) == (5, 3, "gru")  # given beside --quick: it wins
    assert parser.quick_applied == {} and args.output_dir == "outputs/quick/demo"
    parser.parse_args(["--epochs", "5", "--quick"])  # in any order
    assert parser.quick_applied == {"seeds": 1, "cells": ("simple",)}
    assert describe_quick(parser) == (
        "--quick: --seeds 1 --cells simple (a smoke run: a flag given beside --quick wins)"
    )
    text = " ".join(parser.format_help().split())
    assert "--epochs 1 --seeds 1 --cells simple; 300 examples (a flag given beside --quick wins)" in text
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.set_quick({"hidden": [32, 16]})  # a flag of several values: typed apart, not with commas
    parser.parse_args(["--quick"])
    assert describe_quick(parser).startswith("--quick: --hidden 32 16 (")


def test_harness_seed_loop_gives_one_per_seed_schema(capsys):
    from common.harness import Harness, seed_summary

    harness = Harness("demo", harness_args())
    seeds = harness.seeds("relu", describe=lambda r: f"{r['accuracy']:.1f}")
    for seed in seeds:  # the story's own loop; the harness records each seed as a stage
        seeds.record({"accuracy": seed / 10, "items_per_second": seed})
    records = seeds.records
    assert records == [
        {"seed": 3, "accuracy": 0.3, "items_per_second": 3},
        {"seed": 4, "accuracy": 0.4, "items_per_second": 4},
    ]
    out = capsys.readouterr().out  # each seed's line, with the time so far (and left, before the last)
    assert re.search(r"relu seed 3 \(1/2, \d+ s, about \d+ s left\): 0\.3", out), out
    assert re.search(r"relu seed 4 \(2/2, \d+ s\): 0\.4", out), out
    summary = seed_summary(records, "accuracy", median=("items_per_second",))
    assert list(summary) == ["accuracy", "accuracy_std", "items_per_second", "per_seed"]
    assert summary["accuracy"] == pytest.approx(0.35) and summary["accuracy_std"] == pytest.approx(0.05)
    assert summary["items_per_second"] == 3.5


def test_a_resumed_run_reads_back_the_stages_and_seeds_its_story_recorded(tmp_path):
    """The story loops and computes; the harness records: on --resume, a finished stage is `done`
    with its `result` (NumPy arrays kept), and the seed loop yields only the seeds left to train."""
    from common.harness import Harness

    flags = dict(output_dir=str(tmp_path / "run"), seeds=3)
    first = Harness("demo", harness_args(**flags))
    stage = first.stage("data")
    assert not stage.done and stage.result is None
    assert stage.record({"mean": np.arange(3.0)})["mean"].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(RuntimeError, match="recorded already"):
        stage.record({})
    seeds = first.seeds("fit")
    for seed in seeds:
        if seed == 4:
            break  # the run is stopped after its first seed
        seeds.record({"accuracy": seed / 10})
    first.checkpoint.release()

    again = Harness("demo", harness_args(**flags, resume=True))
    stage = again.stage("data")
    assert stage.done and stage.result["mean"].tolist() == [0.0, 1.0, 2.0]
    seeds, trained = again.seeds("fit"), []
    for seed in seeds:
        trained.append(seed)
        seeds.record({"accuracy": seed / 10})
    assert trained == [4, 5]  # seed 3 was read back, not trained again
    assert seeds.records == [{"seed": s, "accuracy": s / 10} for s in (3, 4, 5)]
    with pytest.raises(RuntimeError, match="recorded nothing"):
        for _ in again.seeds("forgotten"):
            pass  # a loop body that records nothing is a mistake, named at once


def test_harness_checks_are_stored_and_printed_one_way(tmp_path, capsys):
    from common.harness import Harness, expectation

    assert expectation(0.5, between=(0.1, 10)) == {
        "value": 0.5,
        "expected": "in [0.1, 10]",
        "holds": True,
    }
    assert expectation(0.2, below=0.01)["holds"] is False
    with pytest.raises(TypeError):
        expectation(0.2, below=0.01, above=0.0)
    harness = Harness("demo", harness_args(output_dir=str(tmp_path)))
    assert harness.check("gru_accuracy", 0.98, at_least=0.97)
    assert not harness.check("simple_mse", 0.05, above=0.1)
    with harness.finish({"a": 1.0}, []) as metrics:
        assert not (tmp_path / "metrics.json").exists()  # the block draws the figures first
    assert (tmp_path / ".files.json").is_file()
    assert metrics["results"]["checks"]["simple_mse"] == {
        "value": 0.05,
        "expected": "> 0.1",
        "holds": False,
    }
    out = capsys.readouterr().out
    assert "check gru_accuracy: 0.98 >= 0.97: holds" in out and "DOES NOT HOLD" in out
    assert json.loads((tmp_path / "metrics.json").read_text())["results"]["a"] == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_the_numbers_are_written_before_a_figure_can_fail(name):
    """Each story writes metrics.json (`harness.finish`) and only then draws its figures itself
    (`plot(metrics, harness.out_dir)`): a figure that fails loses no training."""
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(f"recipes.{name}.recipe").run)
    finish, draw = source.find("harness.finish("), source.find("plot(metrics, harness.out_dir)")
    assert 0 < finish < draw, "the figures are drawn after metrics.json is written"


def test_epoch_shuffled_draws_each_epochs_order_from_the_seed_and_epoch_and_fits_without_warning():
    """Every epoch all rows once, in the order (seed, epoch) says, the same however it is fed (a
    PyDataset; tf.data on TensorFlow); `start_at` picks the epoch a resumed fit starts at; and a fit
    on it says nothing of running out of data (its length is known)."""
    import keras

    x, y = np.arange(10, dtype=np.float32)[:, None], np.arange(10)
    train = training.epoch_shuffled(x, y, 4, seed=3)
    shuffled = getattr(train, "shuffled", train)
    assert len(shuffled) == 3

    def epoch():
        if keras.config.backend() == "tensorflow":
            return [rows.numpy().ravel().tolist() for rows, _ in train]
        shuffled.on_epoch_begin()
        return [shuffled[i][0].ravel().tolist() for i in range(len(shuffled))]

    first, second = epoch(), epoch()
    expected = [np.random.default_rng([3, e]).permutation(10).tolist() for e in (0, 1)]
    assert sum(first, []) == expected[0] and sum(second, []) == expected[1]
    assert [len(b) for b in first] == [4, 4, 2]
    training.start_at(train, 1)
    assert epoch() == second
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        model.fit(training.epoch_shuffled(x, y, 4, seed=3), epochs=2, shuffle=False, verbose=0)
    assert not [w for w in said if "ran out of data" in str(w.message)]


@pytest.mark.parametrize("progress", [True, False])
def test_a_long_fit_says_where_it_is_unless_asked_not_to(progress, monkeypatch, capsys, tmp_path):
    import keras

    from common.checkpoint import FitCheckpoint

    monkeypatch.setattr(training, "PROGRESS_EVERY_S", 0.0)  # every epoch counts as long
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = np.zeros((8, 2), np.float32), np.zeros(8, np.int64)
    train = training.epoch_shuffled(x, y, 4, seed=0)
    fit = FitCheckpoint(tmp_path / "fit")
    callback = training.run_callback(fit, train, [], progress=progress)
    model.fit(train, epochs=3, shuffle=False, verbose=0, callbacks=[callback])
    lines = [line for line in capsys.readouterr().out.splitlines() if "epoch" in line]
    if progress:
        assert [line.split(",")[0].strip() for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
        assert "loss " in lines[0]
        assert "about" in lines[0] and "left" in lines[0] and "left" not in lines[2]  # time left
    else:
        assert lines == []


def test_progress_off_a_terminal_is_a_clean_line_now_and_then_never_a_bar(monkeypatch, capsys):
    """Where stderr is no terminal (a log; `python -m recipes all` reads each recipe's output), a
    long loop prints one line at a time, with the time taken and the time left, and no bar state."""
    monkeypatch.setattr(training, "PROGRESS_EVERY_S", 0.0)  # every step counts as long
    progress = training.Progress(100, "sea/river_lr", "items")
    for _ in range(4):
        progress.update(25, "rolling accuracy 0.800")
    progress.close()
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split(",")[0].strip() for line in lines] == [
        "sea/river_lr: 25/100 items",
        "sea/river_lr: 50/100 items",
        "sea/river_lr: 75/100 items",
        "sea/river_lr: 100/100 items",
    ]
    assert "left" in lines[0] and "left" not in lines[-1]
    assert "\r" not in out + err and "%|" not in out + err
    training.Progress(10, "hidden", "items", show=False).update(10)
    assert capsys.readouterr() == ("", "")


def test_a_header_of_numbered_columns_that_names_the_target_is_a_header(tmp_path):
    """pandas writes a frame of unnamed columns with the header 0,1,2: a header, since it holds the
    target asked for; its first row of data is kept."""
    rows = "".join(f"{i % 5},{i % 3},{i % 2}\n" for i in range(20))
    path = write_csv(tmp_path / "numbered.csv", "0,1,2\n" + rows)[4:]
    header, body = data.read_csv_rows(path, "2", "--dataset")
    assert header == ["0", "1", "2"] and len(body) == 20


def test_an_npz_whose_header_declares_more_than_it_holds_is_refused_before_it_is_read(tmp_path):
    """A header declaring 16 PiB for a few bytes of data: one line naming the array and the sizes,
    and nothing allocated (once: allocated, then a traceback). (An array the file does hold but this
    machine's memory cannot is refused by the same size check: `data.check_fits`.)"""
    import io
    import zipfile

    forged = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (2**40, 4096)}
    np.lib.format.write_array_header_1_0(forged, header)
    labels = io.BytesIO()
    np.save(labels, np.zeros(2))
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", forged.getvalue() + b"\0" * 64)
        archive.writestr("y.npy", labels.getvalue())
    message = r"array x declares shape \(1099511627776, 4096\) of float32 \(16\.0 PiB\), but the"
    with pytest.raises(UsageError, match=message):
        data.read_labelled_npz(f"npz:{path}")
    with pytest.raises(UsageError, match="more than this machine's"):
        data.check_fits(2**60, "a test")


def test_decimal_commas_in_a_semicolon_csv_are_numbers_not_categories(tmp_path):
    """`4,5;2,5;no` as a spreadsheet writes it where the decimal mark is a comma: two numeric
    features (once: 37 one-hot columns made of the texts '4,5', ...), in every reader of a CSV."""
    rows = "".join(f"{i},5;{i % 3},25;{'yes' if i % 2 else 'no'}\n" for i in range(20))
    spec = write_csv(tmp_path / "decimal.csv", "a;b;label\n" + rows)
    x, y, names, features, columns = data.load_csv_table(spec[4:], "label")
    assert features == ["a", "b"] and x.shape == (20, 2)
    np.testing.assert_allclose(x[3], [3.5, 0.25])
    assert all(column["values"] is None for column in columns)


def test_npz_labels_are_read_as_csv_labels_are(tmp_path):
    """Stripped, byte strings as their text (once shown as b'a'), a float target of many distinct
    decimals refused as a quantity to regress (once 500 classes and accuracy 0.000)."""
    x = np.zeros((12, 3), np.float32)
    np.savez(tmp_path / "b.npz", x=x, y=np.array([b"a ", b"b", b" a", b"b"] * 3))
    assert data.read_labelled_npz(f"npz:{tmp_path / 'b.npz'}")[2] == ["a", "b"]
    np.savez(tmp_path / "f.npz", x=np.zeros((500, 3), np.float32), y=np.linspace(0, 1, 500))
    with pytest.raises(UsageError, match="500 distinct decimal numbers .*a quantity to regress"):
        data.read_labelled_npz(f"npz:{tmp_path / 'f.npz'}")


def test_a_target_and_a_column_named_as_it_but_for_case_are_refused(tmp_path):
    """`label` and `Label`: the second copy of the target would be a feature (accuracy 0.92 against
    0.33 without it): the leak of issue 28, one letter away."""
    rows = "".join(f"{i % 7},{i % 2},{i % 2}\n" for i in range(20))
    path = write_csv(tmp_path / "case.csv", "noise,label,Label\n" + rows)[4:]
    with pytest.raises(UsageError, match="columns 'label' and 'Label' differ only in case"):
        data.load_csv_table(path, "label")


def test_the_random_shift_is_whole_steps_in_range_with_its_fill_and_off_at_inference():
    """The shift that replaced RandomTranslation: each example moved by a whole number of steps, up
    to the bound and every value of it drawn, the uncovered end repeated (signals) or 0 (images);
    the inputs as they are at inference."""
    import keras

    from common.augment import random_shift_layer

    shift = random_shift_layer()
    signal = np.arange(1, 41, dtype=np.float32)[None].repeat(400, 0)
    moved = keras.ops.convert_to_numpy(shift((4,), "nearest", seed=0)(signal, training=True))
    steps = np.arange(40)
    seen = set()
    for row in moved:
        s = int(row[20] - signal[0, 20]) * -1  # the value at 20 came from 20 - s
        assert np.array_equal(row, signal[0][np.clip(steps - s, 0, 39)]), row
        seen.add(s)
    assert seen == set(range(-4, 5))
    images = np.ones((200, 8, 8), np.float32)
    framed = keras.ops.convert_to_numpy(shift((1, 1), "constant", seed=1)(images, training=True))
    assert set(np.unique(framed)) == {0.0, 1.0}
    assert all(row.sum() in (64, 56, 49) for row in framed)  # a border of 0 one pixel wide, or none
    same = shift((4,), "nearest", seed=0)(signal, training=False)
    assert np.array_equal(keras.ops.convert_to_numpy(same), signal)


@contextlib.contextmanager
def op_determinism_off():
    """TensorFlow's op determinism (a process-wide switch) off inside the block, as it was after."""
    import keras

    if keras.config.backend() != "tensorflow":
        yield
        return
    from tensorflow.python.framework import config  # the switch has no public "off" or "is on"

    was = config.is_op_determinism_enabled()
    config.disable_op_determinism()
    try:
        yield
    finally:
        if was:
            config.enable_op_determinism()


def test_a_model_with_the_random_shift_compiles_its_train_step():
    """Keras's RandomTranslation set supports_jit = False: jit_compile="auto" fell back to eager on
    JAX (14x slower). The model the recipes build with the shift compiles (XLA on TensorFlow and
    JAX; PyTorch runs eagerly unless asked) and trains. (On TensorFlow Keras also compiles nothing
    while op determinism is on, as a test before this one in the same process may have left it: it
    is off for this test and put back after.)"""
    import keras

    from common.augment import random_shift

    model = keras.Sequential([keras.Input((40,)), random_shift(signal_length=40), keras.layers.Dense(2)])
    assert all(layer.supports_jit for layer in model._flatten_layers())
    jit = keras.config.backend() in ("tensorflow", "jax")
    with op_determinism_off():
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile("adam", loss, jit_compile=jit)
        x, y = np.random.default_rng(0).normal(size=(64, 40)).astype(np.float32), np.arange(64) % 2
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        assert model.jit_compile == jit
    if keras.config.backend() == "jax":  # "auto" resolves to compiled where every layer can be
        auto = keras.Sequential([keras.Input((40,)), random_shift(signal_length=40)])
        auto.compile("adam", "mse")
        assert auto.jit_compile
