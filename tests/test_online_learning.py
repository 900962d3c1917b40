"""Smoke, ablation, malformed-record, kill-and-resume and bad-input tests of the online-learning
recipe."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from recipes import online_learning as ol
from recipes.online_learning import learner as online_learner
from recipes.online_learning.prequential import Tracker
from recipes.online_learning.recipe import prepare_stream
from tests.conftest import assert_bad_input, assert_outputs_contract, assert_png
from tests.conftest import without_timings as shared_without_timings

NAME = "online_learning"
STREAMS = ["sea", "phishing"]  # --quick: one generated with a drift, one read from a file
# --quick: one of each kind; the Keras learner beside its compiled twin and the plain Keras loop
LEARNERS = ["keras_mlp", "keras_compiled", "keras_plain", "river_lr", "river_arf", "sklearn_sgd"]


def learners() -> list[str]:
    """The quick run's learners: without the compiled twin off TensorFlow (it is TensorFlow's)."""
    from tests.conftest import BACKEND

    return [name for name in LEARNERS if BACKEND == "tensorflow" or name != "keras_compiled"]


# null by design: a stream without a known drift; a learner that never came back after it
NULL_BY_DESIGN = ("known_drift", "recovery_samples")


def figures(streams):
    return [f"rolling_accuracy_{s}" for s in streams] + ["throughput", "accuracy_vs_throughput"]


def test_quick_run_writes_the_outputs_contract(quick_outputs):
    out = quick_outputs.folder(NAME)
    metrics = assert_outputs_contract(out, NAME, figures=figures(STREAMS), allow_null=NULL_BY_DESIGN)
    results = metrics["results"]
    assert results["streams"] == STREAMS and results["learners"] == learners()
    for stream in STREAMS:
        data = results[stream]
        assert data["rejected"] == 0 and data["valid"] == data["items"] <= 1000
        assert data["known_drift"] == (500 if stream in ("sea", "agrawal") else None)
        for name in learners():
            r = data[name]
            assert 0.0 <= r["accuracy"] <= 1.0 and r["items_per_second"] > 0, (stream, name)
            assert all(isinstance(p, int) and 0 <= p < data["items"] for p in r["drift_points"])
            assert 0 < len(r["rolling_accuracy"]) <= len(data["rolling_items"])
            assert all(0.0 <= v <= 1.0 for v in r["rolling_accuracy"])
            rec = r["recovery_samples"]
            assert rec is None or (isinstance(rec, int) and rec >= 0)
            if data["known_drift"] is None:
                assert rec is None
        keras = data["keras_mlp"]
        assert keras["weights_finite"] and keras["finished"] and keras["items_seen"] == data["valid"]
        runs = keras["per_seed"]  # --quick runs one seed: its mean and median are its own
        assert [list(r) for r in runs] == [["seed", "accuracy", "items_per_second"]]
        assert [r["seed"] for r in runs] == [0]
        assert keras["accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in runs]))
        assert keras["items_per_second"] == pytest.approx(
            np.median([r["items_per_second"] for r in runs])
        )
        # better than always predicting the most frequent class, seen in hindsight
        assert keras["accuracy"] > data["majority_rate"] + 0.02, stream
    assert {r["name"] for r in metrics["references"]} >= {"river ARF, Phishing"}
    assert "epochs" not in metrics["args"] and "tensorboard" not in metrics["args"]
    assert not (out / ".checkpoint").exists(), "a finished run leaves no checkpoint"
    assert set(metrics["results"]["models"]) == {f"models/{s}_keras_mlp.keras" for s in STREAMS}


def test_plot_redraws_every_figure_from_metrics_alone(quick_outputs, tmp_path):
    ol.plot(quick_outputs.metrics(NAME), tmp_path)
    for name in figures(STREAMS):
        assert_png(tmp_path / f"{name}.png")


def test_ablation_tables_every_setting_on_every_stream_and_its_default_is_the_default_run(
    quick_outputs, tmp_path
):
    out = quick_outputs.folder(NAME, "ablation")  # `all --quick` runs `--quick --ablation`
    metrics = assert_outputs_contract(out, NAME, figures=["ablation"])
    results = metrics["results"]
    assert results["streams"] == STREAMS and "learners" not in results  # no baselines
    table = results["ablation"]
    assert list(table) == list(ol.ABLATION)
    default_run = quick_outputs.metrics(NAME)["results"]
    for setting, row in table.items():
        assert list(row) == STREAMS, setting
        for stream, cell in row.items():
            assert list(cell) == ["accuracy", "accuracy_std", "items_per_second"], setting
            assert 0.5 < cell["accuracy"] <= 1.0 and cell["accuracy_std"] >= 0, (setting, stream)
            assert math.isfinite(cell["items_per_second"]) and cell["items_per_second"] > 0
    for stream in STREAMS:
        accuracies = {row[stream]["accuracy"] for row in table.values()}
        assert len(accuracies) > 1, f"settings had no effect on {stream}"
        # same flags, same seeds: the ablation's default is the default run's compiled learner
        # (on TensorFlow; elsewhere its Keras-call learner)
        keras = default_run[stream].get("keras_compiled", default_run[stream]["keras_mlp"])
        assert table["default"][stream]["accuracy"] == keras["accuracy"]
        assert table["default"][stream]["accuracy_std"] == keras["accuracy_std"]
    ol.plot(metrics, tmp_path / "replot")  # redrawn from metrics alone
    assert_png(tmp_path / "replot" / "ablation.png")


def test_recovery_samples_counts_items_until_back_within_two_points():
    correct = np.ones(3000, dtype=bool)
    assert ol.recovery_samples(correct, 1000) == 0  # never fell
    correct[1000:1300] = False  # 300 errors right after the drift
    rec = ol.recovery_samples(correct, 1000)
    # the window of 500 holds <= 10 errors again once 290 of them have left it: at item 1790
    assert rec == 790
    assert ol.recovery_samples(np.zeros(3000, bool) | (np.arange(3000) < 1000), 1000) is None
    assert ol.recovery_samples(correct, None) is None


def run_engine(engine, batches, weights=None):
    """The engine's compiled loop on `batches` (4 rows of one feature each, label 0), rate 0.01."""
    chunk, x = online_learner.CHUNK, np.zeros((online_learner.CHUNK, 4, 1), np.float32)
    w = np.zeros((chunk, 4), np.float32)
    for k, batch in enumerate(batches):
        x[k, :, 0], w[k] = batch, 1 if weights is None else weights[k]
    rates, known = np.full(chunk, 0.01, np.float32), np.full(chunk, 2, np.int32)
    engine.run(x, np.zeros((chunk, 4), np.int32), w, rates, known, np.int32(len(batches)))


