"""The run harness: what every recipe repeats, written once.

A recipe declares what it is (`Recipe`: its name, title, default runs and the headline numbers the
gallery and README show, read from the keys its run writes), then its `run(args)` goes:

    harness = Harness(NAME, args)                         # (--quick's settings: flags.py)
    ...data, model...
    seeds = harness.seeds("relu")                         # one stage per seed
    for seed in seeds:                                    # those still to train (--resume)
        train = epoch_shuffled(x, y, BATCH_SIZE, seed)    # each epoch's order from (seed, epoch)
        history = model.fit(train, epochs=EPOCHS, shuffle=False, verbose=0,
                            callbacks=[harness.callback(train)])  # what resuming needs
        seeds.record({"accuracy": ...})                   # saved as the stage's record
    per_seed = seeds.records                              # every seed's, read back or new
    harness.check("relu_accuracy", accuracy, at_least=0.5)  # declared, printed and stored one way
    harness.save_model(model, "relu", classes=names)         # models/relu.keras, with what it needs
    with harness.finish(results, references) as metrics:    # metrics.json, the numbers first
        plot(metrics, harness.out_dir)                      # then the figures, from them alone

A stage (a seed, a cell, an activation, a labels-per-class k, a stream) is the unit that progress,
resume and parallel jobs work in: the story computes it and `harness.stage(key).record(value)` saves
it as it finishes (common/checkpoint.py); `harness.seeds(stage)` is the loop over the run's seeds, one
stage each, named `stage/seed_N`. With --resume, a finished stage is read back (`stage.done`,
`stage.result`) instead of computed, and a fit given `harness.callback(...)` continues from its last
finished epoch.

The output folder is checked first (created, a probe file written and removed): a folder a run
cannot write fails in start-up time with one line, before any data is loaded or model trained.
Until the run finishes, `harness.out_dir` is a staging folder inside the checkpoint: what the run
writes there (models, arrays, metrics.json, figures) becomes the output folder's (`harness.folder`)
when the `finish` block ends, replacing the files of the run before it (common/outputs.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import operator
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import device, training
from common.checkpoint import FOLDER as CHECKPOINT_FOLDER
from common.checkpoint import (
    CheckpointError,
    FitCheckpoint,
    RunCheckpoint,
    describe_kept,
    file_digest,
    fingerprint,
    open_stage,
    release_all,
)
from common.cli import describe_quick
from common.distribute import current, distributed
from common.errors import Diverged, Terminated, UsageError, stop_on_sigterm
from common.outputs import publish
from common.rawinput import call_kept, card_input_shape
from common.results import (
    atomic_write_text,
    atomic_write_with,
    build_metrics,
    check_writable,
    environment,
    mean_std,
    to_jsonable,
    write_metrics,
)

MODELS = "models"  # the folder, inside a run's output folder, that holds the models it keeps


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
    package: str = "recipes"  # run as `python -m <package>.<name>`; "" for a top-level package

    @property
    def module(self) -> str:
        return f"{self.package}.{self.name}" if self.package else self.name


def seeds_for(args) -> list[int]:
    """The seeds a run covers: `--seed` and the next `--seeds - 1`."""
    return list(range(args.seed, args.seed + args.seeds))


def seed_summary(per_seed: list[dict], key: str, *, median: tuple[str, ...] = ()) -> dict:
    """`{key: mean, key_std: std, per_seed}` over seed records, plus the median of each `median` key
    (for timings, where one slow run must not move the figure)."""
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


def kept_files(models: dict) -> list[str]:
    """The files behind `results.models` entries (`models/<name>.keras`): each model and its card."""
    return [path for name in models for path in (name, str(Path(name).with_suffix(".json")))]


def check_layout(out_dir: Path) -> None:
    """UsageError, before any training, where the run would find a folder in place of a file it
    writes (metrics.json) or a file, or a folder it cannot write, in place of one it writes into."""
    for name, folder in (("metrics.json", False), (CHECKPOINT_FOLDER, True), (MODELS, True)):
        path = out_dir / name
        if not path.exists():
            continue
        if path.is_dir() != folder:
            found, wanted = ("a folder", "a file") if path.is_dir() else ("a file", "a folder")
            raise UsageError(f"--output-dir: {path} is {found} where the run writes {wanted}")
        if folder:
            check_writable(path, "--output-dir")


class Stage:
    """One stage of a run (`Harness.stage`): `done` with its `result`, or open until `record`."""

    def __init__(self, harness: Harness, key: str, result=None, models_before=None):
        """`result`: the record read back (then the stage is done); else `models_before`: the names
        of the models the run had kept when the stage opened."""
        self.harness, self.key, self.result = harness, key, result
        self.done = models_before is None
        self._models_before = models_before or set()

    def record(self, value):
        """Save `value` as this stage's record, with the models the run kept since the stage
        opened; returns it as a resumed run would read it back."""
        if self.done:
            raise RuntimeError(f"stage {self.key} is recorded already")
        models, staged = self.harness.models, self.harness.out_dir
        kept = {name: models[name] for name in models if name not in self._models_before}
        files = {name: file_digest(staged / name) for name in kept_files(kept)}
        entry = {"record": value, "models": kept, "files": files}
        entry = self.harness.checkpoint.finish(self.key, entry)
        self.done, self.result = True, entry["record"]
        return self.result


class Seeds:
    """The run's seeds as the story's loop (`Harness.seeds`): yields the seeds still to compute;
    `record(value)` saves the one in hand; `records` holds every seed's record, in order."""

    def __init__(self, harness: Harness, stage: str, describe: Callable[[dict], str] | None):
        self.harness, self.stage, self.describe = harness, stage, describe
        self.records: list[dict] = []
        self._open: tuple[int, Stage] | None = None

    def __iter__(self):
        seeds, started = seeds_for(self.harness.args), time.perf_counter()
        for i, seed in enumerate(seeds):
            key = f"{self.stage}/seed_{seed}" if self.stage else f"seed_{seed}"
            stage = self.harness.stage(key)
            if stage.done:
                self.records.append(stage.result)
            else:
                self._open = (seed, stage)
                yield seed
                if self._open is not None:
                    raise RuntimeError(f"stage {key}: the loop recorded nothing (seeds.record)")
            if self.describe is not None:  # with the time the seeds took and what is left of them
                where = f"{self.stage} " if self.stage else ""
                clock = training.elapsed_and_left(i + 1, len(seeds), time.perf_counter() - started)
                line = f"  {where}seed {seed} ({i + 1}/{len(seeds)}, {clock}): "
                print(line + self.describe(self.records[-1]), flush=True)

    def record(self, value: dict) -> dict:
        """Save the seed in hand's `value` (its stage's record); returns `{"seed": N, **value}`."""
        if self._open is None:
            raise RuntimeError("seeds.record outside the loop over the seeds")
        (seed, stage), self._open = self._open, None
        self.records.append(stage.record({"seed": seed, **value}))
        return self.records[-1]


