"""The README's code runs as written: every Python block, on the outputs of a quick run."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def readme_python_blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks_to_run():
    blocks = readme_python_blocks()
    assert len(blocks) >= 3 and all("import" in block for block in blocks)


@pytest.mark.slow
def test_every_python_block_of_the_readme_runs_as_written(quick_outputs, tmp_path):
    """Each block in turn, in one process (one TensorFlow start), in a folder whose `outputs/` is
    what a quick `all` wrote: it must run to its end, printing what it says it prints."""
    (tmp_path / "outputs").symlink_to(quick_outputs.root, target_is_directory=True)
    blocks = readme_python_blocks()
    run = "exec(compile({block!r}, 'README block {i}', 'exec'), {{}})"
    script = "".join(
        f"print('--- block {i}', flush=True)\n{run.format(block=block, i=i)}\n"
        for i, block in enumerate(blocks)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    out = result.stdout
    assert all(f"--- block {i}" in out for i in range(len(blocks)))
    assert "Accuracy:" in out  # river's progressive_val_score
    assert "best_params_" not in out and "{'model_kwargs':" in out  # the grid search's best
    assert re.search(r"\['\w+'(, '\w+')*\]", out), out  # the class names predicted
