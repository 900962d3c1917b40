"""--distribute (common/distribute.py) and `all --jobs`: data-parallel training on two replicas (two
logical CPU devices) and on two worker processes, bad TF_CONFIG, and parallel recipe runs that give
the serial run's results. CPU only: the tests split the CPU with RECIPES_CPU_DEVICES."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from common.checkpoint import FOLDER, KILL_AFTER
from recipes import registry
from tests.conftest import ROOT, assert_bad_input, comparable, error_lines, run_cli

pytestmark = pytest.mark.tensorflow  # tf.distribute, and the compiled online learner

# The 2-replica runs take half the per-replica batch, so every step sees the 1-replica run's batch:
# the same updates up to float rounding (and per-replica dropout draws). Quick runs are a few steps
# from their start, where such differences grow: the tolerance is on test accuracy, absolute.
TWO_REPLICAS = {
    # recipe: (per-replica batch, accuracies to compare, tolerance)
    "mlp_classifier": ("64", ("test_accuracy",), 0.03),
    # 300 test sequences, 1 epoch of an RNN near chance: 0.06 is 18 sequences
    "rnn_sequence": ("32", ("mnist1d.simple.test_accuracy",), 0.06),
}


def value(metrics: dict, path: str) -> float:
    for key in path.split("."):
        metrics = metrics[key]
    return float(metrics)


def cpu_devices(n: int) -> dict:
    return {"RECIPES_CPU_DEVICES": str(n)}


@pytest.mark.parametrize("recipe", sorted(TWO_REPLICAS))
def test_two_replicas_train_to_the_one_replica_accuracy(recipe, quick_outputs, tmp_path):
    batch, paths, tolerance = TWO_REPLICAS[recipe]
    out = tmp_path / "out"
    argv = ["--quick", "--distribute", "mirrored", "--batch-size", batch, "--output-dir", str(out)]
    env = {**cpu_devices(2), "PYTHONPROFILEIMPORTTIME": "1"}  # every import, listed on stderr
    result = run_cli(f"recipes.{recipe}", *argv, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "common.multireplica" in result.stderr  # two replicas: the patches are imported
    two = json.loads((out / "metrics.json").read_text())
    one = quick_outputs.metrics(recipe)
    spread = two["environment"]["distribution"]
    assert spread["strategy"] == "MirroredStrategy" and spread["replicas"] == 2
    assert spread["workers"] == 1 and len(spread["devices"]) == 2
    assert spread["global_batch_size"] == 2 * int(batch) == one["args"]["batch_size"]
    assert one["environment"]["distribution"]["replicas"] == 1
    for path in paths:
        assert abs(value(two["results"], path) - value(one["results"], path)) <= tolerance, path


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


MULTIWORKER_RUN = [
    sys.executable,
    "-m",
    "recipes.mlp_classifier",
    "--quick",
    "--distribute",
    "multiworker",
]


def tf_config(ports: list[int], index: int) -> str:
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def test_two_workers_train_and_only_the_chief_writes(quick_outputs, tmp_path):
    ports = free_ports(2)
    outs = [tmp_path / f"worker{i}" for i in range(2)]
    processes = [
        subprocess.Popen(
            [*MULTIWORKER_RUN, "--batch-size", "64", "--output-dir", str(out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TF_CONFIG": tf_config(ports, i)},
        )
        for i, out in enumerate(outs)
    ]
    try:
        logs = [process.communicate(timeout=300) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (_, stderr) in zip(processes, logs):
        assert process.returncode == 0, stderr[-3000:]
    assert (outs[0] / "metrics.json").is_file()
    assert not outs[1].exists()  # the other worker wrote to a temporary folder, and removed it
    metrics = json.loads((outs[0] / "metrics.json").read_text())
    spread = metrics["environment"]["distribution"]
    assert spread["strategy"] == "MultiWorkerMirroredStrategy"
    assert (spread["workers"], spread["replicas"], spread["task"]) == (2, 2, "worker 0")
    assert spread["global_batch_size"] == 128
    one = quick_outputs.metrics("mlp_classifier")["results"]["test_accuracy"]
    assert abs(metrics["results"]["test_accuracy"] - one) <= TWO_REPLICAS["mlp_classifier"][2]


def test_a_port_in_use_is_refused_in_one_line_before_tensorflow_starts():
    import socket

    from common.distribute import check_port_free
    from common.errors import UsageError

    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"port {port} is in use"):
            check_port_free(f"localhost:{port}")
    check_port_free(f"localhost:{port}")  # free again


def test_tf_config_set_for_a_run_that_does_not_read_it_is_said(tmp_path, monkeypatch, capsys):
    """TF_CONFIG without --distribute multiworker was ignored without a word; now one note says so."""
    import argparse

    from common.distribute import distributed

    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1"]}}')
    args = argparse.Namespace(distribute="auto", output_dir=str(tmp_path), worker_timeout=5.0)
    with distributed(args, "python -m recipes.demo") as distribution:
        assert distribution.is_chief
    err = capsys.readouterr().err
    assert "note: TF_CONFIG is set but not used" in err and "--distribute auto" in err
    monkeypatch.delenv("TF_CONFIG")
    with distributed(args, "python -m recipes.demo"):
        pass
    assert "TF_CONFIG" not in capsys.readouterr().err


def test_a_port_outside_1_to_65535_is_refused():
    from common.distribute import parse_tf_config
    from common.errors import UsageError

    for port in (0, 70000):
        config = f'{{"cluster": {{"worker": ["h:{port}"]}}, "task": {{"type": "worker", "index": 0}}}}'
        with pytest.raises(UsageError, match="a port is 1 to 65535"):
            parse_tf_config(config)
    assert parse_tf_config(config.replace("70000", "65535"))[1] == ("worker", 0)


@pytest.mark.parametrize(
    "config, message",
    [
        (None, "--distribute multiworker needs TF_CONFIG"),
        ("{cluster", "TF_CONFIG is not JSON"),
        ('{"cluster": {"worker": ["localhost:1"]}}', "TF_CONFIG has no task"),
        (
            '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 2}}',
            "task index 2 is out of range",
        ),
        (
            '{"cluster": {"ps": ["localhost:1"]}, "task": {"type": "ps", "index": 0}}',
            "takes only chief and worker",
        ),
        (
            '{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}',
            "is not host:port",
        ),
    ],
)
def test_a_bad_tf_config_exits_2_with_one_line(config, message, tmp_path, monkeypatch):
    """The recipe's main in this process (the exit code a process returns, its one stderr line)."""
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if config is not None:
        monkeypatch.setenv("TF_CONFIG", config)
    argv = ["--quick", "--distribute", "multiworker"]
    assert_bad_input("mlp_classifier", argv, message, tmp_path / "out")


