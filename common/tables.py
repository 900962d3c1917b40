"""A user's CSV, read once and in bounded memory: the one place a CSV's header and rows are read.

`read_csv_table` streams the file (UTF-8 with or without Excel's byte-order mark; comma, semicolon
or tab separated) into a `Table`: every column as a NumPy array of its stripped cells in UTF-8 bytes,
read a chunk of rows at a time, so a table takes about the size of its file in memory (a list of
Python strings per row took some 16 times it), and the file line of every row, so that a message
names the line a user opens. A long read says how far it has got about every 10 s.
`read_csv_rows` gives the rows as lists (the online stream reads its first rows one by one, a
malformed one kept for the stream to reject), through the same header checks.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UsageError

CHUNK = 1 << 16  # rows gathered as Python strings before they are packed into arrays
PROGRESS_EVERY_S = 10.0  # a read that takes longer says how far it is, this often
DECIMAL_COMMA = re.compile(r"\s*[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?\s*")


def delimiter_of(text: str) -> str:
    """The CSV's delimiter: `;` (as spreadsheets write CSV where the decimal mark is a comma) or a tab
    when the header line holds more of it than of commas, else a comma."""
    header = text.split("\n", 1)[0]
    counts = {mark: header.count(mark) for mark in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts[","] else ","


def decimal_point(cell: str) -> str:
    """`4,5` -> `4.5` (a number written with a decimal comma); any other cell as it is."""
    return cell.replace(",", ".") if DECIMAL_COMMA.fullmatch(cell) else cell


def is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


@dataclass
class Table:
    """A CSV's rows by column: `columns[name]` the cells (stripped, UTF-8 bytes), `lines` the file
    line each row starts on (a user's rows given in Python: their number, from 1)."""

    where: str  # the file, or what the rows are, for messages
    header: list[str]
    columns: dict[str, np.ndarray]
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)

    def line(self, row: int) -> int:
        return int(self.lines[row])

    def texts(self, name: str) -> list[str]:
        """Column `name`'s cells as text (for small uses: a table of rows to predict)."""
        return [cell.decode("utf-8") for cell in self.columns[name].tolist()]

    def cells(self, name: str) -> np.ndarray:
        """Column `name`'s cells; UsageError naming the first line where it has no value."""
        cells = self.columns[name]
        empty = np.flatnonzero(cells == b"")
        if len(empty):
            raise UsageError(f"{self.where} line {self.line(empty[0])}: column {name!r} has no value")
        return cells

    @classmethod
    def from_rows(cls, where: str, header: list[str], rows: list[list[str]]) -> Table:
        """A table of rows given as lists of texts (a user's rows in Python), numbered from 1."""
        for number, row in enumerate(rows, start=1):
            if len(row) != len(header):
                raise UsageError(f"{where} {number}: {len(row)} fields, the header has {len(header)}")
        columns = {name: _packed([row[i] for row in rows]) for i, name in enumerate(header)}
        return cls(where, header, columns, np.arange(1, len(rows) + 1))


def _packed(cells) -> np.ndarray:
    """Texts, stripped, as one array of UTF-8 bytes, as wide as the longest."""
    if not cells:
        return np.array([], "S1")
    return np.array([cell.strip().encode("utf-8") for cell in cells], dtype=bytes)


class _Progress:
    """How far a long read has got, from the position in the file's bytes, said about every 10 s."""

    def __init__(self, handle, size: int, name: str):
        self.handle, self.size, self.name = handle, max(size, 1), name
        self.started = self.shown = time.perf_counter()

    def tick(self) -> None:
        now = time.perf_counter()
        if now - self.shown >= PROGRESS_EVERY_S:
            self.shown = now
            share = min(self.handle.buffer.tell() / self.size, 1.0)
            left = (now - self.started) * (1 - share) / share if share else 0
            print(
                f"reading {self.name}: {share:.0%} of {self.size / 1e6:,.0f} MB, "
                f"{now - self.started:.0f} s, about {left:.0f} s left",
                file=sys.stderr,
                flush=True,
            )