@pytest.mark.tensorflow  # the compiled learner: tf.function and XLA
def test_replay_memory_keeps_the_last_items_and_forgets_them_on_a_drift():
    learner = ol.KerasOnlineClassifier(
        batch_size=4, memory=8, replay=16, classes=(0, 1), features=("x",), seed=0
    )
    engine = learner._engine()
    run_engine(engine, [np.arange(4 * k, 4 * k + 4) for k in range(3)])  # items 0..11, a ring of 8
    assert int(engine.stored.numpy()) == 12
    assert sorted(engine.memory_x.numpy().ravel()) == list(range(4, 12))
    recalled, _, weight = engine._recall(0)
    assert set(recalled.numpy().ravel()) <= set(range(4, 12)) and weight.numpy().all()

    # as if that chunk had been learned: the old concept's items are no longer recalled
    learner._adapt(np.zeros((12, 1)), np.zeros(12), 3, (0, {}))
    assert not engine._recall(0)[2].numpy().any(), "nothing to recall right after a drift"
    # a ragged batch: two real rows, two of padding
    run_engine(engine, [[100, 101, -1, -1]], weights=[[1, 1, 0, 0]])
    assert int(engine.stored.numpy()) == 14, "padding rows are not remembered"
    assert sorted(engine.memory_x.numpy().ravel())[-2:] == [100, 101]
    assert -1 not in engine.memory_x.numpy(), "padding rows leave memory as it was"
    recalled, _, weight = engine._recall(1)
    assert set(recalled.numpy().ravel()) == {100.0, 101.0} and weight.numpy().all()


