"""The data sets two or more recipes read, all offline; a user's CSV or arrays; splits and subsamples.

- `digits`: scikit-learn's bundled 8x8 digits, split as in the scikit-learn gallery (first half train,
  second half test, no shuffle); validation carved from the training half.
- `mnist1d`: generated locally by `mnist1d.data.make_dataset(get_dataset_args())`, identical to the
  published frozen set (4000 train / 1000 test, length 40). Its downloading `get_dataset` is never used.
  Generating it takes seconds, so each set generated is kept in this process and in a cache folder
  (RECIPES_CACHE_DIR, else $XDG_CACHE_HOME/keras-recipes, else ~/.cache/keras-recipes), named by the
  mnist1d version and every argument it was made with.
- a user's own table (`load_csv_table`: a CSV with a target column) or arrays (`read_labelled_npz`),
  and the stratified splits of them (`user_split`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UsageError
from common.results import atomic_write_with
from common.tables import (  # noqa: F401  (read_csv_rows and is_number: the readers' names here too)
    DECIMAL_COMMA,
    is_number,
    read_csv_rows,
    read_csv_table,
)


@dataclass
class Split:
    """Train / validation / test arrays (features float32, labels int) and what they are."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    image_shape: tuple[int, ...] | None = None  # (8, 8) for digits; None for tables and sequences
    signal_length: int | None = None  # 40 for MNIST-1D: a 1-D signal, shiftable along its length
    feature_names: list[str] | None = None  # a CSV's feature columns, in the order the model reads
    columns: list[dict] | None = None  # a CSV's columns as read: {"name", "values": texts or None}
    description: str | None = None  # what the data is, in words, where the name is not enough

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_features(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))


def carve_validation(x, y, fraction: float, seed: int = 0):
    """Split off a stratified validation set: (x_train, y_train, x_val, y_val)."""
    from sklearn.model_selection import train_test_split

    x_tr, x_val, y_tr, y_val = train_test_split(
        x, y, test_size=fraction, random_state=seed, stratify=stratified(y, fraction, 2)
    )
    return x_tr, y_tr, x_val, y_val


def stratified(y, share: float, minimum: int, *, absent_classes_block: bool = False):
    """`y` to stratify a split that holds out `share` of it, or None where stratifying cannot work:
    a class with fewer than `minimum` examples (with `absent_classes_block`, a label index below the
    largest with no example counts as such a class), or a held-out part (or the rest) too small to
    hold one of every class (1 000 classes of 3 examples each: a split of 600 cannot)."""
    counts = np.bincount(y)
    present = int((counts > 0).sum())
    held_out = int(np.ceil(share * len(y)))
    fewest = counts.min() if absent_classes_block else counts[counts > 0].min()
    if fewest < minimum or min(held_out, len(y) - held_out) < present:
        return None
    return y


def subsample(x, y, n: int, seed: int = 0):
    """The first `n` of a fixed permutation (for --quick); everything if `n` >= len(x)."""
    if n >= len(x):
        return x, y
    order = np.random.default_rng(seed).permutation(len(x))[:n]
    return x[order], y[order]


