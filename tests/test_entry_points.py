"""Every entry point (`predict`, `report`, `plots`, `all`, the recipes) goes through one error path:
one line on stderr naming the user's path, never a traceback; what was written is what it says."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, error_lines, run_cli


def digits_rows(quick_outputs, tmp_path, copies: int = 50):
    """The quick run's kept digits model and a CSV of its example rows, `copies` times over."""
    model = quick_outputs.folder("mlp_classifier") / "models" / "mlp.keras"
    card = json.loads(model.with_suffix(".json").read_text())
    rows = [",".join(map(str, row)) for row in card["example"]["inputs"]] * copies
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n")
    return model, tmp_path / "rows.csv"


@pytest.mark.slow
def test_predict_into_a_pipe_that_closes_or_a_full_device_is_one_line_or_quiet(quick_outputs, tmp_path):
    model, rows = digits_rows(quick_outputs, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "recipes", "predict", str(model), str(rows)]
    head = subprocess.run(
        f"{' '.join(command)} | head -1", shell=True, capture_output=True, text=True, env=env
    )
    assert len(head.stdout.splitlines()) == 1
    assert error_lines(head.stderr) == [], head.stderr  # a reader that stopped: no traceback
    with open("/dev/full", "w") as full:
        done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, env=env)
    assert done.returncode == 1
    assert error_lines(done.stderr) == [
        "python -m recipes predict: error: stdout: No space left on device"
    ], done.stderr


@pytest.mark.slow
def test_predict_on_another_keras_backend_is_one_line(quick_outputs, tmp_path):
    model, rows = digits_rows(quick_outputs, tmp_path, copies=1)
    result = run_cli("recipes", "predict", str(model), str(rows), env={"KERAS_BACKEND": "jax"})
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith("python -m recipes predict: error: Keras backend 'jax'")


def test_report_and_plots_from_another_folder_say_what_to_do(tmp_path, monkeypatch, capsys):
    from recipes.__main__ import main

    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("python -m recipes report: error: --readme README.md: no such file;")
    assert main(["plots"]) == 1
    assert "no outputs yet (run the recipe first)" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) in ([], [tmp_path / "outputs"])


@pytest.mark.slow
def test_a_figure_that_cannot_be_written_keeps_the_run_to_resume_and_says_so(tmp_path, monkeypatch):
    """A full disk as the first figure is written: one line naming the figure in the output folder
    (not a temporary file), saying metrics.json was not written (the folder holds no half run) and a
    resume command that finishes the run from its stages, drawing the figures."""
    import builtins

    import common.results
    from recipes.mlp_classifier import main

    out = tmp_path / "out"

    def full(file, *args, **kwargs):  # the disk fills as the first figure is written
        if ".png" in str(file) and "w" in (args[0] if args else kwargs.get("mode", "r")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(common.results, "open", full, raising=False)
    argv = ["--quick", "--dataset", "xor", "--output-dir", str(out)]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 1
    (line,) = error_lines(stderr.getvalue())
    assert f"error: {out}/learning_curves.png: No space left on device; metrics.json not written" in line
    assert ".tmp" not in line and line.endswith(f"--output-dir {out} --resume")
    assert not (out / "metrics.json").exists()
    monkeypatch.undo()  # room again
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main([*argv, "--resume"]) == 0
    assert "2 finished stage(s)" in printed.getvalue() or "read from" in printed.getvalue()
    assert (out / "metrics.json").is_file() and (out / "learning_curves.png").is_file()
