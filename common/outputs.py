"""An output folder holds one run: what a run writes becomes the folder's only when the run finishes.

A run writes its files (metrics.json, the arrays its figures read, its figures, the models it keeps)
into a staging folder inside its checkpoint, `<output-dir>/.checkpoint/outputs/`. When the run
finishes, `publish` moves them into the output folder and removes the files of the run before it
that this one did not write again: a figure, an array or a model of an earlier run never stands
beside a new run's metrics.json, and a killed run leaves the finished one before it untouched.

Which files a run wrote is recorded in the folder's manifest, `.files.json` (its files, relative to
the folder). Only files a manifest lists are ever removed: a file of the user's in the folder, or a
folder holding another run (`outputs/activations/unregularised/` inside `outputs/activations/`), is
left alone. `python -m recipes plots` redraws into the folder itself and keeps the manifest true
(`redrawn`); the gallery, the recipe pages and the notebooks show the figures it lists (`figures`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from common.results import atomic_write_text

MANIFEST = ".files.json"


def read_manifest(folder: Path) -> list[str] | None:
    """The files the folder's last run wrote (paths relative to it), or None where no run wrote a
    manifest there (a folder made before manifests, or by someone else), or it cannot be read."""
    try:
        files = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        return None
    return [name for name in files if _inside(name)]


def _inside(name: str) -> bool:
    """A manifest's entry names a file inside its folder: relative, no `..`, nothing hidden."""
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and not any(p.startswith(".") for p in parts)


def write_manifest(folder: Path, files) -> Path:
    text = json.dumps({"files": sorted(set(files))}, indent=1) + "\n"
    return atomic_write_text(Path(folder) / MANIFEST, text)


def files_in(staging: Path) -> list[str]:
    """Every file under `staging`, relative to it (a temporary file, hidden, is no run's file)."""
    staging = Path(staging)
    if not staging.is_dir():
        return []
    return sorted(
        path.relative_to(staging).as_posix()
        for path in staging.rglob("*")
        if path.is_file() and _inside(path.relative_to(staging).as_posix())
    )


def publish(staging: Path, folder: Path) -> list[str]:
    """Move the run's files from `staging` into `folder`, each by a rename (never half a file),
    remove the files of the folder's last run (its manifest) that this run did not write, and write
    the new manifest. Returns the run's files, relative to `folder`."""
    staging, folder = Path(staging), Path(folder)
    files = files_in(staging)
    earlier = read_manifest(folder) or []
    for name in files:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, target)
    remove_files(folder, [name for name in earlier if name not in files])
    write_manifest(folder, files)
    return files


def remove_files(folder: Path, names) -> None:
    """Remove these files of `folder` (relative paths), then each folder they leave empty."""
    for name in names:
        path = Path(folder) / name
        if path.is_file() or path.is_symlink():
            path.unlink()
        for parent in path.parents:
            if parent == Path(folder) or Path(folder) not in parent.parents:
                break
            try:
                parent.rmdir()  # only where nothing else is left in it
            except OSError:
                break


def redrawn(folder: Path, written) -> None:
    """After the figures of `folder` were drawn again (`written`: the paths they went to), keep the
    manifest true: a figure the last run listed and this drawing did not make (the code draws
    another set now) is removed, the new ones are listed. A folder with no manifest keeps its files,
    and gets one listing what is there now of the run's: metrics.json, arrays and the new figures."""
    folder = Path(folder).absolute()
    drawn = {Path(path).absolute().relative_to(folder).as_posix() for path in written}
    earlier = read_manifest(folder)
    if earlier is None:
        earlier = [p.name for p in folder.iterdir() if p.suffix in (".json", ".npz") and p.is_file()]
        earlier = [name for name in earlier if not name.startswith(".")]
    stale = [name for name in earlier if name.endswith(".png") and name not in drawn]
    remove_files(folder, stale)
    write_manifest(folder, [name for name in earlier if name not in stale] + sorted(drawn))


def figures(folder: Path) -> list[str]:
    """The figures of the run in `folder` (file names), as its manifest lists them; every PNG there
    where the folder has no manifest."""
    listed = read_manifest(folder)
    if listed is None:
        return sorted(p.name for p in Path(folder).glob("*.png"))
    return sorted(name for name in listed if name.endswith(".png") and "/" not in name)