def load_digits_split(val_fraction: float = 0.1, seed: int = 0) -> Split:
    """scikit-learn's digits: first half train, second half test (the gallery's split)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    half = len(x) // 2
    x_tr, y_tr, x_val, y_val = carve_validation(x[:half], y[:half], val_fraction, seed)
    return Split(
        "digits",
        x_tr,
        y_tr,
        x_val,
        y_val,
        x[half:],
        y[half:],
        [str(d) for d in range(10)],
        image_shape=(8, 8),
    )


MNIST1D_ARRAYS = ("x", "y", "x_test", "y_test", "t")
_generated: dict[str, dict] = {}  # this process's MNIST-1D sets, by cache key


def mnist1d_dataset(seed: int | None = None, **overrides) -> dict:
    """`mnist1d.data.make_dataset` with the published arguments, optionally another seed or params:
    its arrays x, y, x_test, y_test and t (fresh copies).

    With no arguments this is the published frozen set (4000 train / 1000 test sequences of length 40).
    A set made before with the same arguments and mnist1d version is read back (`mnist1d_cache`).
    """
    import hashlib
    import importlib.metadata
    import json

    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    if seed is not None:
        args.seed = seed
    for key, value in overrides.items():
        if not hasattr(args, key):
            raise ValueError(f"mnist1d has no dataset argument {key!r}")
        setattr(args, key, value)
    made_with = {"mnist1d": importlib.metadata.version("mnist1d"), "args": vars(args)}
    key = hashlib.sha256(json.dumps(made_with, sort_keys=True).encode()).hexdigest()[:20]
    if key not in _generated:
        path = mnist1d_cache() / f"mnist1d-{key}.npz"
        _generated[key] = read_mnist1d_cache(path)
        if _generated[key] is None:
            made = make_dataset(args)
            _generated[key] = {name: np.asarray(made[name]) for name in MNIST1D_ARRAYS}
            write_mnist1d_cache(path, _generated[key])
    return {name: array.copy() for name, array in _generated[key].items()}


def mnist1d_cache() -> Path:
    """The folder generated MNIST-1D sets are kept in."""
    if os.environ.get("RECIPES_CACHE_DIR"):
        return Path(os.environ["RECIPES_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keras-recipes"


def read_mnist1d_cache(path: Path) -> dict | None:
    """The arrays a cache file holds, or None where there is none or it cannot be read whole (then
    the set is generated again and the file written anew)."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as kept:
            return {name: kept[name] for name in MNIST1D_ARRAYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def write_mnist1d_cache(path: Path, arrays: dict) -> None:
    """Keep `arrays` at `path` (whole, through a rename); a cache folder that cannot be written only
    means the next run generates the set again."""
    try:
        atomic_write_with(path, lambda tmp: np.savez(tmp, **arrays))
    except OSError:
        pass


def load_mnist1d_split(val_fraction: float = 0.1, seed: int = 0, **overrides) -> Split:
    """MNIST-1D as published, validation carved from its 4000 training sequences (`overrides`: the
    generator's arguments changed, e.g. `num_samples` for a smoke run)."""
    data = mnist1d_dataset(**overrides)
    x = data["x"].astype(np.float32)
    y = data["y"].astype(np.int64)
    x_tr, y_tr, x_val, y_val = carve_validation(x, y, val_fraction, seed)
    return Split(
        "mnist1d",
        x_tr,
        y_tr,
        x_val,
        y_val,
        data["x_test"].astype(np.float32),
        data["y_test"].astype(np.int64),
        [str(d) for d in range(10)],
        signal_length=data["x"].shape[1],
    )


MAX_CATEGORIES = 50  # distinct values a text column may have to be one-hot encoded


def load_csv_table(path: str | os.PathLike, target: str | None):
    """A user's CSV: feature columns and one target column. Returns (x, y, class_names, features,
    columns): `features` names each column of x; `columns` each column of the file as read,
    `{"name", "values"}` with `values` None for a number and the sorted texts for a text column
    (what common/rawinput.py needs to put the same encoding inside a saved model).

    A numeric column is used as it is. A text column (any cell that is not a number) is one-hot
    encoded here, not in the network, so that the scikit-learn and NumPy baselines read the same
    numbers: one 0/1 column `name=value` per distinct value (sorted), at most MAX_CATEGORIES; a line
    says what was encoded. The table is read in bounded memory (common/tables.py) and x is built in
    float32 a column at a time. Every problem (no file, no target, empty table, a missing value, a
    NaN or an infinity, too many distinct texts, one class) raises UsageError naming it and its line.
    """
    table = read_csv_table(path, target, "--dataset")
    path = Path(path)
    what = f"{path}: target {target!r}"
    labels_read(table.columns[target], what, table)  # a missing label first, then the features
    names = [name for name in table.header if name != target]
    parts, features, encoded, columns = [], [], [], []
    for name in names:
        cells = table.cells(name)
        numbers, values = numbers_or_texts(cells)
        if numbers is not None:  # a column of numbers
            parts.append(checked_column(numbers, table, name))
            features.append(name)
            columns.append({"name": name, "values": None})
            continue
        if all(is_number(cell) or DECIMAL_COMMA.fullmatch(cell) for cell in values):
            comma = next(c.decode() for c in cells.tolist() if not is_number(c.decode()))
            raise UsageError(
                f"{path}: column {name!r} holds numbers written with a decimal comma ({comma!r}) in a "
                "comma-separated file; separate the columns with ';' or write the numbers with '.'"
            )
        values = sorted(values, key=natural_key)
        if len(values) > MAX_CATEGORIES:
            raise UsageError(
                f"{path}: text column {name!r} has {len(values)} distinct values, too many to one-hot "
                f"encode (at most {MAX_CATEGORIES}); drop it or map it to numbers"
            )
        parts.append((cells, [value.encode("utf-8") for value in values]))
        features += [f"{name}={value}" for value in values]
        columns.append({"name": name, "values": values})
        encoded.append(
            f"{name!r} ({len(values)}: {', '.join(values[:6])}{', ...' if len(values) > 6 else ''})"
        )
    if encoded:
        print(f"text columns one-hot encoded: {'; '.join(encoded)}", flush=True)
    check_fits(4 * len(table) * len(features), f"{path}: {len(table)} rows of {len(features)} features")
    x = np.empty((len(table), len(features)), dtype=np.float32)
    at = 0
    for part in parts:
        if isinstance(part, tuple):  # a text column: its one-hot block
            cells, values = part
            codes = np.searchsorted(np.sort(values), cells)
            order = np.argsort(values)  # sorted position -> natural position
            block = x[:, at : at + len(values)]
            block[:] = 0
            block[np.arange(len(cells)), order[codes]] = 1
            at += len(values)
        else:
            x[:, at] = part
            at += 1
    y, class_names = class_indices(table.columns[target], what, table)
    return x, y, class_names, features, columns


def numbers_or_texts(cells: np.ndarray) -> tuple[np.ndarray | None, list[str] | None]:
    """A column's numbers (float64), or where any cell is not a number its distinct texts."""
    try:
        return cells.astype(np.float64), None
    except ValueError:
        return None, [cell.decode("utf-8") for cell in np.unique(cells).tolist()]


def checked_column(values: np.ndarray, table, name: str) -> np.ndarray:
    """A column of numbers, or UsageError naming the column and the line of its first value that is
    NaN, infinite, or too large for the float32 arithmetic of training and the baselines."""
    bad = np.flatnonzero(~np.isfinite(values) | (np.abs(values) > MAX_MAGNITUDE))
    if len(bad):
        row = bad[0]
        cell = table.columns[name][row].decode("utf-8")
        what = (
            "NaN or infinite; fix or drop that value"
            if not np.isfinite(values[row])
            else f"beyond ±{MAX_MAGNITUDE:.0e}; rescale that column"
        )
        raise UsageError(f"{table.where} line {table.line(row)}: column {name!r} holds {cell!r}, {what}")
    return values


MAX_MAGNITUDE = 1e15  # beyond this, float32 sums of squares (scaling, variances) overflow


def checked_features(x, where: str):
    """`x` (float64) as float32, or UsageError naming the first value that is NaN, infinite or too
    large for the float32 arithmetic of training and the baselines."""
    bad = ~np.isfinite(x)
    if bad.any():
        raise UsageError(f"{where}: NaN or infinite value at row {np.argwhere(bad)[0][0] + 1}")
    large = np.abs(x) > MAX_MAGNITUDE
    if large.any():
        first = tuple(np.argwhere(large)[0])
        raise UsageError(
            f"{where}: value {x[first]:.3g} at row {first[0] + 1} is beyond ±{MAX_MAGNITUDE:.0e}; "
            "rescale that column"
        )
    return x.astype(np.float32)


def user_split(name: str, spec: str, x, y, class_names, seed: int, **info) -> Split:
    """A user's examples in a stratified 60/20/20 train / validation / test split (stratified where
    every class has 3 examples or more)."""
    x_rest, y_rest, x_test, y_test = hold_out_test(spec, x, y, seed, stratify_from=3)
    x_tr, y_tr, x_val, y_val = carve_validation(x_rest, y_rest, 0.25, seed)
    return Split(name, x_tr, y_tr, x_val, y_val, x_test, y_test, class_names, **info)


def hold_out_test(spec: str, x, y, seed: int, stratify_from: int):
    """A user's examples as (x_rest, y_rest, x_test, y_test), 20% held out for testing, stratified
    where every class has `stratify_from` examples or more; UsageError for fewer than 10."""
    from sklearn.model_selection import train_test_split

    if len(x) < 10:
        raise UsageError(f"{spec}: {len(x)} examples are too few to split (need at least 10)")
    stratify = stratified(y, 0.2, stratify_from, absent_classes_block=True)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, random_state=seed, stratify=stratify
    )
    return x_rest, y_rest, x_test, y_test


