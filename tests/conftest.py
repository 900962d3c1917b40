"""Shared test helpers: a quiet TensorFlow, subprocess runs of the CLI, the outputs contract, PNG
checks, and every recipe's quick run made once per test session and shared."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.device import thread_env
from common.outputs import MANIFEST
from common.results import LIBRARIES, SCHEMA_KEYS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One CPU thread per TensorFlow op in every run the suite makes, in this process (set before
# TensorFlow is imported) and in each process it starts, as in `all --threads 1`: on some CPUs (an
# AMD EPYC, measured) a run's last digits depend on its thread count, and the tests compare runs
# with one another. It also suits pytest-xdist's one worker per core.
THREADS = 1
os.environ.update(thread_env(THREADS))  # XLA's on JAX too (common.device.thread_env)
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m <args>` from the repository root, output captured; `env` adds to the environment."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def error_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's own start-up log lines and Python warnings."""
    noise = ("I0000", "W0000", "E0000", "WARNING: All log messages", "warnings.warn", "Warning:")
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(noise)]


def assert_bad_input(recipe: str, argv: list[str], message: str, out: Path) -> str:
    """`python -m recipes.<recipe> ARGV --output-dir OUT` exits 2 with one error line holding `message`,
    and writes nothing. Run as the recipe's `main` in this process: the code a new process runs once
    it has started, without paying TensorFlow's start-up for every case (test_collection.py and
    test_keep_and_resume.py run the real processes: their exit codes, their stderr)."""
    line = assert_refused(recipe, argv, message, out)
    assert not out.exists()
    return line


def assert_refused(recipe: str, argv: list[str], message: str, out: Path) -> str:
    """`assert_bad_input` but for what is written: exit 2, one error line holding `message` (for a
    folder that exists already, e.g. one another run holds); the line."""
    import contextlib
    import importlib
    import io

    stderr = io.StringIO()
    main = importlib.import_module(f"recipes.{recipe}").main
    with contextlib.redirect_stderr(stderr):
        try:
            code = main([*argv, "--output-dir", str(out)])
        except SystemExit as stop:  # argparse's errors exit
            code = stop.code
    assert code == 2, stderr.getvalue()
    lines = error_lines(stderr.getvalue())
    assert len(lines) == 1, stderr.getvalue()
    assert message in lines[0] and lines[0].startswith(f"python -m recipes.{recipe}: error:")
    return lines[0]


def assert_png(path: Path) -> None:
    """The file exists and opens as a real, non-empty PNG image."""
    from PIL import Image

    assert path.is_file(), f"missing figure {path.name}"
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width > 100 and height > 100, f"{path.name} is only {width}x{height}"
        image.load()


def assert_finite_numbers(value, where="results", allow_null=()) -> None:
    """Every number in a nested metrics structure is finite (JSON null, which a NaN becomes, counts as
    a failure, except as the value of a key in `allow_null`: "none" by design, e.g. no known drift)."""
    import math

    if isinstance(value, dict):
        for key, item in value.items():
            if not (item is None and key in allow_null):
                assert_finite_numbers(item, f"{where}.{key}", allow_null)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_finite_numbers(item, f"{where}[{i}]", allow_null)
    elif isinstance(value, float):
        assert math.isfinite(value), f"{where} is {value}"
    else:
        assert value is not None, f"{where} is null"


TIMINGS = (
    "seconds",
    "items_per_second",
    "train_seconds",
    "pretrain_seconds",
    "target_seconds",
    "fit_seconds",
    "seconds_per_epoch",
)


def comparable(metrics: dict) -> dict:
    """Results without wall-clock figures: what must repeat exactly between two runs."""
    return without_timings(metrics["results"], lambda key: key in TIMINGS)


def without_timings(value, is_timing=lambda key: key.startswith("seconds")):
    """Nested results with the wall-clock entries (keys `is_timing` picks) removed: everything else
    must repeat exactly between two runs with the same seed."""
    if isinstance(value, dict):
        return {k: without_timings(v, is_timing) for k, v in value.items() if not is_timing(k)}
    if isinstance(value, list):
        return [without_timings(v, is_timing) for v in value]
    return value


def assert_outputs_contract(
    out: Path, recipe: str, figures=(), quick: bool = True, allow_null=()
) -> dict:
    """`out` holds what DESIGN.md promises: metrics.json with the schema's keys in order, every number
    in its results finite, each named figure a real PNG, and no temporary file left behind.
    Returns the metrics."""
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == list(SCHEMA_KEYS)  # DESIGN.md's outputs contract, in its order
    assert metrics["recipe"] == recipe and metrics["args"].get("quick") is quick
    assert metrics["duration_s"] > 0
    keys = ("python", "backend", "tensorflow", "keras", "numpy", "device", "platform", "cpu")
    for key in (*keys, *LIBRARIES):
        assert metrics["environment"][key], key
    assert metrics["environment"]["cores"] >= 1  # the machine its times were measured on
    if metrics["environment"]["backend"] != "jax":  # JAX's XLA takes every core
        assert metrics["environment"]["threads"] == THREADS  # what the numbers were made with
    assert_finite_numbers(metrics["results"], allow_null=allow_null)
    for reference in metrics["references"]:
        assert {"name", "value", "source"} <= set(reference) and reference["source"]
    for name in figures:
        assert_png(out / f"{name}.png")
    leftovers = [p.name for p in out.rglob(".*") if p.is_file() and p.name != MANIFEST]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    return metrics


