"""Time whole commands in two checkouts of the collection, one after the other on this machine.

    python -m benchmarks.compare_checkouts BEFORE AFTER [--commands rnn,fast,suite,...] [--repeats N]

BEFORE and AFTER are folders holding a checkout each (e.g. `git worktree add /tmp/before <commit>`);
both run with this interpreter. Each command runs in BEFORE, then in AFTER, `--repeats` times in
turn, each into a fresh temporary output folder, and the script prints each side's median wall time
and the ratio AFTER / BEFORE. It measures and prints; it asserts nothing (the machines are shared and
noisy: quote the ratios of one run, not an absolute time alone).

Commands: `default-<recipe>` one recipe's default run (`rnn`: rnn_sequence's); `all` `python -m
recipes all` (its default jobs);
`all-quick` `python -m recipes all --quick --jobs 1`; `quick-<recipe>` one recipe's `--quick`
(process start to exit, Python and TensorFlow's start included); `suite` the whole test suite
(`pytest`, the README's test command); `fast` the fast tier (`pytest -m "not slow"`). With
`--outputs DIR` each run writes into DIR/<side>/<command>-<repeat> and keeps it there (to compare the
two sides' metrics.json); without it, into a temporary folder removed after the run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPES = ("activations", "mlp_classifier", "rnn_sequence", "transfer_learning", "online_learning")
COMMANDS = {
    "rnn": ["-m", "recipes.rnn_sequence", "--quiet", "--output-dir", "{out}"],
    "all": ["-m", "recipes", "all", "--quiet", "--output-dir", "{out}"],
    "all-quick": ["-m", "recipes", "all", "--quick", "--jobs", "1", "--quiet", "--output-dir", "{out}"],
    **{
        f"quick-{name}": ["-m", f"recipes.{name}", "--quick", "--quiet", "--output-dir", "{out}"]
        for name in RECIPES
    },
    **{
        f"default-{name}": ["-m", f"recipes.{name}", "--quiet", "--output-dir", "{out}"]
        for name in RECIPES
    },
    "suite": ["-m", "pytest", "-q", "-p", "no:cacheprovider"],
    "fast": ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow"],
}


def timed(checkout: Path, name: str, out: Path | None = None) -> tuple[float, int]:
    """(seconds, exit code) of one run of command `name` in `checkout`, writing into `out` (a
    temporary folder when None)."""
    with tempfile.TemporaryDirectory(prefix=f"compare-{name}-") as temporary:
        argv = [
            sys.executable,
            *(part.replace("{out}", str(out or temporary)) for part in COMMANDS[name]),
        ]
        start = time.perf_counter()
        result = subprocess.run(argv, cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start, result.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare_checkouts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("before", type=Path, help="the checkout to compare against")
    parser.add_argument("after", type=Path, help="the checkout measured")
    parser.add_argument("--commands", default="rnn,fast", help=f"comma-separated: {', '.join(COMMANDS)}")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each command on each side")
    parser.add_argument(
        "--outputs",
        type=Path,
        default=None,
        help="keep each run's outputs in OUTPUTS/<side>/<command>-<n>",
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.commands.split(",") if name.strip()]
    unknown = [name for name in names if name not in COMMANDS]
    if unknown or args.repeats < 1:
        parser.error(
            f"unknown command(s) {', '.join(unknown)}" if unknown else "--repeats must be 1 or more"
        )
    for name in names:
        times = {"before": [], "after": []}
        for repeat in range(args.repeats):
            for side in ("before", "after"):
                out = args.outputs / side / f"{name}-{repeat + 1}" if args.outputs else None
                seconds, code = timed(getattr(args, side), name, out)
                times[side].append(seconds)
                print(f"{name} {side} run {repeat + 1}: {seconds:.1f} s (exit {code})", flush=True)
        before, after = (statistics.median(times[side]) for side in ("before", "after"))
        print(
            f"{name}: before {before:.1f} s, after {after:.1f} s, ratio {after / before:.2f} (medians)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
