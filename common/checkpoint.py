"""Resumable runs: every finished stage recorded as it finishes, an unfinished `fit` saved at the end
of every epoch, so `--resume` continues a killed run where it stopped.

A run's checkpoint is the folder `<output-dir>/.checkpoint/`:

    state.json            {"format", "fingerprint": {recipe, flags, versions}, "stages": {key: record}}
    stages/<n>.npz        the arrays of stage n's record (a record holds JSON and NumPy arrays only)
    fits/<stage>/<i>/     an unfinished fit: fit.json (epoch, history, early-stopping state) and
                          epoch_<k>.npz (every model and optimizer variable, early stopping's best)
    outputs/              what the run writes (models, metrics.json, figures), published into the
                          output folder when it finishes (common/outputs.py)

Only arrays (`np.load(allow_pickle=False)`) and JSON are ever read back, so no checkpoint file can make
the program run code. A checkpoint written with other flags or other library versions, or one that is
truncated or corrupt, is refused with one line (exit 2); so is one whose kept models are missing or
changed (each stage records their SHA-256). Every file is written atomically, the state last, so a
kill at any moment leaves the previous consistent checkpoint. When the run finishes its files are
published and the checkpoint is removed. Removing a checkpoint (a finished run, or a new run without
--resume) removes the files a run writes there and nothing else: a file of anyone else's stays.

A resumed run computes exactly what an uninterrupted one would: every stage record goes through the
same JSON and array round trip whether it was just computed or read back, and a resumed fit restores
every variable (weights, optimizer moments and step, random-layer seeds), early stopping's state, and
the position in the seeded shuffle order of its training data.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import signal
import weakref
from pathlib import Path

import numpy as np

from common.errors import UsageError, check_terminated
from common.results import VERSION, atomic_write_bytes, atomic_write_text

FOLDER = ".checkpoint"
LOCK = ".run.lock"  # beside it: held by the one run that writes the folder, removed when it finishes
FORMAT = 3  # 3: rnn_sequence's stages are named for the data set (issue 27); 2: issue 25, 26
# flags that change neither what a run computes nor where: they may differ between a run and its resume
NEUTRAL_FLAGS = ("output_dir", "resume", "tensorboard", "progress", "quiet", "verbose", "worker_timeout")
LIBRARIES = ("tensorflow", "jax", "torch", "keras", "numpy", "scikit-learn", "river")
# fault injection for the tests: RECIPES_KILL_AFTER=stage:N (or epoch:N) makes the process SIGKILL
# itself right after it has saved its N-th stage (N-th epoch checkpoint): a kill at a known point;
# several, comma-separated ("epoch:1,stage:1": at the first save of either kind), the first to come
KILL_AFTER = "RECIPES_KILL_AFTER"


class CheckpointError(UsageError):
    """A checkpoint that cannot be used: another run's, another version's, truncated or corrupt."""


def versions() -> dict:
    """Python, this collection and the libraries whose numbers a checkpoint holds."""
    import platform
    from importlib import metadata

    found = {"python": platform.python_version(), "recipes": VERSION}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def named_files(key: str, value):
    """(name, path) for every file path a flag's value may name: a string (`csv:PATH`, `npz:PATH` or
    a plain path, such as --pretrained) or a path, alone or in a list (`--stream sea,csv:PATH`),
    whatever the shape of the flag: `stream[1]` names the second item of --stream."""
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from named_files(f"{key}[{i}]", item)
    elif isinstance(value, os.PathLike) or (isinstance(value, str) and value):
        value = os.fspath(value)
        yield key, Path(value.split(":", 1)[1] if value.startswith(("csv:", "npz:")) else value)


def input_digests(flags: dict) -> dict:
    """name -> the SHA-256 of each file a flag's value names (`named_files`): a resumed run must read
    the same data, not only a file at the same path."""
    digests = {}
    for key, path in (item for flag, value in flags.items() for item in named_files(flag, value)):
        try:
            if path.is_file():
                digests[key] = file_digest(path)
        except OSError:  # unreadable here: the recipe's own check says so, in its words
            continue
    return digests


PROJECT = Path(__file__).resolve().parents[1]  # the checkout: its common/ and recipes/ hold the code


def code_digest() -> str:
    """The SHA-256 of the project's own code (every .py file of common/ and recipes/, by path and
    content): an editable install never updates its version, and a constant changed since a run was
    killed changes what its resumed stages compute."""
    import hashlib

    digest = hashlib.sha256()
    for folder in ("common", "recipes"):
        for path in sorted((PROJECT / folder).rglob("*.py")):
            digest.update(path.relative_to(PROJECT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def layout() -> dict:
    """What the numbers were computed on, beyond the libraries: the Keras backend, the replicas a
    step is split over, the CPU threads one op may use, the GPUs and logical CPU devices visible
    (TensorFlow's runtime is not started by asking)."""
    from common.device import CPU_DEVICES, backend, gpu_names, intra_op_threads
    from common.distribute import current

    return {
        "backend": backend(),
        "replicas": current().replicas if current() is not None else 1,
        "threads": intra_op_threads(),
        "gpus": len(gpu_names()),
        "cpu_devices": os.environ.get(CPU_DEVICES, "") or "1",
    }


def fingerprint(recipe: str, args) -> dict:
    """What must match for `--resume` to continue a run: the recipe, every flag that changes the
    numbers, the content of every input file a flag names, the library versions, the project's own
    code, and the device layout (replicas, threads, devices)."""
    flags = {k: v for k, v in sorted(vars(args).items()) if k not in NEUTRAL_FLAGS}
    state = {"recipe": recipe, "flags": flags, "inputs": input_digests(flags), "versions": versions()}
    state["code"], state["layout"] = code_digest(), layout()
    return json.loads(json.dumps(state, default=str))


# -- JSON and arrays ----------------------------------------------------------------------------------


def _encode(value, arrays: dict):
    """`value` as JSON, each NumPy array moved into `arrays` and replaced by a reference to it."""
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"__array__": name}
    if isinstance(value, dict):
        return {str(key): _encode(item, arrays) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item, arrays) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _decode(value, arrays: dict):
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {key: _decode(item, arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item, arrays) for item in value]
    return value


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _load_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_") or "run"