def counted(function, calls: list):
    def wrapper():
        calls.append(1)
        return function()

    return wrapper


@pytest.mark.parametrize("adapt", ["--adapt", "--no-adapt"])
@pytest.mark.tensorflow  # the compiled learner: tf.function and XLA
def test_a_chunk_rolled_back_at_a_drift_learns_as_one_batch_per_call_would(adapt, monkeypatch):
    """A chunk is predicted and learned in one call before ADWIN sees its errors; at a drift the
    learner takes back the batches after it. That must give exactly what predicting, scoring and
    learning one batch at a time gives."""
    args = ol.build_parser().parse_args(["--items", "6000", "--quiet", adapt])
    data = prepare_stream("agrawal", args)
    stream, x, y = data.stream, data.x, data.y
    runs = {}
    for name, chunk in (("chunked", online_learner.CHUNK), ("one batch per call", 1)):
        learner = ol.KerasOnlineClassifier.from_flags(args, stream.classes, stream.features, seed=0)
        learner._chunk = chunk
        engine, roll_backs = learner._engine(), []
        monkeypatch.setattr(engine, "roll_back", counted(engine.roll_back, roll_backs))
        tracker = Tracker(len(x), name, False)
        ol.prequential(learner, x, y, tracker)
        runs[name] = (tracker.correct.copy(), tracker.drift_points, len(roll_backs))
    (chunked, drifts, roll_backs), (single, single_drifts, none) = runs.values()
    # with --adapt a drift inside a chunk is taken back; without, the learner's course is unchanged
    assert (roll_backs >= 1 if adapt == "--adapt" else roll_backs == 0) and none == 0
    assert drifts == single_drifts and len(drifts) >= 1
    np.testing.assert_array_equal(chunked, single)
    assert chunked.mean() > 0.8


def test_clean_records_rejects_malformed_records_and_keeps_the_rest():
    good = [({"a": 1.0, "b": 2.0}, True), ({"a": -1.0, "b": 0.5}, False)]
    bad = [
        ({"a": math.nan, "b": 1.0}, True),  # NaN
        ({"a": math.inf, "b": 1.0}, False),  # infinite
        ({"a": 1e300, "b": 1.0}, False),  # finite in float64, infinite in float32
        ({"a": "x", "b": 1.0}, True),  # not a number
        ({"a": None, "b": 1.0}, True),  # missing value
        ({"a": 1.0}, True),  # a feature missing
        ({"a": 1.0, "b": 2.0, "c": 3.0}, True),  # an extra feature
        ({"a": 1.0, "c": 2.0}, True),  # a feature renamed
        ({"a": 1.0, "b": 2.0}, "maybe"),  # unknown label
        ({"a": 1.0, "b": 2.0}, [1]),  # unhashable label
    ]
    stream = ol.Stream("t", [bad[0], good[0], *bad[1:], good[1]], ["a", "b"], [False, True])
    x, y, rejected = ol.clean_records(stream)
    np.testing.assert_array_equal(x, [[1.0, 2.0], [-1.0, 0.5]])
    np.testing.assert_array_equal(y, [1, 0])
    assert rejected == {"bad_value": 5, "wrong_length": 3, "unknown_label": 2}


def write_csv(path, rows):
    path.write_text("f1,f2,f3,kind\n" + "\n".join(rows) + "\n")


