"""`python -m recipes`: list the recipes; `<name> [flags]` runs one, as `python -m recipes.<name>`
does; `all [--quick]` runs each with its defaults, then redraws the figures and the gallery; `plots`
redraws every figure and outputs/index.html from saved metrics without training; `report` rewrites the
README's results table from outputs/*/metrics.json."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import common  # noqa: F401  (quiet TensorFlow before any recipe imports it)
from common.cli import (
    DefaultsHelpFormatter,
    RecipeArgumentParser,
    comma_list,
    positive_int,
    version_line,
)
from common.device import thread_env
from common.errors import UsageError
from common.harness import DefaultRun, Recipe, command_main
from common.outputs import figures as run_figures
from common.outputs import redrawn
from common.references import REFERENCES
from common.results import atomic_write_text, fmt_duration, load_metrics, recording_writes
from recipes import NAMES, gallery, registry


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


def start_recipe(command: list[str], env: dict, **pipes) -> subprocess.Popen:
    """A recipe's process, in a session of its own: a Ctrl-C at the terminal reaches `all` alone,
    which passes it on to each running recipe once (`stop_children`), however it was sent."""
    return subprocess.Popen(command, env=env, start_new_session=True, **pipes)


def run_one(command: list[str], threads: int | None = None) -> tuple[int, str]:
    """Run a recipe in its own process (with `threads`, see `thread_env`), passing its output
    through; return its exit code and the last line it wrote to stderr (its error, if it failed).
    Stopped (Ctrl-C, SIGTERM), it stops the recipe, passes on what the recipe still says (its
    "resume with" line), and raises again with `.finished`: the recipe's (code, last line)."""
    process = start_recipe(command, thread_env(threads), stderr=subprocess.PIPE)
    tail = b""

    def relay_stderr() -> None:
        nonlocal tail
        while chunk := os.read(process.stderr.fileno(), 4096):
            sys.stderr.buffer.write(chunk)
            sys.stderr.flush()
            tail = (tail + chunk)[-4096:]

    try:
        relay_stderr()
    except KeyboardInterrupt as stop:
        stop_children([process], stop)
        relay_stderr()  # to its end: the recipe's own line on what it kept
        stop.finished = (process.returncode, last_line(tail.decode(errors="replace").splitlines()))
        raise
    code = process.wait()
    return code, last_line(tail.decode(errors="replace").replace("\r", "\n").splitlines())


def stop_children(processes, stop: KeyboardInterrupt) -> None:
    """Pass the signal that stopped `all` (`stop`: Ctrl-C's SIGINT, or SIGTERM) on to each running
    recipe, once (each runs in a session of its own: nothing else reached it), and wait for each to
    stop, keeping its checkpoint."""
    import signal

    from common.errors import Terminated

    sent = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
    for process in processes:
        if process.poll() is None:
            process.send_signal(sent)
    for process in processes:
        while True:
            try:
                process.wait()
                break
            except KeyboardInterrupt:  # a second Ctrl-C or SIGTERM: the children are stopping
                continue


def last_line(lines: list[str]) -> str:
    """The last line of a run's stderr that is not TensorFlow's own logging: its error, if it failed."""
    noise = ("I0000", "W0000", "E0000", "WARNING: All log")
    lines = [line.strip() for line in lines]
    lines = [line for line in lines if line and not line.startswith(noise)]
    return lines[-1] if lines else ""


ALL_STATE = ".run_all.checkpoint.json"  # the recipes an unfinished `all` has finished
REPO = Path(__file__).resolve().parent.parent  # this checkout
COMMITTED = REPO / "outputs"  # this checkout's committed default run