class Harness:
    """One recipe run: its flags, output folder, clock, device, checks and artifacts."""

    def __init__(self, name: str, args):
        self.name, self.args = name, args
        self.folder = Path(args.output_dir)  # where the run's files are once it finishes
        self.started = time.perf_counter()
        self.checks: dict[str, dict] = {}
        self.models: dict[str, dict] = {}
        self._device: str | None = None
        check_writable(self.folder, "--output-dir")
        check_layout(self.folder)
        # the flags (--quick's settings included) are what a resumed run must repeat
        self.checkpoint = RunCheckpoint(
            self.folder, fingerprint(name, args), getattr(args, "resume", False)
        )
        self.out_dir = self.checkpoint.staging  # what the run writes, until `finish` publishes it

    # -- set-up -----------------------------------------------------------------------------------

    def setup_device(self) -> str:
        """Set TensorFlow's device up (GPU memory growth) and print what it runs on, once; call it
        before the first model is built. Returns the device line."""
        if self._device is None:
            self._device = device.setup_device()
        return self._device

    # -- stages -----------------------------------------------------------------------------------

    def stage(self, key: str) -> Stage:
        """Stage `key` of the run, for the story to compute and record, or read back:

            stage = harness.stage("pretrain")
            pretrained = stage.result if stage.done else stage.record(pretrain(harness, source))

        `done` where a resumed run had finished it: `result` is its record, and the models it kept
        are the run's again. Else it is open (the fits set up now are its) until `record(value)`
        (JSON values and NumPy arrays) saves it, with the models kept meanwhile."""
        done = self.checkpoint.read(key)
        if done is not None:
            self._check_kept(key, done.get("files", {}))
            self.models.update(done["models"])
            return Stage(self, key, result=done["record"])
        self.checkpoint.begin(key)
        return Stage(self, key, models_before=set(self.models))

    def _check_kept(self, key: str, files: dict[str, str]) -> None:
        """CheckpointError unless every file stage `key` kept is there, as it was written."""
        for name, digest in files.items():
            path = self.out_dir / name
            found = file_digest(path) if path.is_file() else None
            if found != digest:
                what = "is missing" if found is None else "was changed since the stage saved it"
                raise CheckpointError(
                    f"--resume: {path}, kept by stage {key!r}, {what}; run without --resume to "
                    "start over"
                )

    def seeds(self, stage: str = "", describe: Callable[[dict], str] | None = None) -> Seeds:
        """The run's seeds (`--seed` and the next `--seeds - 1`), one stage each (`stage/seed_N`),
        for the story's own loop; with `describe`, one line per seed says how it went:

            seeds = harness.seeds("k=5", describe=describe_modes)
            for seed in seeds:  # the seeds still to train: a resumed run reads the others back
                seeds.record(learn_target(seed, ...))
            per_seed = seeds.records  # every seed's {"seed": N, **what was recorded}, in order
        """
        return Seeds(self, stage, describe)

    def callback(self, train=None, *kept):
        """The one Keras callback a story's `model.fit` needs for this run, put last in its list:

            stop_early = keras.callbacks.EarlyStopping(patience=PATIENCE, restore_best_weights=True)
            train = epoch_shuffled(x, y, BATCH_SIZE, seed)
            history = model.fit(train, epochs=EPOCHS, validation_data=(x_val, y_val),
                                callbacks=[stop_early, harness.callback(train, stop_early)])

        It saves the fit at the end of every epoch (the model, its optimizer, the state of the
        callbacks in `kept`, the history) into the run's checkpoint; on --resume it restores them
        when training begins and starts the fit at the epoch after the last one saved, as Keras's own
        BackupAndRestore does, `train` (an `epoch_shuffled` dataset) at the same epoch's order, and
        the History `model.fit` returns holds every epoch, those before the kill included. It stops a
        fit whose loss turns NaN or infinite (common.errors.Diverged), and a fit that runs long
        prints a line about every 10 s (unless --quiet)."""
        fit = FitCheckpoint(self.checkpoint.fit_folder(), self.checkpoint)
        quiet = getattr(self.args, "quiet", False)
        return training.run_callback(fit, train, list(kept), progress=not quiet)

    # -- checks and artifacts -----------------------------------------------------------------------

    def check(self, name: str, value: float, **bound) -> bool:
        """Declare what a result is expected to be; printed and stored in `results.checks`."""
        self.checks[name] = expectation(float(value), **bound)
        return self.checks[name]["holds"]

    def save_model(self, model, name: str, *, example=None, **info) -> Path:
        """Keep `model` as `models/<name>.keras` (through a temporary file and a rename) and, beside
        it, `models/<name>.json`: what a user needs to apply it (`info`: the seed, class names,
        feature names, preprocessing) and, with `example` (a few inputs), the outputs the run's
        model gave for them, which the reloaded model, called the same way, must repeat exactly.
        (`model.predict` traces a graph whose kernels depend on the shapes it saw first, so its
        last bits can differ between processes; the predicted classes do not.) Listed in
        results.models."""
        folder = self.out_dir / MODELS
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:  # else loading it warns of a mismatch
            optimizer.build(model.trainable_variables)
        path = atomic_write_with(folder / f"{name}.keras", model.save)
        info = {key: value for key, value in info.items() if value is not None}
        card = {"model": path.name, "recipe": self.name, **to_jsonable(info)}
        card["input_shape"] = card_input_shape(model)
        if example is not None:  # called directly (eagerly): the same ops, and bits, in any process
            outputs = call_kept(model, example, info.get("columns"))
            card["example"] = {"inputs": to_jsonable(example), "outputs": to_jsonable(outputs)}
        atomic_write_text(folder / f"{name}.json", json.dumps(card, indent=1) + "\n")
        self.models[f"{MODELS}/{path.name}"] = {
            key: card[key] for key in card if key not in ("example", "model", "recipe")
        }
        return path

    # -- the end ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def finish(self, results: dict, references: list[dict]):
        """Print the checks, write metrics.json and give the metrics to the block, which draws the
        figures from them; when it ends, the run's files become the output folder's (replacing the
        last run's: common/outputs.py) and the checkpoint goes. A block that fails publishes
        nothing and keeps the checkpoint: `--resume` reads every stage back and finishes again.

            with harness.finish(results, references) as metrics:
                plot(metrics, harness.out_dir)
        """
        if self.models:
            results = {**results, "models": self.models}
        if self.checks:
            results = {**results, "checks": self.checks}
            for name, check in self.checks.items():
                verdict = "holds" if check["holds"] else "DOES NOT HOLD"
                print(f"check {name}: {check['value']:.4g} {check['expected']}: {verdict}")
        duration = time.perf_counter() - self.started
        env = environment(self.setup_device(), device.intra_op_threads(), device.cpu_count())
        if current() is not None:  # a recipe that trains under --distribute: how it was spread
            env["distribution"] = current().describe(getattr(self.args, "batch_size", None))
        metrics = build_metrics(self.name, vars(self.args), results, references, duration, env)
        write_metrics(self.out_dir, metrics)
        yield metrics
        files = publish(self.out_dir, self.folder)
        self.checkpoint.remove()  # the run's files are in place: nothing is left to resume
        where = f"{self.folder}/metrics.json and {len(files) - 1} more file(s)"
        if current() is not None and not current().is_chief:
            where = f"this worker's copy ({current().task}) to a temporary folder, removed at exit"
        print(f"wrote {where} ({metrics['duration_s']:.0f} s in all)")


