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
def test_predict_on_a_backend_the_recipes_do_not_run_on_is_one_line(quick_outputs, tmp_path):
    model, rows = digits_rows(quick_outputs, tmp_path, copies=1)
    result = run_cli("recipes", "predict", str(model), str(rows), env={"KERAS_BACKEND": "numpy"})
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith("python -m recipes predict: error: Keras backend 'numpy'")
    assert "run on tensorflow, jax or torch" in line


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


def test_a_keras_file_whose_config_inflates_is_refused_before_keras_reads_it(tmp_path, capsys):
    """A .keras whose config.json inflates to 400 MB (a few hundred KB on disk) was read whole and
    parsed by Keras: now its size is read from the archive first, and it is refused in one line."""
    import zipfile

    from recipes.__main__ import main

    model = tmp_path / "big.keras"
    with zipfile.ZipFile(model, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("config.json", "w", force_zip64=True) as config:
            block = b" " * (1 << 20)
            for _ in range(400):
                config.write(block)
        archive.writestr("metadata.json", "{}")
    assert model.stat().st_size < 2 << 20
    (tmp_path / "big.json").write_text(json.dumps({"classes": ["a", "b"], "input_shape": [2]}))
    (tmp_path / "rows.csv").write_text("1,2\n")
    assert main(["predict", str(model), str(tmp_path / "rows.csv")]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "config.json inflates to 419,430,400 bytes, far beyond a model's config" in line


def test_a_long_csv_read_says_how_far_it_has_got(tmp_path, monkeypatch, capsys):
    import common.tables
    from common import data

    monkeypatch.setattr(common.tables, "CHUNK", 10)
    monkeypatch.setattr(common.tables, "PROGRESS_EVERY_S", 0.0)
    rows = "".join(f"{i},{i % 3}\n" for i in range(100))
    (tmp_path / "t.csv").write_text("a,label\n" + rows)
    x, y, classes, _, _ = data.load_csv_table(tmp_path / "t.csv", "label")
    assert x.shape == (100, 1) and classes == ["0", "1", "2"]
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("reading t.csv:")]
    assert len(lines) >= 5 and "MB" in lines[0] and "left" in lines[0]


def test_a_table_is_held_as_packed_bytes_not_a_list_of_texts(tmp_path):
    """What bounds a large CSV's memory: each column one array of UTF-8 bytes (a 66 MB CSV took
    1.1 GB as lists of Python strings, 0.28 GB so: `python -m benchmarks.csv_memory`)."""
    from common.tables import read_csv_table

    (tmp_path / "t.csv").write_text("a,b\n1.5, x \n2,é\n\n3,y\n")
    table = read_csv_table(tmp_path / "t.csv", "b", "--dataset")
    assert table.columns["a"].dtype.kind == "S" and table.columns["b"].tolist() == [
        b"x",
        "é".encode(),
        b"y",
    ]
    assert table.lines.tolist() == [2, 3, 5]  # the file's lines, the blank one skipped