def all_state(root: Path, args) -> tuple[dict, dict]:
    """(fingerprint, the runs this `all` has finished): read back with --resume (refused when made
    with other flags or versions, or unreadable), empty otherwise."""
    from common.checkpoint import CheckpointError, refuse_other_run, versions

    flags = {"quick": args.quick, "threads": args.threads}
    fingerprint = {"recipe": "all", "flags": flags, "versions": versions()}
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
    """Every recipe in its own process, so one failure cannot stop (or seed) the others; with --jobs N,
    N at a time, the longest first (by the last run's times), each given its share of the machine's
    threads. Each finished run is recorded; `--resume` skips those and resumes the others (each from
    its own checkpoint)."""
    from common.device import cpu_count
    from common.errors import Terminated, UsageError, stop_on_sigterm
    from common.harness import check_backend
    from common.results import check_writable

    stop_on_sigterm()
    begun = time.perf_counter()
    args.output_dir = args.output_dir or ("outputs/quick" if args.quick else "outputs")
    root = Path(args.output_dir)
    try:
        check_backend()
        check_writable(root, "--output-dir")
        fingerprint, finished = all_state(root, args)
    except UsageError as error:
        print(f"python -m recipes all: error: {error}", file=sys.stderr)
        return 2
    summary, pending = {}, []
    for recipe in registry().values():
        if args.only and recipe.name not in args.only:
            continue
        for run in recipe.runs:
            label = run_label(recipe, run)
            if label in finished and (output_dir(root, recipe, run) / "metrics.json").is_file():
                print(f"\n=== {label}: finished before, skipped (--resume)", flush=True)
                summary[label] = finished[label]
                continue
            if finished.pop(label, None) is not None:  # recorded, but its outputs are gone
                print(f"\n=== {label}: finished before, but its metrics.json is gone: again")
            command = [sys.executable, "-m", recipe.module, *run.flags]
            command += ["--output-dir", str(output_dir(root, recipe, run))]
            command += ["--quick"] if args.quick else []
            command += ["--quiet"] if args.quiet else []
            command += ["--resume"] if args.resume else []
            pending.append((label, command))

    def record(label: str, code: int, last_error: str, seconds: float, where: dict) -> None:
        summary[label] = {
            "seconds": round(seconds, 1),
            "exit_code": code,
            "error": last_error if code else None,
            **where,
        }
        if code == 0:
            finished[label] = summary[label]
            state = {"fingerprint": fingerprint, "finished": finished}
            atomic_write_text(root / ALL_STATE, json.dumps(state, indent=1) + "\n")

    try:
        jobs = auto_jobs(len(pending)) if args.jobs == "auto" else args.jobs
        if jobs == 1:
            started, last = time.perf_counter(), last_times(root)
            for i, (label, command) in enumerate(pending, 1):
                print(f"\n=== {progress_line(i, pending, started, last)}", flush=True)
                print(f"    python {' '.join(command[1:])}", flush=True)
                start = time.perf_counter()
                where = {"threads": args.threads} if args.threads else {}
                try:
                    code, last_error = run_one(command, args.threads)
                except KeyboardInterrupt as stop:  # a run that finished as `all` was stopped counts
                    code, last_error = getattr(stop, "finished", (None, ""))
                    if code == 0:
                        record(label, code, last_error, time.perf_counter() - start, where)
                    raise
                record(label, code, last_error, time.perf_counter() - start, where)
        else:
            jobs = min(jobs, len(pending)) or 1  # no more jobs than runs: each its share of threads
            threads = args.threads or max(1, cpu_count() // jobs)
            run_parallel(longest_first(pending, root), jobs, threads, record)
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        again = ["--quick"] if args.quick else []  # the flags a resumed `all` must repeat
        again += ["--threads", str(args.threads)] if args.threads else []
        again += ["--only", ",".join(args.only)] if args.only else []
        print(
            f"python -m recipes all: {'terminated (SIGTERM)' if terminated else 'interrupted'}; "
            f"{len(finished)} run(s) finished and kept, the running ones stopped with their "
            f"checkpoints; resume with: python -m recipes all {' '.join([*again, ''])}"
            f"--output-dir {root} --resume",
            file=sys.stderr,
        )
        return 143 if terminated else 130
    order = [run_label(recipe, run) for recipe in registry().values() for run in recipe.runs]
    summary = {label: summary[label] for label in order if label in summary}  # registry order
    atomic_write_text(root / "run_all.json", json.dumps(summary, indent=2) + "\n")
    print("\nSummary (each run's own wall time):")
    for label, item in summary.items():
        status = (
            "ok" if item["exit_code"] == 0 else f"FAILED (exit {item['exit_code']}): {item['error']}"
        )
        where = f"  job {item['job']}," if "job" in item else ""
        where += f" {item['threads']} thread(s)" if "threads" in item else ""
        print(f"  {label:<32} {item['seconds']:7.1f} s  {status}{where}")
    added = sum(item["seconds"] for item in summary.values())
    print(f"  {'the runs, added up':<32} {added:7.1f} s")
    print(f"  {'all, start to end':<32} {time.perf_counter() - begun:7.1f} s  (wall time)")
    redraw(root)
    failed = [label for label, item in summary.items() if item["exit_code"] != 0]
    if not failed:
        (root / ALL_STATE).unlink(missing_ok=True)  # every run finished: nothing left to resume
    if failed:
        print(f"{len(failed)} recipe run(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def last_times(root: Path) -> dict[str, float]:
    """Each run's wall time in the last `all` into `root` (its run_all.json); empty without one."""
    try:
        last = json.loads((root / "run_all.json").read_text(encoding="utf-8"))
        return {label: float(item["seconds"]) for label, item in last.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def longest_first(pending: list, root: Path) -> list:
    """The runs ordered by their wall time in the last `all` into `root` (for a new folder, in this
    checkout's committed default run, outputs/run_all.json), longest first, so the long ones do not
    start last; runs it does not list keep the registry's order."""
    seconds = last_times(root) or last_times(COMMITTED)
    return sorted(pending, key=lambda run: -seconds.get(run[0], 0.0))


def progress_line(i: int, pending: list, started: float, last: dict[str, float]) -> str:
    """`[i/N] label`, the time since `all` started, and the time left if the remaining runs (this one
    included) take what they took last time (when the last run_all.json lists them all)."""
    label = pending[i - 1][0]
    line = f"[{i}/{len(pending)}] {label}: {fmt_duration(time.perf_counter() - started)} elapsed"
    left = [last.get(name) for name, _ in pending[i - 1 :]]
    if all(seconds is not None for seconds in left):
        line += f", about {fmt_duration(sum(left))} left (from the last run's times)"
    return line


def jobs_count(text: str):
    """`--jobs`: "auto" or a positive whole number."""
    return text if text == "auto" else positive_int(text)


def auto_jobs(runs: int) -> int:
    """--jobs auto: one run per core, at most one per run (at least one)."""
    from common.device import cpu_count

    return max(1, min(cpu_count(), runs))


def run_parallel(pending: list, jobs: int, threads: int, record) -> None:
    """Run `pending` ((label, command) pairs) `jobs` at a time, each process given `threads` threads
    (`thread_env`; by default the machine's divided by the jobs): its output passed through line by line,
    each line led by `[label]`; `record` gets each run's exit code, error, seconds and where it ran.
    Ctrl-C stops the runs (each keeps its checkpoint) and raises KeyboardInterrupt."""
    import threading

    env = thread_env(threads)
    print(f"\n=== {len(pending)} run(s), {jobs} at a time, {threads} thread(s) each", flush=True)
    queue, running, free = list(pending), {}, list(range(1, jobs + 1))
    started = time.perf_counter()
    try:
        while queue or running:
            while queue and free:
                label, command = queue.pop(0)
                slot = free.pop(0)
                done = len(pending) - len(queue)
                print(
                    f"=== [{done}/{len(pending)}] {label}: job {slot}, "
                    f"{fmt_duration(time.perf_counter() - started)} elapsed: "
                    f"python {' '.join(command[1:])}",
                    flush=True,
                )
                process = start_recipe(command, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                tail: list[str] = []
                readers = [
                    threading.Thread(target=relay, args=(process.stdout, sys.stdout, label, None)),
                    threading.Thread(target=relay, args=(process.stderr, sys.stderr, label, tail)),
                ]
                for reader in readers:
                    reader.start()
                running[slot] = (label, process, readers, tail, time.perf_counter())
            time.sleep(0.1)
            for slot, (label, process, readers, tail, start) in list(running.items()):
                if process.poll() is None:
                    continue
                for reader in readers:
                    reader.join()
                seconds = time.perf_counter() - start
                record(
                    label,
                    process.returncode,
                    last_line(tail),
                    seconds,
                    {"job": slot, "threads": threads},
                )
                print(f"=== {label}: job {slot} done in {seconds:.1f} s (exit {process.returncode})")
                del running[slot]
                free.append(slot)
    except KeyboardInterrupt as stop:
        stop_children([process for _, process, _, _, _ in running.values()], stop)
        for slot, (label, process, readers, _tail, start) in running.items():
            for reader in readers:
                reader.join()  # to the end of its output: the recipe's own line on what it kept
            if process.returncode == 0:  # it finished as `all` was stopped: it counts
                record(label, 0, "", time.perf_counter() - start, {"job": slot, "threads": threads})
        raise


def relay(pipe, out, label: str, tail: list[str] | None) -> None:
    """Copy `pipe` to `out` line by line, each line led by `[label] ` (a progress bar's last state
    only); keep the last 50 lines in `tail` when given."""
    for raw in iter(pipe.readline, b""):
        # a progress bar redraws itself after "\r": of its states, pass on the last one only
        states = raw.decode(errors="replace").rstrip("\r\n").split("\r")
        line = next((part for part in reversed(states) if part.strip()), "")
        out.write(f"[{label}] {line}\n")
        out.flush()
        if tail is not None:
            tail.append(line)
            del tail[:-50]
    pipe.close()


def redraw(root: Path) -> int:
    """Redraw each recipe's figures from its metrics.json, then the gallery page; say which recipes
    have no outputs yet."""
    missing, saved = [], []
    for recipe in registry().values():  # every metrics.json read (and checked) before any drawing
        module = importlib.import_module(recipe.module)
        for run in recipe.runs:
            folder = output_dir(root, recipe, run)
            try:
                saved.append((module, load_metrics(folder), folder))
            except FileNotFoundError:
                missing.append(str(folder))
    for module, metrics, folder in saved:
        with recording_writes() as written:
            module.plot(metrics, folder)
        redrawn(folder, written)  # the folder's manifest lists the figures drawn now
        print(f"redrew {folder}")
    drawn = len(saved)
    if missing:
        print("no outputs yet (run the recipe first): " + ", ".join(missing), file=sys.stderr)
    page = write_gallery(root)
    print(f"wrote {page}")
    return 0 if drawn else 1


class RunFacts(dict):
    """A run's recorded args (and plain results), for a headline label's `{placeholders}`;
    `{mean_of_seeds}` reads "mean of 3 seeds" or "one seed"; an unknown name reads "?"."""

    def __missing__(self, key):
        return "?"


def run_facts(recipe: Recipe, run: DefaultRun, metrics: dict | None) -> RunFacts:
    """What a run was: the args its metrics.json records and the plain values at the top of its
    results (e.g. a network's shape), over its parser's defaults for the run's flags (all there is
    before a first run; a flag added since the run reads its default)."""
    try:
        parser = importlib.import_module(f"{recipe.module}.recipe").build_parser()
        facts = RunFacts(vars(parser.parse_args(list(run.flags))))
    except (ImportError, AttributeError, SystemExit):
        facts = RunFacts()
    if metrics:
        plain = {k: v for k, v in metrics.get("results", {}).items() if isinstance(v, (str, int))}
        facts.update({**plain, **(metrics.get("args") or {})})
    seeds = facts.get("seeds")
    facts["mean_of_seeds"] = f"mean of {seeds} seeds" if seeds and seeds > 1 else "one seed"
    return facts


def headline_rows(recipe: Recipe, run: DefaultRun, metrics: dict | None) -> list[dict]:
    """The run's headline numbers, labelled with what it was (its seeds, data, network, read from
    its args); a smoke run's labels say so."""
    facts, rows = run_facts(recipe, run, metrics), []
    for item in run.headlines:
        value = gallery.lookup(metrics, item.path) if metrics else None
        if item.reference:  # only beside a run held against it: a number on the same data
            ref, held = REFERENCES[item.reference], (metrics or {}).get("references")
            same_data = held is None or any(r.get("name") == ref.name for r in held)
            beside = f"{ref.name}: {gallery.fmt(ref.value)} (published)" if same_data else ""
        elif item.beside_path:
            other = gallery.lookup(metrics, item.beside_path) if metrics else None
            beside = f"{item.beside_label}: {gallery.fmt(other)} (same run)"
        else:
            beside = ""
        label = item.label.format_map(facts)
        if facts.get("quick"):
            label += " [smoke run: --quick]"
        rows.append({"label": label, "value": value, "beside": beside})
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
            figures = run_figures(folder) if metrics else []
            captions = figure_captions(recipe)
            runs.append(
                {
                    "label": run_label(recipe, run),
                    "folder": rel,
                    "metrics": metrics,
                    "figures": [f"{rel}/{name}" for name in figures],
                    "captions": [caption_for(name, captions) for name in figures],
                    "headlines": headline_rows(recipe, run, metrics),
                    "command": " ".join(["python -m", recipe.module, *run.flags]),
                }
            )
        command = f"python -m {recipe.module}"
        lead = lead_figure(recipe, runs[0])
        page = REPO / Path(*recipe.module.split(".")) / "README.md"  # the recipe's page (report)
        # an outputs/ folder's page links the recipe pages of the checkout it sits in, wherever that
        # is (the same bytes in any clone); another folder links this checkout's
        if page.is_file():
            within = relative_to.name == "outputs"
            page = page.relative_to(REPO) if within else Path(os.path.relpath(page, relative_to))
            link = f"../{page.as_posix()}" if within else page.as_posix()
        else:
            link = None
        sections.append(
            {
                "name": recipe.name,
                "title": recipe.title,
                "summary": recipe.summary,
                "command": command,
                "runs": runs,
                "lead": lead,
                "page": link,
            }
        )
    return sections


def figure_captions(recipe: Recipe) -> dict[str, str]:
    """What to see in each figure, as the recipe writes it beside its plots (`<recipe>.plots.CAPTIONS`:
    a figure's name, or the start of it, to one line)."""
    try:
        return dict(importlib.import_module(f"{recipe.module}.plots").CAPTIONS)
    except (ImportError, AttributeError):
        return {}


def lead_figure(recipe: Recipe, run: dict) -> dict | None:
    """The figure a recipe's gallery section opens with (`<recipe>.plots.LEAD`, else its first run's
    first figure), with its caption and the run's first headline: `{"figure", "caption",
    "headline"}`; None before a first run."""
    if not run["figures"]:
        return None
    try:
        stem = importlib.import_module(f"{recipe.module}.plots").LEAD
    except (ImportError, AttributeError):
        stem = ""
    names = [figure.rsplit("/", 1)[-1] for figure in run["figures"]]
    index = names.index(f"{stem}.png") if f"{stem}.png" in names else 0
    headline = run["headlines"][0] if run["headlines"] else None
    return {"figure": run["figures"][index], "caption": run["captions"][index], "headline": headline}


def caption_for(figure: str, captions: dict[str, str]) -> str:
    """The caption of `figure` (a file name): its own, or that of the longest name it starts with."""
    stem = figure.removesuffix(".png")
    keys = [key for key in captions if stem.startswith(key)]
    return captions[max(keys, key=len)] if keys else ""


def report_sections(root: Path, relative_to: Path) -> list[dict]:
    """The README table's sections: every recipe's, then the benchmarks' speed ratios."""
    from benchmarks import BENCHMARKS

    return collect(root, relative_to, [*registry().values(), BENCHMARKS])


def write_gallery(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    from benchmarks import BENCHMARKS

    sections = collect(root, root, [*registry().values(), BENCHMARKS])
    return atomic_write_text(root / "index.html", gallery.render_index(sections))


def recipe_readmes(repo: Path, root: Path) -> list[dict]:
    """Each recipe folder's README.md (`{"path", "text"}`), links relative to that folder, from the
    recipe's docstring and the saved metrics under `root`."""
    readmes = []
    for recipe in registry().values():
        (section,) = collect(root, repo / "recipes" / recipe.name, [recipe])
        story = importlib.import_module(f"{recipe.module}.recipe")
        source = Path(story.__file__).read_text(encoding="utf-8")
        text = gallery.render_recipe_readme(section, story.__doc__ or "", gallery.story_sections(source))
        readmes.append({"path": repo / "recipes" / recipe.name / "README.md", "text": text})
    return readmes


def recipe_notebooks(repo: Path) -> list[dict]:
    """Each recipe folder's notebook (`{"path", "text"}`), from its docstring (recipes/notebooks.py)."""
    from recipes import notebooks

    books = []
    for recipe in registry().values():
        story = importlib.import_module(f"{recipe.module}.recipe")
        source = Path(story.__file__).read_text(encoding="utf-8")
        title = gallery.title_of(story.__doc__ or "")
        text = notebooks.notebook_text(recipe.name, title, story.__doc__ or "", source)
        books.append({"path": notebooks.notebook_path(repo, recipe.name), "text": text})
    return books


def report(readme: Path, root: Path) -> int:
    """Rewrite the README's results table from saved metrics (paths relative to the README), and
    each recipe folder's README.md beside it (recipes/<name>/); a smoke run (--quick) is refused:
    the READMEs show full runs only. Nothing is written when anything is refused."""
    if not readme.is_file():
        raise UsageError(
            f"--readme {readme}: no such file; run `python -m recipes report` from the checkout's "
            "folder, or name its README.md"
        )
    sections = report_sections(root, readme.parent)
    smoke = [
        run["folder"]
        for section in sections
        for run in section["runs"]
        if (run["metrics"] or {}).get("args", {}).get("quick")
    ]
    if smoke:
        print(
            f"python -m recipes report: error: {', '.join(smoke)} hold a smoke run (--quick), not "
            "put into the README; run them in full first",
            file=sys.stderr,
        )
        return 2
    table = gallery.render_results_table(sections)
    text = readme.read_text(encoding="utf-8")
    try:
        updated = gallery.replace_readme_block(text, table)
    except ValueError as error:
        print(f"python -m recipes report: error: {readme}: {error}", file=sys.stderr)
        return 2
    readmes = recipe_readmes(readme.parent, root)
    for section in [*readmes, *recipe_notebooks(readme.parent)]:
        atomic_write_text(section["path"], section["text"])
    atomic_write_text(readme, updated)
    print(
        f"rewrote the results table in {readme} and {len(readmes)} recipe README.md files and notebooks"
    )
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in NAMES:  # `python -m recipes mlp_classifier --quick`: that recipe's own CLI
        return importlib.import_module(f"recipes.{argv[0]}").main(argv[1:])
    parser = RecipeArgumentParser(
        prog="python -m recipes",
        description=__doc__,
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(
        dest="command", metavar="{list,all,plots,report,predict," + ",".join(NAMES) + "}"
    )
    commands.add_parser("list", help="list the recipes (the default)")
    formatter = DefaultsHelpFormatter
    everything = commands.add_parser(
        "all",
        help="run every recipe with its defaults, then redraw figures and gallery",
        formatter_class=formatter,
    )
    everything.add_argument("--quick", action="store_true", help="each recipe's smoke run")
    everything.add_argument(
        "--output-dir",
        default=None,
        help="root folder for outputs (default: outputs; with --quick, outputs/quick, so a smoke run "
        "never writes over the full runs' results)",
    )
    everything.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed `all`: skip the runs it finished, resume the others",
    )
    everything.add_argument(
        "--quiet", action="store_true", help="each recipe without progress lines or bars (CI logs)"
    )
    everything.add_argument(
        "--jobs",
        type=jobs_count,
        default="auto",
        help="recipe runs at a time, each in its own process with an equal share of the CPU threads "
        "(auto: one per core, at most one per run; measured faster than one at a time on 2 cores); "
        "each run's numbers are those it gives alone with the same --threads",
    )
    everything.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="CPU threads for each run (TensorFlow's intra- and inter-op, OpenMP's); default: the "
        "machine's divided by --jobs, or TensorFlow's own choice with --jobs 1. On some CPUs a "
        "different thread count changes the last digits of some numbers; metrics.json records it "
        "(environment.threads)",
    )
    everything.add_argument(
        "--only",
        type=comma_list(NAMES, noun="recipe"),
        default=None,
        help=f"comma-separated recipes to run, of: {', '.join(NAMES)} (default: all of them)",
    )
    plots = commands.add_parser(
        "plots",
        help="redraw every figure and index.html from saved metrics, without training",
        formatter_class=formatter,
    )
    plots.add_argument("--output-dir", default="outputs", help="root folder of saved outputs")
    rewrite = commands.add_parser(
        "report", help="rewrite the README results table from saved metrics", formatter_class=formatter
    )
    rewrite.add_argument("--output-dir", default="outputs", help="root folder of saved outputs")
    rewrite.add_argument("--readme", default="README.md", help="the README to rewrite")
    predicting = commands.add_parser(
        "predict",
        help="print one prediction per row of INPUT with a kept model (class and probability, or "
        "a regression model's value)",
        formatter_class=formatter,
    )
    predicting.add_argument(
        "model", metavar="MODEL", help="a .keras file a run kept, its card beside it"
    )
    predicting.add_argument(
        "input", metavar="INPUT", help="a CSV (tabular models, numbers) or an .npz with an array x"
    )
    for name in NAMES:  # dispatched above; listed here so that --help and a wrong name show them
        commands.add_parser(name, add_help=False, help=f"run {name}: python -m recipes.{name} --help")
    args = parser.parse_args(argv)
    if args.command == "predict":
        from recipes.predict import predict

        body = lambda: predict(args.model, args.input)  # noqa: E731
    elif args.command == "all":
        body = lambda: run_all(args)  # noqa: E731
    elif args.command == "plots":
        body = lambda: redraw(Path(args.output_dir))  # noqa: E731
    elif args.command == "report":
        body = lambda: report(Path(args.readme), Path(args.output_dir))  # noqa: E731
    else:
        body = list_recipes
    # one error path for every command, as for the recipes: one line, no traceback
    prog = f"python -m recipes {args.command}" if args.command else "python -m recipes"
    return command_main(prog, body)


if __name__ == "__main__":
    sys.exit(main())
