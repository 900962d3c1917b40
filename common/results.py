"""metrics.json: the outputs contract of DESIGN.md, written atomically, with the environment manifest.

{ "recipe", "version", "created", "duration_s", "args", "environment", "results", "references" }
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

from common.errors import UsageError

SCHEMA_KEYS = (
    "recipe",
    "version",
    "created",
    "duration_s",
    "args",
    "environment",
    "results",
    "references",
)


def _version() -> str:
    """The collection's version, written once, in pyproject.toml, and read from the installed
    package's metadata (`pip install -e .`); `0+unknown` in a checkout that was never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keras-recipes")
    except PackageNotFoundError:
        return "0+unknown"


VERSION = _version()


_JOURNALS: list[list[Path]] = []  # the lists `recording_writes` fills, innermost last


@contextlib.contextmanager
def recording_writes():
    """Within the block, every file written through `atomic_write_with` (and the writers built on
    it) is appended to the list it yields, in order: what a step wrote (common/outputs.py)."""
    written: list[Path] = []
    _JOURNALS.append(written)
    try:
        yield written
    finally:
        _JOURNALS.remove(written)


def atomic_write_with(path: str | os.PathLike, write) -> Path:
    """Call `write(temporary_path)` for a file in the same folder as `path`, then rename it to `path`:
    a reader (or a crash) never sees half a file. The temporary name keeps `path`'s suffixes, since
    Keras picks the format of `model.save` and `save_weights` from them. An error while writing
    names `path`, the file the caller asked for, never the temporary one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".tmp" + "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file 0600; give it the mode any other write would have (0666 less umask)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        if error.errno is None or error.filename not in (None, tmp):
            raise
        raise type(error)(error.errno, error.strerror, os.fspath(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for journal in _JOURNALS:
        journal.append(path)
    return path


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder, then rename."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    return atomic_write_with(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(value):
    """NumPy scalars and arrays, tuples and paths to plain JSON; non-finite floats become null."""
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


LIBRARIES = ("jax", "torch", "scikit-learn", "scipy", "river", "mnist1d", "matplotlib")  # and TF


def environment(device: str, threads: int, cores: int) -> dict:
    """What produced the numbers: Python, the Keras backend, TensorFlow, Keras, NumPy, the device (as
    `common.device.describe_device` says it), `threads`, the CPU threads one op may use
    (`common.device.intra_op_threads`: on some CPUs the numbers depend on them, so same seed, same
    machine and same threads give the same numbers), the platform, the CPU model and `cores`, those
    this process may run on (`common.device.cpu_count`: what a run's times were measured on), and
    the version of every other library a number or figure depends on (the baselines, the generated
    data sets, the drawing), or "not installed"."""
    import keras

    found = {
        "python": sys.version.split()[0],
        "backend": keras.config.backend(),
        "tensorflow": installed_version("tensorflow"),
        "keras": keras.__version__,
        "numpy": np.__version__,
        "device": device,
        "threads": threads,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": cores,
    }
    for name in LIBRARIES:
        found[name] = installed_version(name)
    return found


def cpu_model() -> str:
    """The CPU's model name as the system gives it (/proc/cpuinfo on Linux), else the platform's
    processor string: the machine a run's times were measured on."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def installed_version(name: str) -> str:
    """The installed version of package `name`, from its metadata (nothing is imported), or "not
    installed"."""
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def build_metrics(
    recipe: str,
    args: dict,
    results: dict,
    references: list[dict],
    duration_s: float,
    env: dict,
) -> dict:
    return {
        "recipe": recipe,
        "version": VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(float(duration_s), 3),
        "args": to_jsonable(args),
        "environment": env,
        "results": to_jsonable(results),
        "references": to_jsonable(references),
    }


def write_metrics(out_dir: str | os.PathLike, metrics: dict) -> Path:
    """Check the schema and write `out_dir/metrics.json` atomically."""
    missing = [key for key in SCHEMA_KEYS if key not in metrics]
    if missing:
        raise ValueError(f"metrics is missing {missing}")
    text = json.dumps(metrics, indent=2, allow_nan=False) + "\n"
    return atomic_write_text(Path(out_dir) / "metrics.json", text)


def load_metrics(out_dir: str | os.PathLike) -> dict:
    """Read `out_dir/metrics.json`; FileNotFoundError when a recipe has no outputs yet, UsageError
    naming the file when it is not a run's metrics (truncated, damaged, not a JSON object)."""
    path = Path(out_dir) / "metrics.json"
    with open(path, encoding="utf-8") as handle:
        try:
            metrics = json.load(handle)
        except (ValueError, UnicodeDecodeError) as error:
            raise UsageError(f"{path} is truncated or damaged ({error}); run the recipe again") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("results"), dict):
        raise UsageError(f"{path} is not a run's metrics (no results); run the recipe again")
    return metrics


def save_arrays(out_dir: str | os.PathLike, name: str, **arrays) -> Path:
    """Small arrays a figure needs beyond metrics.json (e.g. misclassified images), as `name.npz`."""
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write_bytes(Path(out_dir) / f"{name}.npz", buffer.getvalue())


def load_arrays(out_dir: str | os.PathLike, name: str) -> dict:
    with np.load(Path(out_dir) / f"{name}.npz") as data:
        return {key: data[key] for key in data.files}


def fmt_duration(seconds) -> str:
    """A time as people read it: `41 s`, `3.5 min`; `n/a` for None."""
    if seconds is None:
        return "n/a"
    seconds = float(seconds)
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def mean_std(values) -> tuple[float, float]:
    """Mean and population standard deviation over seeds (std 0 for one seed)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std())


def check_writable(folder: Path, flag: str) -> None:
    """Create `folder`, write and remove a probe file in it, and remove again the folders it had to
    create (a run that then stops on bad input leaves nothing behind); UsageError (one line: the
    folder and the reason) when that fails, so a run that could not keep its results never starts."""
    created = [p for p in (folder.absolute(), *folder.absolute().parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(f"{flag} {folder}: cannot write there ({reason})") from None
    finally:
        for path in created:  # deepest first
            try:
                path.rmdir()
            except OSError:
                pass
