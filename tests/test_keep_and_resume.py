"""What a run keeps and how it comes back (issue 12): fail-fast output folders, saved models that
reload to the same predictions, kill-and-resume to the same metrics, refused checkpoints, Ctrl-C, and
`all --resume`. Each resumed run is compared with the session's uninterrupted quick run."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from common.checkpoint import FOLDER, KILL_AFTER, LOCK, CheckpointError
from recipes import NAMES, registry
from tests.conftest import ROOT, assert_bad_input, assert_refused, comparable, error_lines, run_cli


def recipe_cli(recipe: str, *argv: str, env=None, timeout=600) -> subprocess.CompletedProcess:
    return run_cli(f"recipes.{recipe}", *argv, env=env, timeout=timeout)


@contextlib.contextmanager
def ctrl_c_as_in_a_terminal():
    """SIGINT handled by Python's own handler and not blocked in this process while inside, as a
    terminal gives it to a command. A child inherits an ignored or blocked SIGINT, and pytest started
    from a background job (`nohup`, `cmd &` in a script) ignores it: the child ran to the end."""
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        signal.signal(signal.SIGINT, handler)


def signal_after_first_stage(recipe: str, argv: list[str], out: Path, sig, log: Path) -> int:
    """Start `python -m recipes.<recipe> ARGV` and send it `sig` from this process as soon as its
    first finished stage is on disk; its exit code (its stderr in `log`)."""
    return signal_after_a_stage([f"recipes.{recipe}", *argv], out, sig, log)


def signal_after_a_stage(module_argv: list[str], out: Path, sig, log: Path) -> int:
    """Start `python -m MODULE ARGV` and send it `sig` as soon as a finished stage is on disk in
    `out/.checkpoint` or, for `all`, in any `out/*/.checkpoint`; its exit code (stderr in `log`)."""
    with open(log, "w") as stderr:
        with ctrl_c_as_in_a_terminal():  # only while the child starts: it inherits the disposition
            process = subprocess.Popen(
                [sys.executable, "-m", *module_argv],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and process.poll() is None:
                states = [out / FOLDER / "state.json", *out.glob(f"*/{FOLDER}/state.json")]
                if any(state.is_file() and json.loads(state.read_text())["stages"] for state in states):
                    process.send_signal(sig)
                    break
                time.sleep(0.01)
            return process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()


# -- Fail fast on paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", NAMES)
def test_an_unwritable_output_dir_exits_2_before_anything_runs(recipe, tmp_path):
    """The recipe's main in this process: the exit code, the one line, nothing set up or written."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    started = time.monotonic()
    message = f"--output-dir {blocker / 'out'}: cannot write there"
    assert "Not a directory" in assert_bad_input(recipe, ["--quick"], message, blocker / "out")
    assert time.monotonic() - started < 60
    assert blocker.read_text() == "not a folder"


