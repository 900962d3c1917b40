"""`python -m recipes all`: which runs it makes, records and skips, and how many at a time (its runs
replaced by stand-ins: what is checked is `all`'s own bookkeeping)."""

from __future__ import annotations

import json

import pytest

import recipes.__main__ as collection
from recipes.__main__ import ALL_STATE


@pytest.fixture
def no_redraw(monkeypatch):
    monkeypatch.setattr(collection, "redraw", lambda root: 0)


def test_a_run_that_finished_as_all_was_stopped_is_recorded(tmp_path, monkeypatch, no_redraw):
    def stopped(command, threads=None):
        stop = KeyboardInterrupt()
        stop.finished = (0, "")  # the recipe was done when the Ctrl-C came
        raise stop

    monkeypatch.setattr(collection, "run_one", stopped)
    root = tmp_path / "outputs"
    argv = ["all", "--quick", "--jobs", "1", "--only", "mlp_classifier", "--output-dir", str(root)]
    assert collection.main(argv) == 130
    state = json.loads((root / ALL_STATE).read_text())
    assert list(state["finished"]) == ["mlp_classifier"]


def test_more_jobs_than_runs_give_each_run_the_whole_machine(tmp_path, monkeypatch, no_redraw):
    seen = {}

    def parallel(pending, jobs, threads, record):
        seen.update(jobs=jobs, threads=threads, runs=len(pending))

    monkeypatch.setattr(collection, "run_parallel", parallel)
    monkeypatch.setattr("common.device.cpu_count", lambda: 4)
    argv = ["all", "--quick", "--jobs", "999", "--only", "mlp_classifier"]
    assert collection.main([*argv, "--output-dir", str(tmp_path / "outputs")]) == 0
    assert seen == {"jobs": 1, "threads": 4, "runs": 1}