# -- the process: start-up checks, the run, bad input and interruption ---------------------------------


def check_backend() -> None:
    """UsageError unless Keras will run on a backend the recipes run on (TensorFlow, JAX, PyTorch),
    read as Keras reads it (`common.device.backend_name`) without importing Keras, and installed."""
    name, where = device.backend_name()
    if name not in device.BACKENDS:
        raise UsageError(
            f"Keras backend {name!r} (from {where}): these recipes run on tensorflow, jax or torch; "
            "set KERAS_BACKEND to one of them"
        )
    from importlib.util import find_spec

    if find_spec(name) is None:
        extra = {"tensorflow": "", "jax": "[jax]", "torch": "[torch]"}[name]
        raise UsageError(
            f'Keras backend {name!r} (from {where}) is not installed: pip install -e ".{extra}"'
        )


def run_main(name: str, parser: argparse.ArgumentParser, run, argv=None) -> int:
    """Parse, run, and turn a UsageError into one line on stderr and exit code 2; an OSError (a full
    disk, a folder made read-only) into one line naming the path, what was kept and how to resume,
    and exit code 1; Ctrl-C (SIGINT) and SIGTERM into one line saying what was kept and how to
    resume, and exit code 130 (SIGTERM: 143). However the run ends, its folder's lock is let go."""
    stop_on_sigterm()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if getattr(parser, "own_data", None):  # the first line: where a run on the user's data writes
        print(f"your data ({', '.join(parser.own_data)}): writing to {args.output_dir}", flush=True)
    if getattr(parser, "quick_applied", None):
        print(describe_quick(parser), flush=True)
    try:
        check_backend()
        device.import_backend(verbose=args.verbose)
        if getattr(args, "distribute", None) is None:
            run(args)
        else:
            with distributed(args, parser.prog):
                run(args)
    except UsageError as error:
        where = open_stage() if isinstance(error, Diverged) else None  # the stage it happened in
        print(f"{parser.prog}: error: {f'stage {where}: ' if where else ''}{error}", file=sys.stderr)
        return 2
    except (MemoryError, *resource_exhausted()) as error:  # what no check before training caught
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        print(
            f"{parser.prog}: error: out of memory ({reason}); try smaller sizes or a smaller data set",
            file=sys.stderr,
        )
        return 1
    except OSError as error:  # every file is written whole or not at all: what was kept stays
        on_stdout = error.filename is None and stdout_failed()  # a closed pipe, a full device
        if on_stdout:
            stop_writing_stdout()
        where = f"{users_path(error.filename, args.output_dir)}: " if error.filename else ""
        where = "stdout: " if on_stdout else where
        what = f"error: {where}{error.strerror or error}"
        message = interrupted_message(parser.prog, argv, args.output_dir, what)
        print(message, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt as stop:
        how = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
        message = interrupted_message(parser.prog, argv, args.output_dir, how)
        print(message, file=sys.stderr, flush=True)
        return 143 if isinstance(stop, Terminated) else 130
    finally:
        release_all()
    return 0


def command_main(prog: str, body) -> int:
    """Run an entry point's `body()` (predict, report, plots, all) through the recipes' one error
    path: a UsageError is one line on stderr and exit code 2; an OSError (a full disk, a folder made
    read-only) one line naming the path, exit code 1; Ctrl-C one line, exit 130; a reader that
    stopped reading (`| head -1`) ends the output quietly, exit 141 as SIGPIPE would. Returns the
    exit code."""
    try:
        code = body()
        sys.stdout.flush()  # a full device or a closed pipe shows here, not at the interpreter's exit
        return code
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        stop_writing_stdout()
        return 141
    except OSError as error:
        where = f"{error.filename}: " if error.filename else "stdout: " if stdout_failed() else ""
        print(f"{prog}: error: {where}{error.strerror or error}", file=sys.stderr)
        stop_writing_stdout()
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def write_stdout(text: str) -> None:
    """A command's output, written and flushed: an error on the way (a full device) names stdout,
    where the user sent it; a closed pipe stays a BrokenPipeError (`command_main` ends quietly)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OSError(error.errno, error.strerror, "stdout") from None


def stdout_failed() -> bool:
    """Whether stdout cannot take what it holds (a full device, a closed pipe): an OSError that
    names no file came from there."""
    try:
        sys.stdout.flush()
        return False
    except OSError:
        return True


def stop_writing_stdout() -> None:
    """Point stdout at /dev/null, so that what is left in its buffer is not written at the
    interpreter's exit (where a closed pipe or a full device would print a traceback)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (captured, in a test)
        pass


def users_path(path, output_dir: str) -> str:
    """A path as the user knows it: a file the run was writing into its staging folder
    (`<output-dir>/.checkpoint/outputs/NAME`) named as the file it becomes, `<output-dir>/NAME`."""
    staging = Path(output_dir) / CHECKPOINT_FOLDER / "outputs"
    try:
        return str(Path(output_dir) / Path(path).absolute().relative_to(staging.absolute()))
    except (TypeError, ValueError):
        return str(path)


def resource_exhausted() -> tuple[type, ...]:
    """TensorFlow's out-of-memory error type, when TensorFlow is loaded (else nothing to catch)."""
    tf = sys.modules.get("tensorflow")
    error = getattr(getattr(tf, "errors", None), "ResourceExhaustedError", None)
    return (error,) if isinstance(error, type) else ()


def interrupted_message(prog: str, argv: list[str], output_dir: str, how="interrupted") -> str:
    """`<prog>: interrupted; metrics.json not written; kept ...; resume with: <command> --resume`
    (`how`: what stopped the run)."""
    command = " ".join([prog, *map(shlex.quote, argv), *([] if "--resume" in argv else ["--resume"])])
    return (
        f"{prog}: {how}; metrics.json not written; kept {describe_kept(output_dir)} in "
        f"{output_dir}/.checkpoint; resume with: {command}"
    )