def test_all_with_an_unwritable_output_dir_exits_2(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = run_cli("recipes", "all", "--quick", "--output-dir", str(blocker / "out"))
    assert result.returncode == 2 and "cannot write there" in result.stderr
    assert "===" not in result.stdout


def test_the_probe_leaves_no_folder_behind_on_bad_input(tmp_path):
    """The output folder is probed first; bad input found after that still leaves nothing."""
    (tmp_path / "empty.csv").write_text("")
    out = tmp_path / "new" / "deeper"
    argv = ["--dataset", f"csv:{tmp_path}/empty.csv", "--target", "y"]
    assert_bad_input("mlp_classifier", argv, "is empty", out)
    assert not (tmp_path / "new").exists()


# -- Models you can keep --------------------------------------------------------------------------


def test_every_kept_model_reloads_in_safe_mode_to_the_same_outputs(quick_outputs):
    """Each model a quick run lists in results.models loads with keras.models.load_model (safe mode
    on) and gives, for the example inputs on its card, exactly the outputs the run's model gave, and
    (a classifier) the same classes from model.predict."""
    import keras

    from common.augment import random_shift_layer

    random_shift_layer()  # registers the recipes' own layer, as a user does before load_model
    seen = 0
    for recipe in registry().values():
        for run in recipe.runs:
            folder = quick_outputs.root / recipe.name / run.subdir
            models = json.loads((folder / "metrics.json").read_text())["results"].get("models", {})
            if not run.flags or "--scenario" in run.flags:  # every comparison run keeps its models
                assert models, f"{folder}: no models kept"
            for name, info in models.items():
                assert isinstance(info["seed"], int), name
                card = json.loads((folder / name).with_suffix(".json").read_text())
                model = keras.models.load_model(folder / name, safe_mode=True)
                example = np.asarray(card["example"]["inputs"], dtype=np.float32)
                expected = np.asarray(card["example"]["outputs"], dtype=np.float32)
                outputs = keras.ops.convert_to_numpy(model(example, training=False))
                np.testing.assert_array_equal(outputs, expected)
                if "classes" in card:  # a classifier (its outputs probabilities or logits)
                    predicted = model.predict(example, verbose=0).argmax(axis=1)
                    assert predicted.tolist() == expected.argmax(axis=1).tolist(), name
                assert list(model.input_shape[1:]) == card["input_shape"]
                seen += 1
    assert seen >= 5 * 2


def test_models_stay_out_of_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "outputs/rnn_sequence/models/mnist1d_simple.keras"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.returncode == 0, "models under outputs/ must be gitignored"


# -- Kill and resume ------------------------------------------------------------------------------


def resume_here(recipe: str, args: list[str]) -> str:
    """`python -m recipes.<recipe> ARGS --resume` as the recipe's main in this process (the code the
    new process runs, without another TensorFlow start; the kill itself is a real process); exit 0;
    what it printed."""
    import importlib

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = importlib.import_module(f"recipes.{recipe}").main([*args, "--resume"])
    assert code == 0, stdout.getvalue()[-2000:]
    return stdout.getvalue()


def record_stage(checkpoint, key: str, record) -> dict:
    """A stage computed and recorded as a run records it (`Harness.stage`): begun, then finished."""
    checkpoint.begin(key)
    return checkpoint.finish(key, record)


def kill_then_resume(recipe: str, kill_after: str, tmp_path: Path, argv=("--quick",)) -> dict:
    """Run `recipe` until it SIGKILLs itself right after its first saved stage (or epoch), check what
    it left, then resume it; the resumed run's metrics."""
    out = tmp_path / recipe
    args = [*argv, "--output-dir", str(out)]
    killed = recipe_cli(recipe, *args, env={KILL_AFTER: kill_after})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (out / "metrics.json").exists() and (out / FOLDER / "state.json").is_file()
    resumed = resume_here(recipe, args)
    assert "--resume: " in resumed and " read from " in resumed
    assert not (out / FOLDER).exists(), "a finished run leaves no checkpoint"
    return json.loads((out / "metrics.json").read_text())


# Every default run killed at its first save and resumed to the uninterrupted results: the serial
# `all` of tests/test_distribute.py (test_a_serial_all_killed_at_every_runs_first_save_...).


@pytest.mark.slow
def test_a_regularised_activations_run_killed_after_a_seed_resumes_exactly(tmp_path):
    """--regularise shifts at random inside the one model every seed reuses: the second seed,
    trained in a fresh process after the first was read back, repeats the uninterrupted run (the
    shift layer's generator is reseeded with the weights), its early stopping included."""
    from recipes import activations

    argv = ["--quick", "--epochs", "2", "--seeds", "2", "--datasets", "mnist1d", "--activations"]
    argv += ["relu", "--regularise", "--depth", "2"]  # --quick's data, the flags given beside it win
    assert activations.main([*argv, "--quiet", "--output-dir", str(tmp_path / "whole")]) == 0
    whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    resumed = kill_then_resume("activations", "stage:1", tmp_path, argv=argv)
    assert comparable(resumed) == comparable(whole)
    assert [r["seed"] for r in resumed["results"]["mnist1d"]["relu"]["per_seed"]] == [0, 1]


def test_a_fit_killed_mid_way_with_early_stopping_resumes_exactly(tmp_path):
    """mlp_classifier on --quick's data beyond its one epoch (--epochs given wins): killed after
    epoch 3 of a fit that early stopping ends later, it restores the weights, Adam, the random
    shifts' seeds and early stopping's counters and best weights, and ends where the uninterrupted
    fit (run in this process, with the same one thread) did."""
    from recipes import mlp_classifier

    argv = (
        "--quick",
        "--dataset",
        "mnist1d",
        "--epochs",
        "20",
        "--patience",
        "1",
        "--learning-rate",
        "0.05",
        "--hidden",
        "32",
    )
    assert mlp_classifier.main([*argv, "--quiet", "--output-dir", str(tmp_path / "straight")]) == 0
    expected = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    assert 3 < expected["results"]["per_seed"][0]["epochs"] < 20  # early stopping ended it
    resumed = kill_then_resume("mlp_classifier", "epoch:3", tmp_path, argv)
    assert comparable(resumed) == comparable(expected)


def test_online_learning_killed_from_outside_resumes_to_the_same_metrics(quick_outputs, tmp_path):
    """A SIGKILL from another process, at whatever moment the first stage is on disk."""
    out = tmp_path / "online"
    argv = ["--quick", "--output-dir", str(out)]
    code = signal_after_first_stage("online_learning", argv, out, signal.SIGKILL, tmp_path / "log")
    assert code == -signal.SIGKILL, "the run ended before it was killed"
    assert " read from " in resume_here("online_learning", argv)
    resumed = json.loads((out / "metrics.json").read_text())
    assert comparable(resumed) == comparable(quick_outputs.metrics("online_learning"))


# -- Refused checkpoints --------------------------------------------------------------------------


def test_checkpoints_from_other_flags_or_versions_or_corrupt_ones_are_refused(tmp_path):
    out = tmp_path / "rnn"
    args = ["--quick", "--task", "adding", "--output-dir", str(out)]
    killed = recipe_cli("rnn_sequence", *args, env={KILL_AFTER: "stage:1"})
    assert killed.returncode == -signal.SIGKILL
    state_path = out / FOLDER / "state.json"
    good = state_path.read_text()

    def refused(*extra: str) -> str:  # the recipe's main, in this process: no TensorFlow start each
        from recipes import rnn_sequence

        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            assert rnn_sequence.main([*args, *extra, "--resume"]) == 2, stderr.getvalue()
        lines = error_lines(stderr.getvalue())
        assert len(lines) == 1 and lines[0].startswith("python -m recipes.rnn_sequence: error:")
        assert not (out / "metrics.json").exists()
        return lines[0]

    assert "other flags (--adding-units 8 there, 16 here)" in refused("--adding-units", "16")
    state = json.loads(good)
    state["fingerprint"]["versions"]["tensorflow"] = "1.0.0"
    state_path.write_text(json.dumps(state))
    assert "other library versions (tensorflow '1.0.0' there" in refused()
    state_path.write_text(good[: len(good) // 2])  # truncated
    assert "is truncated or corrupt" in refused()
    state_path.write_text(good)
    resume_here("rnn_sequence", args)  # the good one still works


def test_resume_refuses_an_input_file_whose_content_changed(tmp_path):
    """The fingerprint holds each input file's SHA-256, not only its path: a table replaced between
    the kill and --resume is refused with one line naming the flag, never mixed with the old one."""
    import argparse

    from common.checkpoint import CheckpointError, RunCheckpoint, fingerprint

    table, out = tmp_path / "table.csv", tmp_path / "out"
    table.write_text("a,y\n1,0\n")
    args = argparse.Namespace(dataset=f"csv:{table}", pretrained=str(table), seed=0)
    first = RunCheckpoint(out, fingerprint("demo", args), resume=False)
    record_stage(first, "one", {"x": 1})
    first.release()  # the run ends (killed): its lock goes with its process
    again = RunCheckpoint(out, fingerprint("demo", args), resume=True)  # the same bytes: resumes
    assert again.read("one") == {"x": 1}
    again.release()
    table.write_text("a,b,y\n1,2,0\n")
    with pytest.raises(CheckpointError) as refused:
        RunCheckpoint(out, fingerprint("demo", args), resume=True)
    message = str(refused.value)
    assert "was made with other input data (the file of --dataset (sha256 " in message
    assert "the file of --pretrained (sha256 " in message and len(message.splitlines()) == 1


def test_resume_refuses_a_changed_file_named_inside_a_list_flag(tmp_path):
    """online_learning's `--stream sea,csv:FILE` is a list: the file it names is fingerprinted as a
    file a string flag names is (once, `"inputs": {}` let a resumed run mix two versions of FILE)."""
    import argparse

    from common.checkpoint import CheckpointError, RunCheckpoint, fingerprint

    table, out = tmp_path / "stream.csv", tmp_path / "out"
    table.write_text("a,y\n1,0\n2,1\n")
    args = argparse.Namespace(stream=["sea", f"csv:{table}"], seed=0)
    assert set(fingerprint("demo", args)["inputs"]) == {"stream[1]"}
    first = RunCheckpoint(out, fingerprint("demo", args), resume=False)
    record_stage(first, "sea/seed_0", {"x": 1})
    first.release()
    table.write_text("a,y\n1,1\n2,0\n")  # every label flipped
    with pytest.raises(CheckpointError) as refused:
        RunCheckpoint(out, fingerprint("demo", args), resume=True)
    assert "the file of --stream (its item 2) (sha256 " in str(refused.value)


@pytest.mark.parametrize("kind", ["symlink", "folder"])
def test_a_lock_path_that_is_a_link_or_a_folder_is_refused_and_nothing_written_through_it(
    kind, tmp_path
):
    """OUT/.run.lock as a link to another file: the run is refused with one line and the file keeps
    its bytes (once it was truncated and written); as a folder, one line, not a traceback."""
    from recipes.mlp_classifier import main

    out, victim = tmp_path / "out", tmp_path / "precious.txt"
    out.mkdir()
    victim.write_text("not yours\n")
    if kind == "symlink":
        (out / LOCK).symlink_to(victim)
    else:
        (out / LOCK).mkdir()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(["--quick", "--dataset", "xor", "--epochs", "1", "--output-dir", str(out)])
    lines = error_lines(stderr.getvalue())
    assert code == 2 and len(lines) == 1, stderr.getvalue()
    assert ("a symbolic link" if kind == "symlink" else "is a directory") in lines[0]
    assert "not the lock file a run makes" in lines[0]
    assert victim.read_text() == "not yours\n"
    assert not (out / "metrics.json").exists()


def test_a_second_run_on_a_folder_in_use_is_refused_and_a_dead_runs_lock_taken_over(tmp_path):
    """The first run (here, this process) holds the output folder's lock from its first stage: a
    second run on it exits 2 with one line naming that process and deletes nothing of the first's;
    a lock left by a process that died is taken over; a finished run leaves no lock behind."""
    import argparse
    import os

    from common.checkpoint import LOCK, RunCheckpoint, fingerprint

    out = tmp_path / "out"
    first = RunCheckpoint(out, fingerprint("demo", argparse.Namespace(seed=0)), resume=False)
    record_stage(first, "one", {"x": 1})
    kept = sorted(p.name for p in (out / FOLDER).rglob("*"))
    # the second run: the recipe's main in this process, on a lock of its own (flock locks conflict
    # between two opens of the file, in one process as in two)
    message = f"is in use by another run (process {os.getpid()})"
    assert_refused("mlp_classifier", ["--quick", "--dataset", "xor"], message, out)
    assert sorted(p.name for p in (out / FOLDER).rglob("*")) == kept  # the first run's, untouched
    first.release()  # as if the first run's process had died: the system drops its lock
    assert (out / LOCK).is_file()  # left behind, as a killed run leaves it
    again = RunCheckpoint(out, fingerprint("demo", argparse.Namespace(seed=0)), resume=True)
    assert again.read("one") == {"x": 1}
    again.remove()
    assert not (out / LOCK).exists() and not (out / FOLDER).exists()


@pytest.mark.parametrize(
    "state", ["[]", '{"format": 3, "fingerprint": {}, "stages": []}', '{"format": 3, "stages": 1}']
)
def test_a_checkpoint_state_of_the_wrong_shape_is_refused_in_one_line(state, tmp_path):
    """Valid JSON of the wrong shape (a list, stages a list) was a traceback; it is a CheckpointError
    saying the file is corrupt, and describing what was kept never fails on it."""
    from common.checkpoint import CheckpointError, RunCheckpoint, describe_kept, fingerprint

    (tmp_path / FOLDER).mkdir()
    (tmp_path / FOLDER / "state.json").write_text(state)
    assert describe_kept(tmp_path) == "0 finished stage(s)"
    with pytest.raises(CheckpointError, match="is truncated or corrupt"):
        RunCheckpoint(tmp_path, fingerprint("demo", type("Args", (), {})()), resume=True)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "pickle"])
def test_damaged_stage_arrays_are_refused_and_never_unpickled(damage, tmp_path):
    """Stage arrays are read with allow_pickle=False: garbage, a truncated file and an object
    array (a pickle, which could run code) are each refused with a CheckpointError."""
    from common.checkpoint import CheckpointError, RunCheckpoint, fingerprint

    args = type("Args", (), {})()
    checkpoint = RunCheckpoint(tmp_path, fingerprint("demo", args), resume=False)
    assert record_stage(checkpoint, "one", {"values": np.arange(3)})["values"].tolist() == [0, 1, 2]
    checkpoint.release()  # the run ends (killed): its lock goes with its process
    again = RunCheckpoint(tmp_path, fingerprint("demo", args), resume=True)  # reads back fine
    assert again.read("one")["values"].tolist() == [0, 1, 2]
    again.release()
    stage_file = tmp_path / FOLDER / "stages" / "0.npz"
    if damage == "garbage":
        stage_file.write_bytes(b"PK\x03\x04 not really a zip")
    elif damage == "truncated":
        stage_file.write_bytes(stage_file.read_bytes()[:40])
    else:
        np.savez(stage_file, a0=np.array([object()], dtype=object))
    with pytest.raises(CheckpointError, match="cannot be read"):
        RunCheckpoint(tmp_path, fingerprint("demo", args), resume=True)


def test_a_damaged_fit_checkpoint_is_refused(tmp_path):
    import keras

    from common.checkpoint import CheckpointError, FitCheckpoint

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile("adam", "mse")
    saver = FitCheckpoint(tmp_path / "fit")
    saver.save(model, [], 0, {"loss": 1.0})
    assert FitCheckpoint(tmp_path / "fit").resume(model, []) == 1
    (tmp_path / "fit" / "epoch_1.npz").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        FitCheckpoint(tmp_path / "fit").resume(model, [])


# -- Ctrl-C ---------------------------------------------------------------------------------------


def stopped_after_a_stage(tmp_path, sig, code: int, how: str) -> tuple[Path, list[str]]:
    """A quick activations run sent `sig` after its first stage: exit `code`, one line saying `how`
    it stopped, what was kept and how to resume; no metrics.json, no half-written file, the
    checkpoint kept. (its output folder, its argv)"""
    out = tmp_path / "act"
    argv = ["--quick", "--output-dir", str(out)]
    stopped = signal_after_first_stage("activations", argv, out, sig, tmp_path / "log")
    stderr = (tmp_path / "log").read_text()
    assert stopped == code, stderr[-2000:]
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    assert f"{how}; metrics.json not written; kept " in lines[0]
    assert lines[0].endswith(f"resume with: python -m recipes.activations {' '.join(argv)} --resume")
    assert not (out / "metrics.json").exists() and (out / FOLDER / "state.json").is_file()
    assert not [p for p in out.rglob("*.tmp*")], "a half-written file was left"
    return out, argv


def test_ctrl_c_says_what_was_kept_and_how_to_resume_and_exits_130(tmp_path):
    stopped_after_a_stage(tmp_path, signal.SIGINT, 130, "interrupted")


def test_sigterm_stops_a_recipe_as_ctrl_c_does_and_resume_finishes_it(tmp_path):
    """SIGTERM (a scheduler's stop, `kill`): one line saying what was kept, exit 143, the checkpoint
    kept; `--resume` then finishes the run."""
    out, argv = stopped_after_a_stage(tmp_path, signal.SIGTERM, 143, "terminated (SIGTERM)")
    assert " read from " in resume_here("activations", argv)
    assert (out / "metrics.json").is_file()


def test_sigterm_to_all_stops_the_recipes_it_runs_and_waits_for_them(tmp_path):
    """SIGTERM to `python -m recipes all` alone: it passes it on to every recipe it runs, waits for
    them to stop (each keeping its checkpoint), and exits 143; no recipe goes on without it."""
    root = tmp_path / "outputs"
    flags = ["--quick", "--threads", "1", "--only", "mlp_classifier,online_learning"]
    argv = ["recipes", "all", *flags, "--output-dir", str(root)]
    code = signal_after_a_stage(argv, root, signal.SIGTERM, tmp_path / "log")
    stderr = (tmp_path / "log").read_text()
    assert code == 143, stderr[-3000:]
    assert "python -m recipes all: terminated (SIGTERM)" in stderr
    # the command it gives repeats every flag a resumed `all` must repeat (else it is refused)
    assert f"resume with: python -m recipes all {' '.join(flags)} --output-dir {root} --resume" in stderr
    assert "terminated (SIGTERM); metrics.json not written" in stderr  # a recipe's own line
    for lock in root.glob(f"*/{LOCK}"):  # every recipe that ran: its process is gone
        pid = int(lock.read_text().split()[1])
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (root / "run_all.json").exists()


# -- all --resume ---------------------------------------------------------------------------------


def test_all_resume_skips_the_runs_it_finished_and_refuses_another_runs_state(tmp_path):
    from common.checkpoint import versions
    from recipes.__main__ import ALL_STATE

    root = tmp_path / "outputs"
    root.mkdir()
    labels = [
        name + (f" ({run.subdir})" if run.subdir else "")
        for name, recipe in registry().items()
        for run in recipe.runs
    ]
    done = {label: {"seconds": 1.0, "exit_code": 0, "error": None} for label in labels}
    for name in registry():  # what the finished runs left: but mlp_classifier's outputs are gone
        if name != "mlp_classifier":
            shutil.copytree(ROOT / "outputs" / name, root / name)
    flags = {"quick": True, "threads": None}
    state = {"fingerprint": {"recipe": "all", "flags": flags, "versions": versions()}}
    (root / ALL_STATE).write_text(json.dumps({**state, "finished": done}))
    result = run_cli("recipes", "all", "--quick", "--resume", "--output-dir", str(root))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("finished before, skipped (--resume)") == len(labels) - 1
    assert "mlp_classifier: finished before, but its metrics.json is gone: again" in result.stdout
    assert "=== [1/1] mlp_classifier: " in result.stdout  # the one run left of this `all`
    assert "    python -m recipes.mlp_classifier" in result.stdout
    assert (root / "mlp_classifier" / "metrics.json").is_file()
    assert not (root / ALL_STATE).exists(), "a finished `all` leaves nothing to resume"

    state["fingerprint"]["flags"]["quick"] = False  # made by a full `all`
    (root / ALL_STATE).write_text(json.dumps({**state, "finished": done}))
    result = run_cli("recipes", "all", "--quick", "--resume", "--output-dir", str(root))
    assert result.returncode == 2 and "other flags (--quick False there, True here)" in result.stderr


def test_a_full_disk_is_one_line_naming_the_path_and_the_resume_command(tmp_path, monkeypatch):
    """An OSError while writing (here: ENOSPC as metrics.json is written): exit 1 and one line with
    the path, what was kept and the command that resumes (once a 53-line traceback); nothing half
    written, and --resume, once there is room, finishes the run from its kept stages."""
    import errno

    import common.harness
    from recipes.mlp_classifier import main

    out = tmp_path / "out"
    real = common.harness.write_metrics

    def full(folder, metrics):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "metrics.json"))

    monkeypatch.setattr(common.harness, "write_metrics", full)
    argv = ["--quick", "--dataset", "xor", "--epochs", "2", "--output-dir", str(out)]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert main(argv) == 1
    lines = error_lines(stderr.getvalue())
    assert len(lines) == 1, stderr.getvalue()
    assert f"error: {out / 'metrics.json'}: No space left on device;" in lines[0]
    assert re.search(r"; kept [12] finished stage\(s\) in ", lines[0]) and lines[0].endswith(" --resume")
    assert not (out / "metrics.json").exists()
    monkeypatch.setattr(common.harness, "write_metrics", real)  # room again
    assert main([*argv, "--resume"]) == 0
    assert (out / "metrics.json").is_file() and not (out / FOLDER).exists()