# the files a run writes into its checkpoint folder (`_remove_ours` removes these and no others): the
# state, stage arrays, fit checkpoints, staged outputs, and a temporary file a kill left mid-write
OURS = re.compile(
    r"state\.json|stages/\d+\.npz|fits/[^/]+/\d+/(fit\.json|epoch_\d+\.npz)|outputs/.+"
    r"|(.+/)?\.[^/]+\.tmp[^/]*"
)


def _remove_ours(checkpoint: Path, within: str = "") -> None:
    """Remove the files a run writes into the `checkpoint` folder (`OURS`), those of its subfolder
    `within` only where given, then the folders left empty (the checkpoint's own included)."""
    folder = checkpoint / within if within else checkpoint
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), reverse=True):  # deepest first
        if path.is_file() or path.is_symlink():
            if OURS.fullmatch(path.relative_to(checkpoint).as_posix()):
                path.unlink()
        elif path.is_dir():
            try:
                path.rmdir()
            except OSError:  # something is left in it: not ours to remove
                pass
    for path in (folder, *folder.parents):
        if path == checkpoint.parent:
            break
        try:
            path.rmdir()
        except OSError:
            break


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's content."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _maybe_kill(kind: str, count: int) -> None:
    if f"{kind}:{count}" in os.environ.get(KILL_AFTER, "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)


# -- The run's checkpoint ---------------------------------------------------------------------------


class RunCheckpoint:
    """The stages a run has finished and the fit it is in, under `<out_dir>/.checkpoint/`."""

    def __init__(self, out_dir: Path, fingerprint: dict, resume: bool):
        self.folder = Path(out_dir) / FOLDER
        self.fingerprint = fingerprint
        self.stages: dict[str, dict] = {}  # key -> record, as read() returns it
        self.entries: dict[str, dict] = {}  # key -> its state.json entry: JSON, and its .npz's name
        self.current: str | None = None
        self._fits_in_stage = 0
        self._saved_stages = self._saved_epochs = 0
        self._lock = None
        self._started = resume and self.state_path.is_file()
        if self._started:
            self._hold()
            try:
                self._read()
            except BaseException:  # refused: the folder stays free for the run that may use it
                self.release()
                raise
        elif resume:
            print(f"--resume: no checkpoint in {self.folder}: starting from the beginning")

    def _start(self) -> None:
        """On the first stage or fit (not before: a run that stops on bad input writes nothing):
        a run without --resume starts over, and the fingerprint is written before anything else."""
        if not self._started:
            self._hold()  # before anything of another run's can be deleted
            _remove_ours(self.folder)
            self._write_state()
            self._started = True

    @property
    def state_path(self) -> Path:
        return self.folder / "state.json"

    @property
    def staging(self) -> Path:
        """Where the run writes its outputs until it finishes (common/outputs.py publishes them)."""
        return self.folder / "outputs"

    def _hold(self) -> None:
        """Lock the output folder for this run (an exclusive `flock` on .run.lock, which the system
        releases when the process ends, however it ends: a dead run's lock is simply taken over);
        CheckpointError naming the process that holds it."""
        import fcntl

        if self._lock is not None:
            return
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        handle = open_lock(self.folder.parent / LOCK)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise CheckpointError(
                f"{self.folder.parent} is in use by another run ({holder}); wait for it to end, "
                "or give this one another --output-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        self._lock = handle
        _HELD.add(self)

    def _read(self) -> None:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            if not isinstance(state, dict):
                raise ValueError(f"a JSON {type(state).__name__}, not an object")
            if state.get("format") != FORMAT:
                raise ValueError(f"format {state.get('format')!r}, expected {FORMAT}")
            saved, stages = state["fingerprint"], state["stages"]
            if not (isinstance(saved, dict) and isinstance(stages, dict)):
                raise ValueError("its fingerprint and stages must be JSON objects")
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(
                f"--resume: {self.state_path} is truncated or corrupt ({error}); delete "
                f"{self.folder} or run without --resume to start over"
            ) from None
        refuse_other_run(saved, self.fingerprint, self.state_path)
        for key, entry in stages.items():
            try:
                arrays = _load_npz(self.folder / entry["arrays"]) if entry.get("arrays") else {}
                self.stages[key] = _decode(entry["record"], arrays)
                self.entries[key] = entry
            except Exception as error:  # a missing, truncated or foreign .npz, a malformed entry
                raise CheckpointError(
                    f"--resume: stage {key!r} of {self.state_path} cannot be read "
                    f"({type(error).__name__}: {error}); delete {self.folder} to start over"
                ) from None
        print(f"--resume: {describe_kept(self.folder.parent)} read from {self.folder}", flush=True)

    def _write_state(self) -> None:
        state = {"format": FORMAT, "fingerprint": self.fingerprint, "stages": self.entries}
        atomic_write_text(self.state_path, json.dumps(state, indent=1) + "\n")

    def read(self, key: str) -> dict | None:
        """Stage `key`'s record where a resumed run had finished it (a copy), else None."""
        return copy.deepcopy(self.stages[key]) if key in self.stages else None

    def begin(self, key: str) -> None:
        """Stage `key` is being computed: the fits set up from now on are its (`fit_folder`)."""
        self._start()
        self.current, self._fits_in_stage = key, 0

    def finish(self, key: str, record) -> dict:
        """Record stage `key`'s `record` (JSON values and NumPy arrays) and save it before it is
        returned; a resumed run reads it back (`read`) with the same values and types."""
        self.current = None
        arrays: dict = {}
        entry = {"record": json.loads(json.dumps(_encode(record, arrays)))}
        if arrays:
            entry["arrays"] = f"stages/{len(self.entries)}.npz"
            atomic_write_bytes(self.folder / entry["arrays"], _npz_bytes(arrays))
        self.stages[key] = _decode(entry["record"], arrays)
        self.entries[key] = entry
        self._write_state()
        _remove_ours(self.folder, f"fits/{_slug(key)}")
        self._saved_stages += 1
        _maybe_kill("stage", self._saved_stages)
        check_terminated()  # a SIGTERM a library swallowed: stop here, the stage just saved
        return copy.deepcopy(self.stages[key])  # the caller may change it; the record stays

    def fit_folder(self) -> Path:
        """The folder for the next fit of the stage being computed (or of the run, outside one)."""
        self._start()
        folder = self.folder / "fits" / _slug(self.current or "run") / str(self._fits_in_stage)
        self._fits_in_stage += 1
        return folder

    def epoch_saved(self) -> None:
        self._saved_epochs += 1
        _maybe_kill("epoch", self._saved_epochs)

    def release(self) -> None:
        """Let go of the output folder's lock, as the process's end would: its checkpoint stays."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        _HELD.discard(self)

    def remove(self) -> None:
        """The run finished: nothing is left to resume, and the folder is free again."""
        _remove_ours(self.folder)
        if self._lock is not None:
            (self.folder.parent / LOCK).unlink(missing_ok=True)
        self.release()


_HELD: weakref.WeakSet = weakref.WeakSet()  # the checkpoints holding their folder's lock


def open_stage() -> str | None:
    """The stage this process's run is computing (begun, not yet finished), if any."""
    return next((checkpoint.current for checkpoint in _HELD if checkpoint.current), None)


def release_all() -> None:
    """Let go of every lock this process holds, as its end would (a run that ended in an error, in
    a process that goes on: `common.harness.run_main` called in a test, a notebook)."""
    for checkpoint in list(_HELD):
        checkpoint.release()


def open_lock(path: Path):
    """The lock file, opened for reading and writing without following a link and without
    truncating it (`_hold` empties it once it holds the lock); CheckpointError, with what to do,
    when `path` is a link, a folder or anything but a plain file: never someone else's file."""
    import stat

    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        what = "a symbolic link" if path.is_symlink() else error.strerror.lower()
        raise CheckpointError(
            f"{path}: {what}, not the lock file a run makes; remove it, or give this run another "
            "--output-dir"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(
            f"{path}: not a plain file, not the lock file a run makes; remove it, or give this run "
            "another --output-dir"
        )
    return os.fdopen(fd, "r+", encoding="utf-8")


def refuse_other_run(saved: dict, current: dict, path: Path) -> None:
    """CheckpointError naming what differs when a checkpoint was made by another run."""
    if saved == current:
        return
    differences = []
    parts = (
        ("recipe", "recipe"),
        ("flags", "flag"),
        ("inputs", "input"),
        ("versions", "version"),
        ("code", "code"),
        ("layout", "layout"),
    )
    for part, noun in parts:
        there, here = saved.get(part), current.get(part)
        if isinstance(here, dict) and isinstance(there, dict):
            for key in sorted(set(here) | set(there)):
                if here.get(key) != there.get(key):
                    name = f"--{key.replace('_', '-')}" if part in ("flags", "inputs") else key
                    if item := re.fullmatch(r"(.+)\[(\d+)\]", name):  # a list's item: stream[1]
                        name = f"{item.group(1)} (its item {int(item.group(2)) + 1})"
                    if part == "inputs":  # the same path, other content
                        old, new = (str(d)[:12] if d else None for d in (there.get(key), here.get(key)))
                        differences.append(f"the file of {name} (sha256 {old} there, {new} here)")
                    elif part == "layout":
                        differences.append(f"{key} {there.get(key)!r} there, {here.get(key)!r} here")
                    else:
                        differences.append(f"{name} {there.get(key)!r} there, {here.get(key)!r} here")
        elif part == "code" and there != here:
            differences.append("the recipes' code was changed since")
        elif there != here:
            differences.append(f"{noun} {there!r} there, {here!r} here")
    same = {p: saved.get(p) == current.get(p) for p, _ in parts}
    if not (same["recipe"] and same["flags"]):
        kind = "other flags"
    elif not same["inputs"]:
        kind = "other input data"
    elif not same["versions"]:
        kind = "other library versions"
    elif not same["code"]:
        kind = "other code"
    else:
        kind = "another device layout"
    raise CheckpointError(
        f"--resume: {path} was made with {kind} ({'; '.join(differences[:4])}); rerun with the "
        f"same flags, or without --resume to start over"
    )


def describe_kept(out_dir: Path) -> str:
    """What a checkpoint holds, in words, for the message of an interrupted run."""
    path = Path(out_dir) / FOLDER / "state.json"
    try:
        stages = len(json.loads(path.read_text(encoding="utf-8"))["stages"])
    except (OSError, ValueError, KeyError, TypeError):
        stages = 0
    fits = sorted((Path(out_dir) / FOLDER / "fits").glob("*/*/fit.json"))
    epochs = 0
    for fit in fits:
        try:
            epochs = max(epochs, int(json.loads(fit.read_text(encoding="utf-8"))["epoch"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    kept = f"{stages} finished stage(s)"
    if epochs:
        kept += f" and an unfinished fit at epoch {epochs}"
    return kept


# -- An unfinished fit --------------------------------------------------------------------------------


def _early_stopping(callbacks) -> list:
    import keras

    return [c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)]


class FitCheckpoint:
    """Saves a `fit` at the end of each epoch into `folder` and restores it: `resume(model,
    callbacks)` gives the epoch to start from and the history so far (`common.training.run_callback`
    calls both, inside the fit)."""

    def __init__(self, folder: Path, run: RunCheckpoint | None = None):
        self.folder, self.run = Path(folder), run
        self.history: dict[str, list] = {}
        self.epoch = 0
        self.stopped = False
        self._early_stopping: tuple[list, dict] = ([], {})  # read by resume(), set on train begin

    @property
    def state_path(self) -> Path:
        return self.folder / "fit.json"

    def resume(self, model, callbacks) -> int:
        """Restore the model, its optimizer and `callbacks`' early stopping from the last finished
        epoch, if there is one; the epoch to start from."""
        if not self.state_path.is_file():
            return 0
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            arrays = _load_npz(self.folder / state["arrays"])
            self._restore(model, callbacks, state, arrays)
        except Exception as error:
            run = next((p for p in self.folder.parents if p.name == FOLDER), self.folder)
            raise CheckpointError(
                f"--resume: the fit checkpoint in {self.folder} is truncated or corrupt "
                f"({type(error).__name__}: {' '.join(str(error).split())[:200]}); delete "
                f"{run} to start over"
            ) from None
        self.epoch, self.history, self.stopped = state["epoch"], state["history"], state["stopped"]
        return self.epoch

    def _restore(self, model, callbacks, state: dict, arrays: dict) -> None:
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        variables = list(model.variables) + list(model.optimizer.variables)
        if len(variables) != state["variables"]:
            raise ValueError(f"{state['variables']} variables saved, the model has {len(variables)}")
        for i, variable in enumerate(variables):
            value = arrays[f"v{i}"]
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"variable {i}: shape {value.shape}, expected {variable.shape}")
            variable.assign(value)
        self._early_stopping = (state.get("early_stopping", []), arrays)

    def restore_callbacks(self, callbacks) -> None:
        """Early stopping's counters and best weights, after its on_train_begin has reset them."""
        saved, arrays = self._early_stopping
        for index, (callback, values) in enumerate(zip(_early_stopping(callbacks), saved)):
            callback.wait, callback.stopped_epoch = values["wait"], values["stopped_epoch"]
            callback.best, callback.best_epoch = values["best"], values["best_epoch"]
            count = values["best_weights"]
            if count is not None:
                callback.best_weights = [arrays[f"es{index}_{j}"] for j in range(count)]

    def save(self, model, callbacks, epoch: int, logs: dict) -> None:
        """The state at the end of `epoch` (0-based): the variables first, then fit.json naming them."""
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if not model.optimizer.built:  # as resume() builds it: the same variables either way
            model.optimizer.build(model.trainable_variables)
        arrays = {}
        variables = list(model.variables) + list(model.optimizer.variables)
        for i, variable in enumerate(variables):
            arrays[f"v{i}"] = np.asarray(variable.numpy())
        early = []
        for index, callback in enumerate(_early_stopping(callbacks)):
            best = callback.best_weights
            early.append(
                {
                    "wait": callback.wait,
                    "stopped_epoch": callback.stopped_epoch,
                    "best": None if callback.best is None else float(callback.best),
                    "best_epoch": callback.best_epoch,
                    "best_weights": None if best is None else len(best),
                }
            )
            for j, weight in enumerate(best or []):
                arrays[f"es{index}_{j}"] = np.asarray(weight)
        name = f"epoch_{epoch + 1}.npz"
        atomic_write_bytes(self.folder / name, _npz_bytes(arrays))
        state = {
            "epoch": epoch + 1,
            "stopped": bool(model.stop_training),
            "history": self.history,
            "variables": len(variables),
            "early_stopping": early,
            "arrays": name,
        }
        atomic_write_text(self.state_path, json.dumps(state) + "\n")
        for old in self.folder.glob("epoch_*.npz"):
            if old.name != name:
                old.unlink(missing_ok=True)
        if self.run is not None:
            self.run.epoch_saved()
