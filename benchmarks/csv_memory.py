"""The peak memory and time of reading a large CSV, beside its size, in this checkout and another.

    python -m benchmarks.csv_memory [--mb 60] [--against OTHER_CHECKOUT] [--repeats 3]

It writes a CSV of about `--mb` MB (five number columns, a text column, a label; seeded), then reads
it with `common.data.load_csv_table` (what `--dataset csv:` reads through) in a fresh process per
repeat, in this checkout and, with `--against`, in another (e.g. `git worktree add /tmp/before
<commit>`), one after the other. It prints each side's median peak resident memory (the process's
own accounting), its ratio to the file's size, and its median wall time. It measures and prints; it
asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READ = """
import sys
sys.path.insert(0, sys.argv[1])
from common import data
x, y, classes, features, columns = data.load_csv_table(sys.argv[2], "label")
print(x.shape, classes)
"""


def write_csv(path: Path, megabytes: float) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    rows_per_mb = 23_000  # about 44 bytes a row
    n = int(megabytes * rows_per_mb)
    colours = np.array(["red", "green", "blue"])
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("a,b,c,d,e,colour,label\n")
        for start in range(0, n, 100_000):
            size = min(100_000, n - start)
            values = rng.normal(size=(size, 5)).round(4)
            colour = colours[rng.integers(0, 3, size)]
            label = rng.integers(0, 3, size)
            handle.write(
                "".join(
                    f"{r[0]},{r[1]},{r[2]},{r[3]},{r[4]},{c},{y}\n"
                    for r, c, y in zip(values, colour, label)
                )
            )
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.csv_memory", description=__doc__)
    parser.add_argument("--mb", type=float, default=60.0, help="size of the CSV, in MB")
    parser.add_argument("--against", default=None, help="another checkout, read the same way")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side (median)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder) / "table.csv", args.mb)
        size = path.stat().st_size
        sides = {"this checkout": ROOT}
        if args.against:
            sides["--against"] = Path(args.against).resolve()
        results = {name: [] for name in sides}
        for _ in range(args.repeats):
            for name, checkout in sides.items():
                # each run in its own process, its peak read by a process of its own too
                probe = [sys.executable, "-c", _PROBE, sys.executable, READ, str(checkout), str(path)]
                done = subprocess.run(probe, capture_output=True, text=True, check=True)
                peak, seconds = map(float, done.stdout.split())
                results[name].append((peak, seconds))
        print(f"CSV of {size / 1e6:.1f} MB, {args.repeats} run(s) a side, medians:")
        for name, runs in results.items():
            peak = statistics.median(p for p, _ in runs)
            seconds = statistics.median(s for _, s in runs)
            ratio = peak / size
            print(f"  {name:<14} peak {peak / 1e6:7.0f} MB ({ratio:4.1f}x the file), {seconds:5.1f} s")
    return 0


# a process that runs one read and prints its child's peak memory and time (RUSAGE_CHILDREN is per
# parent: a fresh parent per run gives that run's peak alone)
_PROBE = """
import resource, subprocess, sys, time
started = time.perf_counter()
subprocess.run([sys.argv[1], "-c", *sys.argv[2:]], check=True, capture_output=True)
seconds = time.perf_counter() - started
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024.0, seconds)
"""

if __name__ == "__main__":
    sys.exit(main())
