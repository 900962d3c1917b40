"""Shared test helpers: a quiet TensorFlow, subprocess runs of the CLI, and PNG checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m <args>` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def error_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's own start-up log lines and Python warnings."""
    noise = ("I0000", "W0000", "E0000", "WARNING: All log messages", "warnings.warn", "Warning:")
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(noise)]


def assert_bad_input(recipe: str, argv: list[str], message: str, out: Path) -> None:
    """`python -m recipes.<recipe> ARGV --output-dir OUT` exits 2 with one error line holding `message`,
    and writes nothing."""
    result = run_cli(f"recipes.{recipe}", *argv, "--output-dir", str(out))
    assert result.returncode == 2
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and lines[0].startswith(f"python -m recipes.{recipe}: error:")
    assert not out.exists()


def assert_png(path: Path) -> None:
    """The file exists and opens as a real, non-empty PNG image."""
    from PIL import Image

    assert path.is_file(), f"missing figure {path.name}"
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width > 100 and height > 100, f"{path.name} is only {width}x{height}"
        image.load()


def assert_finite_numbers(value, where="results") -> None:
    """Every number in a nested metrics structure is finite (JSON null counts as a failure)."""
    import math

    if isinstance(value, dict):
        for key, item in value.items():
            assert_finite_numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_finite_numbers(item, f"{where}[{i}]")
    elif isinstance(value, float):
        assert math.isfinite(value), f"{where} is {value}"
    else:
        assert value is not None, f"{where} is null"


def without_timings(value, is_timing=lambda key: key.startswith("seconds")):
    """Nested results with the wall-clock entries (keys `is_timing` picks) removed: everything else
    must repeat exactly between two runs with the same seed."""
    if isinstance(value, dict):
        return {k: without_timings(v, is_timing) for k, v in value.items() if not is_timing(k)}
    if isinstance(value, list):
        return [without_timings(v, is_timing) for v in value]
    return value


@pytest.fixture
def out_dir(tmp_path) -> Path:
    return tmp_path / "out"
