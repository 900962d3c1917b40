"""`python -m recipes`: list the recipes; `all [--quick]` runs each with its defaults, then redraws the
figures and the gallery; `plots` redraws every figure and outputs/index.html from saved metrics without
training; `report` rewrites the README's results table from outputs/*/metrics.json."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401  (quiet TensorFlow before any recipe imports it)
from common.cli import RecipeArgumentParser
from common.harness import DefaultRun, Recipe
from common.references import REFERENCES
from common.results import atomic_write_text, load_metrics
from recipes import gallery, registry


def output_dir(root: Path, recipe: Recipe, run: DefaultRun) -> Path:
    folder = root / recipe.name
    return folder / run.subdir if run.subdir else folder


def run_label(recipe: Recipe, run: DefaultRun) -> str:
    return recipe.name + (f" ({run.subdir})" if run.subdir else "")


def list_recipes() -> int:
    recipes = registry()
    width = max(len(name) for name in recipes)
    print("Recipes (run one with `python -m recipes.<name>`, every one with `python -m recipes all`):")
    for recipe in recipes.values():
        print(f"  {recipe.name:<{width}}  {recipe.title}: {recipe.summary}")
    return 0


def run_one(command: list[str]) -> tuple[int, str]:
    """Run a recipe in its own process, passing its output through; return its exit code and the
    last line it wrote to stderr (its error, if it failed)."""
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    tail = b""
    while chunk := os.read(process.stderr.fileno(), 4096):
        sys.stderr.buffer.write(chunk)
        sys.stderr.flush()
        tail = (tail + chunk)[-4096:]
    code = process.wait()
    lines = [line.strip() for line in tail.decode(errors="replace").replace("\r", "\n").splitlines()]
    noise = ("I0000", "W0000", "E0000", "WARNING: All log")
    lines = [line for line in lines if line and not line.startswith(noise)]
    return code, lines[-1] if lines else ""


ALL_STATE = ".run_all.checkpoint.json"  # the recipes an unfinished `all` has finished


def all_state(root: Path, args) -> tuple[dict, dict]:
    """(fingerprint, the runs this `all` has finished): read back with --resume (refused when made
    with other flags or versions, or unreadable), empty otherwise."""
    from common.checkpoint import CheckpointError, refuse_other_run, versions

    fingerprint = {"recipe": "all", "flags": {"quick": args.quick}, "versions": versions()}
    path = root / ALL_STATE
    if not (args.resume and path.is_file()):
        return fingerprint, {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        saved, finished = state["fingerprint"], dict(state["finished"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"--resume: {path} is truncated or corrupt ({error})") from None
    refuse_other_run(saved, fingerprint, path)
    return fingerprint, finished


def run_all(args) -> int:
    """Every recipe in its own process, so one failure cannot stop (or seed) the others. Each finished
    run is recorded; `--resume` skips those and resumes the others (each from its own checkpoint)."""
    from common.cli import UsageError
    from common.harness import check_writable

    root = Path(args.output_dir)
    try:
        check_writable(root, "--output-dir")
        fingerprint, finished = all_state(root, args)
    except UsageError as error:
        print(f"python -m recipes all: error: {error}", file=sys.stderr)
        return 2
    summary = {}
    for recipe in registry().values():
        for run in recipe.runs:
            label = run_label(recipe, run)
            if label in finished:
                print(f"\n=== {label}: finished before, skipped (--resume)", flush=True)
                summary[label] = finished[label]
                continue
            command = [sys.executable, "-m", recipe.module, *run.flags]
            command += ["--output-dir", str(output_dir(root, recipe, run))]
            command += ["--quick"] if args.quick else []
            command += ["--resume"] if args.resume else []
            print(f"\n=== {label}: python {' '.join(command[1:])}", flush=True)
            start = time.perf_counter()
            try:
                code, last_error = run_one(command)
            except KeyboardInterrupt:
                print(
                    f"python -m recipes all: interrupted during {label}; {len(finished)} run(s) "
                    f"finished and kept; resume with: python -m recipes all "
                    f"{'--quick ' if args.quick else ''}--output-dir {root} --resume",
                    file=sys.stderr,
                )
                return 130
            summary[label] = {
                "seconds": round(time.perf_counter() - start, 1),
                "exit_code": code,
                "error": last_error if code else None,
            }
            if code == 0:
                finished[label] = summary[label]
                state = {"fingerprint": fingerprint, "finished": finished}
                atomic_write_text(root / ALL_STATE, json.dumps(state, indent=1) + "\n")
    atomic_write_text(root / "run_all.json", json.dumps(summary, indent=2) + "\n")
    print("\nSummary (wall time per recipe):")
    for label, item in summary.items():
        status = (
            "ok" if item["exit_code"] == 0 else f"FAILED (exit {item['exit_code']}): {item['error']}"
        )
        print(f"  {label:<32} {item['seconds']:7.1f} s  {status}")
    print(f"  {'all':<32} {sum(i['seconds'] for i in summary.values()):7.1f} s")
    redraw(root)
    failed = [label for label, item in summary.items() if item["exit_code"] != 0]
    if not failed:
        (root / ALL_STATE).unlink(missing_ok=True)  # every run finished: nothing left to resume
    if failed:
        print(f"{len(failed)} recipe run(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def redraw(root: Path) -> int:
    """Redraw each recipe's figures from its metrics.json, then the gallery page; say which recipes
    have no outputs yet."""
    missing, drawn = [], 0
    for recipe in registry().values():
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
        print("no outputs yet (run the recipe first): " + ", ".join(missing), file=sys.stderr)
    page = write_gallery(root)
    print(f"wrote {page}")
    return 0 if drawn else 1


def headline_rows(run: DefaultRun, metrics: dict | None) -> list[dict]:
    rows = []
    for item in run.headlines:
        value = gallery.lookup(metrics, item.path) if metrics else None
        if item.reference:
            ref = REFERENCES[item.reference]
            beside = f"{ref.name}: {gallery.fmt(ref.value)} (published)"
        elif item.beside_path:
            other = gallery.lookup(metrics, item.beside_path) if metrics else None
            beside = f"{item.beside_label}: {gallery.fmt(other)} (same run)"
        else:
            beside = ""
        rows.append({"label": item.label, "value": value, "beside": beside})
    return rows


def collect(root: Path, relative_to: Path, recipes=None) -> list[dict]:
    """The gallery's sections: every recipe's (or each of `recipes`') runs, metrics, figures and
    headline rows."""
    sections = []
    for recipe in recipes if recipes is not None else registry().values():
        runs = []
        for run in recipe.runs:
            folder = output_dir(root, recipe, run)
            try:
                metrics = load_metrics(folder)
            except FileNotFoundError:
                metrics = None
            rel = Path(os.path.relpath(folder, relative_to)).as_posix()
            figures = sorted(p.name for p in folder.glob("*.png")) if metrics else []
            runs.append(
                {
                    "label": run_label(recipe, run),
                    "folder": rel,
                    "metrics": metrics,
                    "figures": [f"{rel}/{name}" for name in figures],
                    "headlines": headline_rows(run, metrics),
                }
            )
        command = f"python -m {recipe.module}"
        sections.append(
            {
                "name": recipe.name,
                "title": recipe.title,
                "summary": recipe.summary,
                "command": command,
                "runs": runs,
            }
        )
    return sections


def report_sections(root: Path, relative_to: Path) -> list[dict]:
    """The README table's sections: every recipe's, then the benchmarks' speed ratios."""
    from benchmarks import BENCHMARKS

    return collect(root, relative_to, [*registry().values(), BENCHMARKS])


def write_gallery(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(root / "index.html", gallery.render_index(collect(root, root)))


def report(readme: Path, root: Path) -> int:
    """Rewrite the README's results table from saved metrics (paths relative to the README)."""
    table = gallery.render_results_table(report_sections(root, readme.parent))
    text = readme.read_text(encoding="utf-8")
    try:
        updated = gallery.replace_readme_block(text, table)
    except ValueError as error:
        print(f"python -m recipes report: error: {readme}: {error}", file=sys.stderr)
        return 2
    atomic_write_text(readme, updated)
    print(f"rewrote the results table in {readme}")
    return 0


def main(argv=None) -> int:
    parser = RecipeArgumentParser(
        prog="python -m recipes",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="{list,all,plots,report}")
    commands.add_parser("list", help="list the recipes (the default)")
    formatter = argparse.ArgumentDefaultsHelpFormatter
    everything = commands.add_parser(
        "all", help="run every recipe with its defaults, then redraw figures and gallery",
        formatter_class=formatter,
    )  # fmt: skip
    everything.add_argument("--quick", action="store_true", help="each recipe's smoke run")
    everything.add_argument("--output-dir", default="outputs", help="root folder for outputs")
    everything.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed `all`: skip the runs it finished, resume the others",
    )
    plots = commands.add_parser(
        "plots", help="redraw every figure and index.html from saved metrics, without training",
        formatter_class=formatter,
    )  # fmt: skip
    plots.add_argument("--output-dir", default="outputs", help="root folder of saved outputs")
    rewrite = commands.add_parser(
        "report", help="rewrite the README results table from saved metrics", formatter_class=formatter
    )
    rewrite.add_argument("--output-dir", default="outputs", help="root folder of saved outputs")
    rewrite.add_argument("--readme", default="README.md", help="the README to rewrite")
    args = parser.parse_args(argv)
    if args.command == "all":
        return run_all(args)
    if args.command == "plots":
        return redraw(Path(args.output_dir))
    if args.command == "report":
        return report(Path(args.readme), Path(args.output_dir))
    return list_recipes()


if __name__ == "__main__":
    sys.exit(main())