def test_a_resume_is_refused_when_the_code_or_the_device_layout_changed(tmp_path, monkeypatch):
    """The version an editable install reports never changes: a run resumed after a recipe constant
    changed (300 training rows -> 200) once finished, recording 200 for a seed that trained on 300.
    The fingerprint holds a digest of the project's code and the device layout."""
    import shutil

    import common.checkpoint
    from common.harness import Harness
    from tests.test_common import harness_args

    code = tmp_path / "code"
    for folder in ("common", "recipes"):
        shutil.copytree(ROOT / folder, code / folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(common.checkpoint, "PROJECT", code)
    flags = dict(output_dir=str(tmp_path / "run"), seeds=2)
    first = Harness("demo", harness_args(**flags))
    first.stage("data").record({"rows": 300})
    first.checkpoint.release()
    recipe = code / "recipes" / "mlp_classifier" / "recipe.py"
    recipe.write_text(recipe.read_text().replace("300, args.seed", "200, args.seed"))
    with pytest.raises(CheckpointError, match="made with other code .*the recipes' code was changed"):
        Harness("demo", harness_args(**flags, resume=True))
    recipe.write_text(recipe.read_text().replace("200, args.seed", "300, args.seed"))
    monkeypatch.setenv("RECIPES_CPU_DEVICES", "2")  # two logical CPU devices: two replicas' layout
    with pytest.raises(CheckpointError, match="another device layout .*cpu_devices '1' there, '2'"):
        Harness("demo", harness_args(**flags, resume=True))
    monkeypatch.delenv("RECIPES_CPU_DEVICES")
    again = Harness("demo", harness_args(**flags, resume=True))
    assert again.stage("data").result == {"rows": 300}
    again.checkpoint.release()


def test_ctrl_c_sent_to_all_alone_stops_the_running_recipe_which_says_how_to_resume(tmp_path):
    """SIGINT to the `all` process alone (not its group): once it waited for the running recipe to
    finish, lost that recipe's own line, and said the running ones had stopped. Now it passes the
    SIGINT on, the recipe stops keeping its checkpoint and says so, and `all` exits 130."""
    root = tmp_path / "outputs"
    flags = ["--quick", "--jobs", "1", "--threads", "1", "--only", "mlp_classifier,online_learning"]
    argv = ["recipes", "all", *flags, "--output-dir", str(root)]
    code = signal_after_a_stage(argv, root, signal.SIGINT, tmp_path / "log")
    stderr = (tmp_path / "log").read_text()
    assert code == 130, stderr[-3000:]
    assert "python -m recipes.mlp_classifier: interrupted; metrics.json not written" in stderr
    assert "resume with: python -m recipes.mlp_classifier " in stderr  # the recipe's own line
    assert "python -m recipes all: interrupted; 0 run(s) finished and kept" in stderr
    assert (root / "mlp_classifier" / FOLDER / "state.json").is_file()
    assert not (root / "online_learning").exists()  # never started