def test_malformed_records_are_skipped_counted_and_never_learned_from(tmp_path):
    """A CSV stream with bad rows mixed in gives exactly the clean stream's results, plus the count."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    label = np.where(x[:, 0] * x[:, 1] + 0.3 * x[:, 2] > 0, "pos", "neg")
    clean = [f"{a:.4f},{b:.4f},{c:.4f},{k}" for (a, b, c), k in zip(x, label)]
    bad = [
        "nan,1,2,pos",
        "1,inf,2,neg",
        "1,2,-inf,pos",
        "1e39,0,0,neg",
        "abc,1,2,pos",
        "1,2,neg",
        "1,2,3,4,pos",
        "1,2,3,maybe",
        "1,2,3,",
    ]
    dirty = list(clean)
    for i, row in enumerate(bad):
        dirty.insert(37 * (i + 1), row)
    write_csv(tmp_path / "clean.csv", clean)
    write_csv(tmp_path / "dirty.csv", dirty)
    results = {}
    for name in ("clean", "dirty"):
        argv = [
            "--stream",
            f"csv:{tmp_path / name}.csv",
            "--target",
            "kind",
            "--classes",
            "neg,pos",
            "--baselines",
            "river_lr,sklearn_sgd",
            "--batch-size",
            "16",
            "--seeds",
            "1",  # the same rows cleaned the same way for every seed: one shows it
            "--quiet",
            "--output-dir",
            str(tmp_path / name),
        ]
        assert ol.main(argv) == 0
        results[name] = json.loads((tmp_path / name / "metrics.json").read_text())["results"]["csv"]
    assert results["clean"]["rejected"] == 0
    assert results["dirty"]["rejected"] == len(bad)
    assert results["dirty"]["rejected_by_reason"] == {
        "bad_value": 5,
        "wrong_length": 2,
        "unknown_label": 2,
    }
    assert results["dirty"]["keras_mlp"]["weights_finite"]
    for name in ("keras_mlp", "river_lr", "sklearn_sgd"):
        assert without_timings(results["dirty"][name]) == without_timings(results["clean"][name])
    assert results["clean"]["keras_mlp"]["accuracy"] > 0.6  # an XOR-like table: above chance


def without_timings(value):
    """Results without the wall-clock entries the recipe names in TIMING_KEYS."""
    return shared_without_timings(value, lambda key: key in ol.TIMING_KEYS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "1"], "unrecognized arguments: --epochs 1"),  # one pass: no epochs
        (["--stream", "mnist"], "unknown stream mnist"),
        (["--baselines", "svm"], "unknown baseline svm"),
        (["--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
        (["--memory", "16"], "--memory (16) must be at least --batch-size (32)"),
        (["--replay", "-1"], "--replay: must be 0 or more, got -1"),
        (["--stream", "csv:{tmp}/t.csv"], "needs --target COLUMN"),
        (["--stream", "csv:{tmp}/none.csv", "--target", "y"], "no such file"),
        (["--stream", "csv:{tmp}/t.csv", "--target", "z"], "has no column 'z'"),
        (["--stream", "csv:{tmp}/t.csv", "--target", "y", "--classes", "1"], "at least two classes"),
        (["--stream", "csv:{tmp}/t.csv", "--target", "y"], "2 valid records, fewer than --batch-size"),
        (["--classes", "a,b"], "--classes only applies to --stream csv:PATH"),
        (["--stream", "csv:{tmp}/twice.csv", "--target", "y"], "column 'y' appears twice"),
        # issue 41: sizes that cannot fit, refused before anything is allocated
        (["--memory", "100000000000"], "--memory 100000000000 (the replay memory"),
        (["--hidden", "100000000000"], "--hidden 100000000000 ("),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, message):
    (tmp_path / "t.csv").write_text("a,y\n1,0\n2,1\n")
    (tmp_path / "twice.csv").write_text("y,a,y\n" + "".join(f"{i % 2},{i},{i % 2}\n" for i in range(40)))
    out = tmp_path / "out"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert_bad_input("online_learning", argv, message, out)


def test_a_diverged_learner_stops_the_run_with_one_line_naming_the_stage(tmp_path):
    """A step size that turns the weights NaN: exit 2, one line naming the stream, seed and item
    (once: exit 0 and an accuracy scored on a NaN network's class-0 guesses)."""
    import contextlib
    import io

    from tests.conftest import error_lines

    out, stderr = tmp_path / "out", io.StringIO()
    argv = ["--quick", "--stream", "sea", "--baselines", "river_lr", "--learning-rate", "1e30"]
    with contextlib.redirect_stderr(stderr):
        code = ol.main([*argv, "--output-dir", str(out)])
    lines = error_lines(stderr.getvalue())
    assert code == 2 and len(lines) == 1 and "the training diverged" in lines[0], stderr.getvalue()
    assert not (out / "metrics.json").exists() and not (out / "models").exists()
    line = lines[0]
    where = r"stage SEA/keras_mlp/seed_0: the learner's weights became NaN or infinite by item"
    assert re.search(where, line, re.I), line


@pytest.mark.tensorflow  # the compiled learner: tf.function and XLA
def test_the_plain_keras_loop_and_the_compiled_learner_predict_the_same(tmp_path):
    """From the same initial weights (copied with set_weights) and with the compiled learner's
    extras off (no replay, one Adam step a batch, no boost, no drift reaction), the plain loop
    (predict_on_batch, then train_on_batch) and the XLA loop predict the same class for at least
    99% of 2 000 SEA items: the same learner, its float32 sums in another order (an item near the
    boundary may flip)."""
    flags = ["--stream", "sea", "--items", "2000", "--replay", "0", "--steps-per-batch", "1"]
    args = ol.build_parser().parse_args([*flags, "--boost", "1", "--no-adapt", "--quiet"])
    data = prepare_stream("sea", args)
    stream, x, y = data.stream, data.x, data.y
    learner = ol.KerasOnlineClassifier.from_flags(args, stream.classes, stream.features, seed=0)
    plain = ol.plain_model(x.shape[1], len(stream.classes), args)
    plain.set_weights(learner.model.get_weights())  # the compiled learner's initial weights
    compiled, looped = Tracker(len(x), "compiled", False), Tracker(len(x), "plain", False)
    ol.prequential(learner, x, y, compiled)
    ol.keras_loop(plain, x, y, args.batch_size, looped)
    assert np.mean(compiled.correct == looped.correct) >= 0.99  # two classes: hit = same prediction
    assert abs(compiled.correct.mean() - looped.correct.mean()) < 0.01


@pytest.mark.parametrize("replay", ["0", "128"])
@pytest.mark.tensorflow  # the compiled learner: tf.function and XLA
def test_the_keras_call_learner_and_its_compiled_twin_learn_alike(replay):
    """The headline learner (`replay_loop`: predict_on_batch, then train_on_batch steps) and the
    compiled one, from the same initial weights, every part on (two steps a batch, the boost, the
    drift reaction): without replay they predict the same class for at least 99% of 6 000 SEA items
    (the same arithmetic, summed in another order); with replay (each draws its own recalled items)
    their accuracies are within 0.01."""
    args = ol.build_parser().parse_args(["--items", "6000", "--replay", replay, "--quiet"])
    data = prepare_stream("sea", args)
    stream, x, y = data.stream, data.x, data.y
    learner = ol.KerasOnlineClassifier.from_flags(args, stream.classes, stream.features, seed=0)
    model = ol.plain_model(x.shape[1], len(stream.classes), args)
    model.set_weights(learner.model.get_weights())
    compiled, looped = Tracker(len(x), "compiled", False), Tracker(len(x), "keras", False)
    ol.prequential(learner, x, y, compiled)
    ol.replay_loop(model, x, y, args, 0, looped)
    assert abs(compiled.correct.mean() - looped.correct.mean()) < 0.01
    if replay == "0":
        assert np.mean(compiled.correct == looped.correct) >= 0.99