def fmt_bytes(n: float) -> str:
    """`17.0 TiB`, `512.0 MiB`: a size in bytes as people read it."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} PiB"


def memory_bytes() -> int | None:
    """This machine's memory in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(nbytes: float, what: str) -> None:
    """UsageError, before anything is allocated, when `what` needs more than this machine's memory."""
    total = memory_bytes()
    if total is not None and nbytes > total:
        raise UsageError(
            f"{what} needs about {fmt_bytes(nbytes)}, more than this machine's {fmt_bytes(total)} of "
            "memory"
        )


def check_npz_sizes(path: Path, names: tuple[str, ...]) -> None:
    """Each array's size as its header declares it (shape and dtype), read before the array is: an
    array larger than the bytes the file holds for it (a damaged or forged header) or than this
    machine's memory is refused with one line, never allocated. Problems of the file itself are left
    to np.load, which names them."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            for name in names:
                try:
                    info = archive.getinfo(f"{name}.npy")
                except KeyError:
                    continue  # np.load's reader says which arrays are missing
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = getattr(np.lib.format, f"read_array_header_{version[0]}_0")
                    shape, _, dtype = read_header(member)
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if declared > info.file_size:
                    raise UsageError(
                        f"{path}: array {name} declares shape {tuple(shape)} of {dtype} "
                        f"({fmt_bytes(declared)}), but the file holds {fmt_bytes(info.file_size)} for "
                        "it: damaged or not written by np.savez"
                    )
                check_fits(3 * declared, f"{path}: array {name} of shape {tuple(shape)}")  # x in float64
    except (zipfile.BadZipFile, OSError, ValueError):
        return


def read_npz_examples(path: Path, names: tuple[str, ...] = ("x", "y")) -> dict:
    """The arrays `names` of the `.npz` at `path`, read without pickle, `x` checked as examples (one
    per row, real numbers, finite and within float32's reach) and returned as float32. Each array's
    declared size is checked before it is read (`check_npz_sizes`). Every problem raises UsageError
    naming it."""
    import zipfile

    check_npz_sizes(Path(path), names)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy array under an .npz name
            raise ValueError(f"it holds one array (a .npy file), not named arrays {', '.join(names)}")
        with loaded as arrays:
            missing = [name for name in names if name not in arrays.files]
            if missing:
                raise UsageError(
                    f"{path} has no array {' or '.join(map(repr, missing))} (it has: "
                    f"{', '.join(arrays.files) or 'nothing'}); save with np.savez(PATH, "
                    f"{', '.join(f'{name}=...' for name in names)})"
                )
            found = {name: arrays[name] for name in names}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UsageError(f"cannot read {path} as .npz: {error}") from None
    x = found["x"]
    if x.ndim < 2 or 0 in x.shape:
        raise UsageError(f"{path}: x must hold one example per row, got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise UsageError(f"{path}: x must hold real numbers, got {x.dtype}")
    found["x"] = checked_features(x.astype(np.float64), f"{path}: x")
    return found


def read_labelled_npz(spec: str):
    """`npz:PATH` -> (x float32, y class indices, class names): arrays `x` (one example per row, any
    further shape) and `y` (one label each, numbers or text), read without pickle. Every problem
    raises UsageError naming it."""
    path = Path(spec[len("npz:") :])
    arrays = read_npz_examples(path)
    x, y = arrays["x"], arrays["y"]
    if y.ndim != 1 or len(y) != len(x):
        raise UsageError(f"{path}: y must hold one label per example ({len(x)}), got {y.shape}")
    if y.dtype.kind == "S":  # byte strings: their text, not b'a'
        y = np.char.decode(y, "utf-8", errors="replace")
    labels = [label_of(repr(v) if isinstance(v, float) else str(v)) for v in y.tolist()]
    if "" in labels:  # NaN, infinite, empty or 'nan': a missing label, not a class named 'nan'
        raise UsageError(
            f"{path}: y has no label for example {labels.index('')} (NaN, infinite, empty or a "
            "missing-value text such as 'nan' or 'NA')"
        )
    y, class_names = class_indices(labels, f"{path}: y")
    return x, y, class_names


def labels_read(labels, what: str, table=None) -> tuple[list[str], np.ndarray]:
    """(the distinct labels as `label_of` reads them, each label's index into them); UsageError
    naming the line (of `table`) or the example of the first missing label."""
    raw, inverse = np.unique(np.asarray(labels), return_inverse=True)
    raw = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in raw.tolist()]
    canonical = [label_of(text) for text in raw]
    if "" in canonical:  # a missing label is not a class of its own
        row = int(np.flatnonzero(np.asarray(canonical)[inverse] == "")[0])
        if table is not None:
            raise UsageError(
                f"{table.where} line {table.line(row)}: {what.split(': ', 1)[-1]} has no value "
                f"({raw[inverse[row]]!r})"
            )
        raise UsageError(f"{what} has no label for example {row} ({raw[inverse[row]]!r})")
    return canonical, inverse


def class_indices(labels, what: str, table=None) -> tuple[np.ndarray, list[str]]:
    """(each label's class index, the class names in natural order), each label read as `label_of`
    reads it (`1` and `1.0` one class; a missing value no label): `labels` texts, or a Table's
    column of UTF-8 bytes (`table`, whose lines a message names). UsageError naming `what` for a
    missing label, one class only, a class of one example, or many distinct decimal numbers."""
    canonical, inverse = labels_read(labels, what, table)
    class_names = sorted(set(canonical), key=natural_key)
    if len(class_names) < 2:
        raise UsageError(f"{what} has only one class ({class_names[0]!r})")
    numbers = [float(name) for name in class_names if is_number(name)]
    if len(numbers) == len(class_names) and any(not n.is_integer() for n in numbers):
        if len(class_names) > MAX_CATEGORIES or len(class_names) > len(inverse) / 2:
            raise UsageError(  # 500 classes of one example each: nothing to learn, accuracy 0
                f"{what} holds {len(class_names)} distinct decimal numbers ({class_names[0]}, "
                f"{class_names[1]}, ...): a quantity to regress, not classes; these recipes "
                "classify: bin it into a few classes first"
            )
    index = {name: i for i, name in enumerate(class_names)}
    y = np.array([index[name] for name in canonical], dtype=np.int64)[inverse]
    counts = np.bincount(y, minlength=len(class_names))
    if counts.min() < 2:
        lonely = [name for name, count in zip(class_names, counts) if count < 2]
        shown = ", ".join(map(repr, lonely[:5])) + (", ..." if len(lonely) > 5 else "")
        raise UsageError(
            f"{what}: {len(lonely)} of its {len(class_names)} classes have one example ({shown}); "
            "a class needs at least two, one to learn from and one to test on"
        )
    return y, class_names


def natural_key(text: str):
    """A total order on labels and categories, the same in every process: finite numbers by value
    first, then every other text by its characters (never NaN, which compares false with all)."""
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    return (0, number, text) if math.isfinite(number) else (1, 0.0, text)


# the texts pandas writes for (and reads as) a missing value: as a label, no label at all
MISSING = frozenset(
    "#N/A|#N/A N/A|#NA|-1.#IND|-1.#QNAN|-NaN|-nan|1.#IND|1.#QNAN|<NA>|N/A|NA|NULL|NaN|None|n/a|nan|"
    "null".split("|")
)


def label_of(text: str) -> str:
    """A label as a class is named: stripped; a number by its value, so that `1`, `1.0` and `01`
    are one class (`1`); "" for no label (an empty cell, a text pandas writes for a missing value,
    NaN or an infinity)."""
    text = text.strip()
    if text in MISSING:
        return ""
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return ""
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