def test_a_worker_that_never_comes_ends_the_run_with_one_line(tmp_path):
    out = tmp_path / "out"
    start = time.monotonic()
    result = run_cli(
        "recipes.mlp_classifier",
        "--quick",
        "--distribute",
        "multiworker",
        "--worker-timeout",
        "3",
        "--output-dir",
        str(out),
        timeout=120,
        env={"TF_CONFIG": tf_config(free_ports(2), 0)},
    )
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "did not join within 3 s" in lines[0], result.stderr
    assert time.monotonic() - start < 60
    assert not out.exists()


def test_resume_is_refused_under_multiworker(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], 0))
    argv = ["--quick", "--distribute", "multiworker", "--resume"]
    assert_bad_input("mlp_classifier", argv, "--resume with --distribute multiworker", tmp_path / "o")


# two short recipes of one run each, each first saved mid-fit (a run without a fit, saved after its
# first stage, is killed and resumed in test_keep_and_resume: online_learning)
SHORT = ("mlp_classifier", "rnn_sequence")


def test_a_serial_all_killed_at_each_runs_first_save_resumes_to_the_parallel_results(
    quick_outputs, tmp_path
):
    """The shared quick run is `all --quick --jobs 2 --threads 1`; beside it runs the serial `all
    --quick --jobs 1 --threads 1` of two short recipes, every run in it SIGKILLing itself at its
    first save (mid-fit, or after the first stage where a run has no fit), then `all --resume`: one
    serial run that shows both that --jobs 2 repeats the serial results with the same threads and
    that a killed `all` resumes each run to them exactly."""
    if quick_outputs.result is None:
        pytest.skip("QUICK_OUTPUTS reuses a folder: the `all --jobs 2` run itself is not under test")
    root = tmp_path / "outputs"
    argv = ["recipes", "all", "--quick", "--jobs", "1", "--threads", "1", "--only", ",".join(SHORT)]
    argv += ["--output-dir", str(root)]
    killed = run_cli(*argv, timeout=600, env={KILL_AFTER: "epoch:1,stage:1"})
    assert killed.returncode == 1, killed.stderr[-3000:]
    labels = [
        (recipe.name, run, recipe.name + (f" ({run.subdir})" if run.subdir else ""))
        for recipe in registry().values()
        if recipe.name in SHORT
        for run in recipe.runs
    ]
    assert len(labels) == 2
    summary = json.loads((root / "run_all.json").read_text())
    assert set(summary) == {label for _, _, label in labels}  # --only: nothing else ran
    for name, run, label in labels:
        out = root / name / run.subdir
        assert summary[label]["exit_code"] == -signal.SIGKILL, label
        assert not (out / "metrics.json").exists() and (out / FOLDER / "state.json").is_file()

    env = {"PYTHONPROFILEIMPORTTIME": "1"}  # every import of every run, listed on stderr
    resumed = run_cli(*argv, "--resume", timeout=1200, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # single-device runs never import the private Keras patches for several replicas
    assert "common.harness" in resumed.stderr and "common.multireplica" not in resumed.stderr
    assert resumed.stdout.count(" read from ") == len(labels)  # each run went on from its save
    parallel_summary = json.loads((quick_outputs.root / "run_all.json").read_text())
    for name, run, label in labels:
        out = root / name / run.subdir
        assert not (out / FOLDER).exists(), f"{label}: a finished run leaves no checkpoint"
        assert parallel_summary[label]["exit_code"] == 0 and parallel_summary[label]["job"] in (1, 2)
        assert parallel_summary[label]["threads"] == 1
        serial = json.loads((out / "metrics.json").read_text())
        parallel = quick_outputs.metrics(name, run.subdir)
        assert serial["environment"]["threads"] == parallel["environment"]["threads"] == 1
        neutral = {"output_dir": parallel["args"]["output_dir"], "resume": False}
        assert parallel["args"] == {**serial["args"], **neutral}
        assert comparable(parallel) == comparable(serial), label
    assert "[rnn_sequence] " in quick_outputs.result.stdout  # each line says which run wrote it


def test_a_parallel_all_starts_the_longest_run_first_even_in_a_new_folder(tmp_path, monkeypatch):
    """Ordered by the folder's last run_all.json or, for a new folder, by the committed one: else a
    first `all --jobs 2` starts in the registry's order and its longest run (here the last) last."""
    import recipes.__main__ as collection
    from recipes.__main__ import last_times, longest_first

    labels = list(last_times(collection.COMMITTED))  # the registry's order
    committed_folder = tmp_path / "committed"
    committed_folder.mkdir()
    times = {label: {"seconds": 10.0 + i} for i, label in enumerate(labels)}  # the last is longest
    (committed_folder / "run_all.json").write_text(json.dumps(times), encoding="utf-8")
    monkeypatch.setattr(collection, "COMMITTED", committed_folder)
    tmp_path = tmp_path / "new"
    tmp_path.mkdir()
    committed = last_times(committed_folder)
    pending = [(label, []) for label in committed]  # the registry's order
    assert max(committed, key=committed.get) != pending[0][0]  # else the order would prove nothing
    ordered = [label for label, _ in longest_first(pending, tmp_path)]
    assert [committed[label] for label in ordered] == sorted(committed.values(), reverse=True)

    own = {label: {"seconds": float(i)} for i, label in enumerate(committed)}  # the folder's own wins
    (tmp_path / "run_all.json").write_text(json.dumps(own), encoding="utf-8")
    assert [label for label, _ in longest_first(pending, tmp_path)] == list(reversed(committed))