def _rows(path: Path):
    """(the file's line number, the row's cells) for every row that is not blank, the header first;
    UsageError for a file that cannot be read as CSV. Yields its `_Progress` first."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            first = handle.readline()
            delimiter = delimiter_of(first)
            yield _Progress(handle, os.path.getsize(path), path.name)
            reader = csv.reader(itertools.chain([first], handle), delimiter=delimiter)
            line = 1
            for row in reader:
                if "".join(row).strip():  # a blank row (every cell empty) is no row
                    if delimiter != ",":  # `4,5;2,5`: a spreadsheet's decimal commas are numbers
                        row = [decimal_point(cell) if "," in cell else cell for cell in row]
                    yield line, row
                line = reader.line_num + 1
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"cannot read {path} as CSV: {error}") from None


def _header(path: Path, target, flag, need_target, needed):
    """(the header, its line kept as a row where it is a row of numbers, the progress counter, the
    rows after it)."""
    if target is None and need_target:
        raise UsageError(f"{flag} csv:PATH needs --target COLUMN (the column to predict)")
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    rows = _rows(path)
    counted = next(rows)
    first = next(rows, None)
    if first is None:
        raise UsageError(f"{path} is empty")
    header = [cell.strip() for cell in first[1]]
    asked = [target] if need_target else list(needed)
    if all(is_number(cell) for cell in header) and not (asked and set(asked) <= set(header)):
        if not asked:  # a row where the header belongs: the columns are numbered, no row is lost
            return [f"column {i + 1}" for i in range(len(header))], first, counted, rows
        shown = ",".join(header[:4]) + (",..." if len(header) > 4 else "")
        raise UsageError(
            f"{path}: its first line ({shown}) holds numbers, not a header line naming the columns "
            f"(needed: {', '.join(asked)})"
        )
    check_header(path, header, target if need_target else None)
    return header, None, counted, rows


def check_header(path, header: list[str], target: str | None) -> None:
    """UsageError for a header that names no column, one column twice, or the target twice but for
    case (a second copy of the target would be a feature: a silent label leak), or lacks `target`."""
    for i, name in enumerate(header):
        if not name:
            raise UsageError(f"{path}: column {i + 1} of the header has no name")
        if name in header[:i]:
            first = header.index(name) + 1
            raise UsageError(
                f"{path}: column {name!r} appears twice in the header (columns {first} and {i + 1}); "
                "rename or drop one"
            )
    if target is None:
        return
    twin = [name for name in header if name != target and name.casefold() == str(target).casefold()]
    if twin and target in header:  # `label` and `Label`: the second copy of the target, a leak
        raise UsageError(
            f"{path}: columns {target!r} and {twin[0]!r} differ only in case: a copy of the target "
            "would be a feature; rename or drop one"
        )
    if target not in header:
        raise UsageError(f"{path} has no column {target!r}; columns: {', '.join(header)}")
    if len(header) < 2:
        raise UsageError(f"{path} has no feature columns besides {target!r}")


def read_csv_table(
    path: str | os.PathLike,
    target: str | None,
    flag: str,
    need_target: bool = True,
    needed: tuple[str, ...] = (),
) -> Table:
    """A user's CSV as a `Table`, its header checked (`check_header`; with `need_target=False` rows
    to predict, the columns `needed` by name), every row of as many fields as the header; every
    problem raises UsageError naming it and its line (`flag` is how the user gave the file). A first
    line of numbers that is not a header of the columns asked for is a row: with no column asked
    for by name, the columns are named `column 1`, `column 2`, ... and no row is lost."""
    path = Path(path)
    header, kept, counted, rows = _header(path, target, flag, need_target, needed)
    chunks: list[list[np.ndarray]] = [[] for _ in header]
    lines, pending, numbers, width = [], [], [], len(header)
    for line, row in itertools.chain([kept] if kept else [], rows):
        if len(row) != width:
            raise UsageError(f"{path} line {line}: {len(row)} fields, the header has {width}")
        numbers.append(line)
        pending.append(row)
        if len(pending) >= CHUNK:
            _flush(pending, chunks, numbers, lines)
            counted.tick()
    _flush(pending, chunks, numbers, lines)
    columns = {
        name: np.concatenate(parts) if parts else np.array([], "S1")
        for name, parts in zip(header, chunks)
    }
    table = Table(str(path), header, columns, np.concatenate(lines) if lines else np.array([], int))
    if not len(table):
        raise UsageError(f"{path} has a header but no rows")
    return table


def _flush(pending, chunks, numbers, lines) -> None:
    """Pack the rows gathered so far into each column's arrays (cells stripped), and empty the
    lists."""
    if not numbers:
        return
    for column, parts in zip(zip(*pending), chunks):
        parts.append(_packed(column))
    lines.append(np.asarray(numbers, dtype=np.int64))
    pending.clear()
    numbers.clear()


def read_csv_rows(
    path: str | os.PathLike,
    target: str | None,
    flag: str,
    need_target: bool = True,
    needed: tuple[str, ...] = (),
    limit: int | None = None,
):
    """The header and the first `limit` (or all) non-blank rows of a user's CSV as lists of texts,
    a row of another length included (a stream rejects it, item by item); the header checked as
    `read_csv_table` checks it."""
    path = Path(path)
    header, kept, _, rows = _header(path, target, flag, need_target, needed)
    body = [row for _, row in itertools.islice(itertools.chain([kept] if kept else [], rows), limit)]
    rows.close()  # a stream of its first rows: the rest of the file is not read
    return header, body