class QuickOutputs:
    """`python -m recipes all --quick` into one folder: what every recipe's smoke run wrote."""

    def __init__(self, root: Path, result: subprocess.CompletedProcess | None):
        self.root, self.result = root, result

    def folder(self, recipe: str, subdir: str = "") -> Path:
        folder = self.root / recipe / subdir if subdir else self.root / recipe
        assert (folder / "metrics.json").is_file(), f"no quick run of {recipe}: " + (
            self.result.stderr[-3000:] if self.result else "(QUICK_OUTPUTS folder)"
        )
        return folder

    def metrics(self, recipe: str, subdir: str = "") -> dict:
        return json.loads((self.folder(recipe, subdir) / "metrics.json").read_text())


def quick_folder() -> Path:
    """The folder of this test session's shared quick run: one per session, shared by its
    pytest-xdist workers (named by the run's id, which every worker of one run has)."""
    import tempfile

    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    return Path(tempfile.gettempdir()) / f"recipes-tests-{run}" / "quick"


def start_quick_outputs() -> None:
    """Start the shared quick run in the background, once per session (the first worker to come
    starts it): `python -m recipes all --quick --jobs 2 --threads 1`, its output and exit code into
    files of `quick_folder()`. The tests that need it wait for it; the others run meanwhile."""
    folder = quick_folder()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (folder / "started").exists():
            return
        (folder / "started").write_text(str(os.getpid()))
        argv = [sys.executable, "-m", "recipes", "all", "--quick", "--jobs", "2"]
        argv += ["--threads", str(THREADS), "--output-dir", str(folder / "outputs")]
        # the exit code is written last, through a rename: a waiting worker never reads half of it
        script = '"$@" >stdout 2>stderr; echo $? >code.tmp; mv code.tmp code'
        subprocess.Popen(
            ["sh", "-c", script, "sh", *argv], cwd=folder, env={**os.environ, "PYTHONPATH": str(ROOT)}
        )


def needs_quick_outputs(item) -> bool:
    """Whether a test uses the shared quick run (its fixture, directly or through another)."""
    return "quick_outputs" in getattr(item, "fixturenames", ())


def pytest_collection_finish(session) -> None:
    """As soon as the tests are known: start the shared quick run if any of them needs it."""
    if os.environ.get("QUICK_OUTPUTS"):
        return
    if any(needs_quick_outputs(item) for item in session.items):
        start_quick_outputs()


@pytest.fixture(scope="session")
def quick_outputs() -> QuickOutputs:
    """Every recipe's quick run, made once per test session by `python -m recipes all --quick --jobs 2
    --threads 1` (which also draws the gallery; two runs at a time, each with the one thread every
    run of the suite has, so results identical to a serial run's: test_distribute checks it) and
    shared by the recipe tests, the collection tests and the gallery tests. It starts in the
    background as soon as the tests are collected (`start_quick_outputs`), and the tests that need
    it run last (`pytest_collection_modifyitems`), so the workers run the others meanwhile.
    QUICK_OUTPUTS=FOLDER reuses a folder such a run wrote (while working on one recipe)."""
    if os.environ.get("QUICK_OUTPUTS"):  # a folder an earlier `all --quick` wrote: reuse it
        return QuickOutputs(Path(os.environ["QUICK_OUTPUTS"]), None)
    import time

    start_quick_outputs()  # started already, unless this test was selected some other way
    folder = quick_folder()
    deadline = time.monotonic() + 1200
    while not (folder / "code").exists():
        assert time.monotonic() < deadline, "the shared quick run took over 20 minutes"
        time.sleep(0.2)
    code = int((folder / "code").read_text())
    stdout, stderr = ((folder / name).read_text() for name in ("stdout", "stderr"))
    return QuickOutputs(folder / "outputs", subprocess.CompletedProcess("all", code, stdout, stderr))


@pytest.fixture
def out_dir(tmp_path) -> Path:
    return tmp_path / "out"


# -- the fast tier: `pytest -m "not slow"` ------------------------------------------------------------

# what starts a recipe, a TensorFlow process or a training run: a test that does any of these is slow
SLOW_CALLS = (
    "run_cli(",
    "recipe_cli(",
    "signal_after_first_stage(",
    "signal_after_a_stage(",
    "stopped_after_a_stage(",
    "resume_here(",
    "kill_then_resume(",
    "test_then_train(",
    "pretrain(",
    "subprocess.",
    ".main(",
    "main([",
    "main(argv",
    "quick_outputs",
    "quick_gallery",
    "train_",
    ".fit(",
    "cross_val_score(",
    "GridSearchCV(",
)


BACKEND = os.environ.get("KERAS_BACKEND") or "tensorflow"  # the suite's: KERAS_BACKEND=jax pytest


def pytest_collection_modifyitems(config, items):
    """Mark `slow` every test that starts a recipe or a TensorFlow process, uses the shared quick
    runs, or trains a model (by the calls in its source, SLOW_CALLS), besides those marked by hand:
    `pytest -m "not slow"` is then the fast tier for an edit-test loop. On a backend other than
    TensorFlow (KERAS_BACKEND), the tests marked `tensorflow` (tf.distribute, the compiled online
    learner) are skipped, saying so."""
    import inspect

    if BACKEND != "tensorflow":
        skip = pytest.mark.skip(reason=f"TensorFlow's alone (tf.distribute, tf.function); on {BACKEND}")
        for item in items:
            if "tensorflow" in item.keywords:
                item.add_marker(skip)

    # the tests that wait for the shared quick run last: the others run while it is made
    items.sort(key=needs_quick_outputs)
    for item in items:
        function = getattr(item, "function", None)
        try:
            source = inspect.getsource(function) if function else ""
        except (OSError, TypeError):
            source = ""
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"quick_outputs", "quick_gallery"}:  # the backend tiers' tests (.ci/run)
            item.add_marker(pytest.mark.quick_run)
        if fixtures & {"quick_outputs", "quick_gallery", "csv_model"} or any(
            call in source for call in SLOW_CALLS
        ):
            item.add_marker(pytest.mark.slow)
