"""The run harness: what every recipe repeats, written once.

A recipe declares what it is (`Recipe`: its name, title, default runs and the headline numbers the
gallery and README show, next to the code that writes those keys), then its `run(args)` goes:

    harness = Harness(NAME, args)
    harness.quick(epochs=2, seeds=1)                      # --quick caps, one place
    ...data, model...
    per_seed = harness.over_seeds(train_one, stage="relu")  # one `per_seed` schema everywhere
    harness.check("relu_accuracy", accuracy, at_least=0.5)  # declared, printed and stored one way
    harness.save_model(model, "relu.keras")                  # artifacts written atomically
    return harness.finish(results, references, plot)        # metrics.json last

A stage (a seed, a cell, an activation, a labels-per-class k, a stream) is the unit that progress,
resume and parallel jobs work in: `over_seeds` runs one stage per seed and names it `stage/seed_N`.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.results import atomic_write_with, build_metrics, environment, mean_std, write_metrics


@dataclass(frozen=True)
class Headline:
    """One number the gallery and the README show for a run, and what it is put beside: a published
    reference (a key of common.references.REFERENCES) or another number of the same run."""

    label: str
    path: str  # into metrics.json, e.g. "results.test_accuracy"
    reference: str | None = None
    beside_label: str = ""
    beside_path: str | None = None


@dataclass(frozen=True)
class DefaultRun:
    """One run that `python -m recipes all` makes of a recipe: its extra flags, the folder under
    `outputs/<name>/` it writes, and the headline numbers it is summarised by."""

    flags: tuple[str, ...] = ()
    subdir: str = ""
    headlines: tuple[Headline, ...] = ()


@dataclass(frozen=True)
class Recipe:
    """What a recipe says about itself, for the registry, the gallery and the README."""

    name: str
    title: str
    summary: str
    runs: tuple[DefaultRun, ...] = (DefaultRun(),)

    @property
    def module(self) -> str:
        return f"recipes.{self.name}"


def seeds_for(args) -> list[int]:
    """The seeds a run covers: `--seed` and the next `--seeds - 1`."""
    return list(range(args.seed, args.seed + args.seeds))


def seed_summary(per_seed: list[dict], key: str, *, median: tuple[str, ...] = ()) -> dict:
    """`{key: mean, key_std: std, per_seed}` over seed records, plus the median of each `median` key
    (for timings, where one slow run must not move the figure)."""
    import numpy as np

    mean, std = mean_std([record[key] for record in per_seed])
    summary = {key: mean, f"{key}_std": std}
    for name in median:
        summary[name] = float(np.median([record[name] for record in per_seed]))
    summary["per_seed"] = per_seed
    return summary


_BOUNDS = {
    "at_least": (operator.ge, ">="),
    "above": (operator.gt, ">"),
    "at_most": (operator.le, "<="),
    "below": (operator.lt, "<"),
}


def expectation(value: float, **bound) -> dict:
    """`{"value", "expected", "holds"}` for one bound: at_least=, above=, at_most=, below=, or
    between=(low, high) (inclusive)."""
    if len(bound) != 1:
        raise TypeError(f"one bound, got {sorted(bound)}")
    ((kind, limit),) = bound.items()
    if kind == "between":
        low, high = limit
        return {"value": value, "expected": f"in [{low:g}, {high:g}]", "holds": low <= value <= high}
    compare, symbol = _BOUNDS[kind]
    return {"value": value, "expected": f"{symbol} {limit:g}", "holds": bool(compare(value, limit))}


class Harness:
    """One recipe run: its flags, output folder, clock, device, checks and artifacts."""

    def __init__(self, name: str, args):
        self.name, self.args = name, args
        self.out_dir = Path(args.output_dir)
        self.started = time.perf_counter()
        self.checks: dict[str, dict] = {}
        self._device: str | None = None

    # -- set-up -----------------------------------------------------------------------------------

    def quick(self, **caps) -> None:
        """With --quick, cap each named flag: a number at `min(value, cap)`, a list at its first
        `cap` items, an unset (None) flag set to `cap`. Without --quick, nothing changes."""
        if not self.args.quick:
            return
        for flag, cap in caps.items():
            value = getattr(self.args, flag)
            if value is None:
                value = cap
            elif isinstance(value, list):
                value = value[:cap]
            else:
                value = min(value, cap)
            setattr(self.args, flag, value)

    def setup_device(self) -> str:
        """Set TensorFlow's device up (GPU memory growth) and print what it runs on, once; call it
        before the first model is built. Returns the device line."""
        if self._device is None:
            from common.device import setup_device

            self._device = setup_device()
        return self._device

    # -- stages -----------------------------------------------------------------------------------

    def over_seeds(
        self,
        train_one: Callable[[int], dict],
        stage: str = "",
        describe: Callable[[dict], str] | None = None,
    ) -> list[dict]:
        """`train_one(seed)` for every seed of the run, one stage each (`stage/seed_N`); returns the
        per_seed records, each `{"seed": N, **what train_one returned}`. With `describe`, one line
        per seed says how it went."""
        seeds = seeds_for(self.args)
        records = []
        for i, seed in enumerate(seeds):
            record = {"seed": seed, **train_one(seed)}
            records.append(record)
            if describe is not None:
                where = f"{stage} " if stage else ""
                print(f"  {where}seed {seed} ({i + 1}/{len(seeds)}): {describe(record)}", flush=True)
        return records

    # -- checks and artifacts -----------------------------------------------------------------------

    def check(self, name: str, value: float, **bound) -> bool:
        """Declare what a result is expected to be; printed and stored in `results.checks`."""
        self.checks[name] = expectation(float(value), **bound)
        return self.checks[name]["holds"]

    def save_model(self, model, filename: str) -> Path:
        """`model.save` into the output folder through a temporary file and a rename."""
        return atomic_write_with(self.out_dir / filename, model.save)

    # -- the end ------------------------------------------------------------------------------------

    def finish(self, results: dict, references: list[dict], plot) -> dict:
        """Print the checks, build the metrics, draw every figure from them with `plot`, then write
        metrics.json (last, so a run that fails while drawing leaves none) and say so."""
        if self.checks:
            results = {**results, "checks": self.checks}
            for name, check in self.checks.items():
                verdict = "holds" if check["holds"] else "DOES NOT HOLD"
                print(f"check {name}: {check['value']:.4g} {check['expected']}: {verdict}")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        duration = time.perf_counter() - self.started
        env = environment(self.setup_device())
        metrics = build_metrics(self.name, vars(self.args), results, references, duration, env)
        plot(metrics, self.out_dir)
        write_metrics(self.out_dir, metrics)
        print(f"wrote {self.out_dir}/metrics.json and figures ({metrics['duration_s']:.0f} s in all)")
        return metrics
