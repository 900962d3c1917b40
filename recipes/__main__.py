"""`python -m recipes`: list the recipes; `all [--quick]` runs each with its defaults and redraws the
gallery; `plots` redraws every figure from saved metrics without training."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401  (quiet TensorFlow before any recipe imports it)
from common.cli import RecipeArgumentParser
from common.results import load_metrics
from recipes import RECIPES, Recipe, Run


def output_dir(root: Path, recipe: Recipe, run: Run) -> Path:
    folder = root / recipe.name
    return folder / run.subdir if run.subdir else folder


def list_recipes() -> int:
    width = max(len(name) for name in RECIPES)
    print("Recipes (run one with `python -m recipes.<name>`, every one with `python -m recipes all`):")
    for recipe in RECIPES.values():
        print(f"  {recipe.name:<{width}}  {recipe.title}: {recipe.summary}")
    return 0


def run_all(args) -> int:
    """Run every recipe in its own process, so one failure cannot stop (or seed) the others."""
    root = Path(args.output_dir)
    failures, timings = [], {}
    for recipe in RECIPES.values():
        for run in recipe.runs:
            label = recipe.name + (f" ({run.subdir})" if run.subdir else "")
            command = [sys.executable, "-m", recipe.module, *run.flags]
            command += ["--output-dir", str(output_dir(root, recipe, run))]
            if args.quick:
                command.append("--quick")
            print(f"\n=== {label}: {' '.join(command[1:])}", flush=True)
            start = time.perf_counter()
            code = subprocess.call(command)
            timings[label] = time.perf_counter() - start
            if code != 0:
                failures.append(f"{label} exited with code {code}")
    print("\nSummary:")
    for label, seconds in timings.items():
        print(f"  {label:<32} {seconds:7.1f} s")
    plots_code = redraw(root)
    if failures:
        print("Failed: " + "; ".join(failures), file=sys.stderr)
        return 1
    return plots_code


def redraw(root: Path) -> int:
    """Redraw each recipe's figures from its metrics.json; say which have no outputs yet."""
    missing, drawn = [], 0
    for recipe in RECIPES.values():
        module = importlib.import_module(recipe.module)
        for run in recipe.runs:
            folder = output_dir(root, recipe, run)
            try:
                metrics = load_metrics(folder)
            except FileNotFoundError:
                missing.append(str(folder))
                continue
            module.plot(metrics, folder)
            drawn += 1
            print(f"redrew {folder}")
    if missing:
        print(
            "no outputs yet (run the recipe first): " + ", ".join(missing),
            file=sys.stderr,
        )
    return 0 if drawn else 1


def main(argv=None) -> int:
    parser = RecipeArgumentParser(
        prog="python -m recipes",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="{list,all,plots}")
    commands.add_parser("list", help="list the recipes (the default)")
    everything = commands.add_parser(
        "all",
        help="run every recipe with its defaults, then redraw the figures",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    everything.add_argument("--quick", action="store_true", help="each recipe's smoke run")
    everything.add_argument("--output-dir", default="outputs", help="root folder for outputs")
    plots = commands.add_parser(
        "plots",
        help="redraw every figure from saved metrics, without training",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    plots.add_argument("--output-dir", default="outputs", help="root folder of saved outputs")
    args = parser.parse_args(argv)
    if args.command == "all":
        return run_all(args)
    if args.command == "plots":
        return redraw(Path(args.output_dir))
    return list_recipes()


if __name__ == "__main__":
    sys.exit(main())
