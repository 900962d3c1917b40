"""The streams: river's synthetic drifting generators and bundled data sets, a user's CSV, and the
cleaning that keeps malformed records away from every learner."""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass

import numpy as np

from common.cli import comma_list, existing_file
from common.data import label_of, natural_key, read_csv_rows
from common.errors import UsageError

STREAMS = ("sea", "agrawal", "phishing", "bananas")
REJECT_REASONS = ("bad_value", "wrong_length", "unknown_label")

_named_streams = comma_list(STREAMS, noun="stream")


def stream_list(text: str) -> list[str]:
    """`--stream`: a comma list of the named streams, or one `csv:PATH`."""
    if text.startswith("csv:"):
        if not text[4:]:
            raise argparse.ArgumentTypeError("csv: needs a path, e.g. csv:data/table.csv")
        existing_file()(text[4:])  # a missing or unreadable file fails here, up front
        return [text]
    try:
        return _named_streams(text)
    except argparse.ArgumentTypeError as error:
        if str(error).startswith("unknown"):  # a named stream or a table
            raise argparse.ArgumentTypeError(f"{error}, csv:PATH") from None
        raise


@dataclass
class Stream:
    """Raw records `(features, label)` as they arrive, and what a valid record looks like."""

    name: str
    records: list
    features: list
    classes: list
    known_drift: int | None = None


@dataclass
class Prepared:
    """A stream made ready to learn from: its valid items as arrays (`x`, `y`, in stream order) and
    the facts about it that a run reports (items, rejected, classes, known drift, majority rate)."""

    stream: Stream
    x: np.ndarray
    y: np.ndarray
    facts: dict


def load_stream(spec: str, args) -> Stream:
    """One stream's raw records; bad CSV input (no file, no target) raises UsageError."""
    from river import datasets
    from river.datasets import synth

    n, seed = args.items, args.seed
    if spec in ("sea", "agrawal"):
        if spec == "sea":
            before = synth.SEA(variant=0, noise=0.1, seed=seed)
            after = synth.SEA(variant=3, noise=0.1, seed=seed + 1)
        else:
            before = synth.Agrawal(classification_function=0, seed=seed)
            after = synth.Agrawal(classification_function=2, seed=seed + 1)
        # a width of 1 overflows inside river: the concepts blend over 100 items
        drifting = synth.ConceptDriftStream(
            stream=before, drift_stream=after, position=n // 2, width=100, seed=seed
        )
        records = list(itertools.islice(drifting, n))
        return Stream(
            spec, records, list(records[0][0]), [False, True] if spec == "sea" else [0, 1], n // 2
        )
    if spec in ("phishing", "bananas"):
        data = datasets.Phishing() if spec == "phishing" else datasets.Bananas()
        records = list(itertools.islice(data, n))
        return Stream(spec, records, list(records[0][0]), [False, True])
    return load_csv_stream(spec[len("csv:") :], args.target, args.classes, n)


def load_csv_stream(path: str, target: str | None, classes: str | None, n: int) -> Stream:
    """A user's table in file order; rows are cleaned later, one by one, like any record."""
    header, body = read_csv_rows(path, target, "--stream", limit=n)  # the stream's first n rows
    t = header.index(target)
    records = []
    for row in body:
        if len(row) != len(header):  # fields cannot be told apart: clean_records() rejects it
            records.append((None, None))
        else:
            records.append(([cell for i, cell in enumerate(row) if i != t], label_of(row[t])))
    if not records:
        raise UsageError(f"{path} has a header but no rows")
    if classes:
        names = list(dict.fromkeys(label_of(c) for c in classes.split(",") if label_of(c)))
    else:
        names = sorted({label for _, label in records if label}, key=natural_key)
    if len(names) < 2:
        raise UsageError(f"{path}: target {target!r} needs at least two classes, found {names}")
    return Stream("csv", records, [h for i, h in enumerate(header) if i != t], names)


def clean_records(stream: Stream):
    """Valid records as arrays (x float32, y class index) and the count of each kind rejected.

    A record is rejected for a value that is not a finite number, a wrong number of features, or a
    label outside the stream's classes; a rejected record reaches no learner.
    """
    index = {label: i for i, label in enumerate(stream.classes)}
    width = len(stream.features)
    rows, labels = [], []
    rejected = dict.fromkeys(REJECT_REASONS, 0)
    for x, label in stream.records:
        if x is None:
            values = None
        elif isinstance(x, dict):
            present = len(x) == width and all(name in x for name in stream.features)
            values = [x[name] for name in stream.features] if present else None
        else:
            values = list(x) if len(x) == width else None
        if values is None:
            rejected["wrong_length"] += 1
            continue
        try:
            row = [float(v) for v in values]
        except (TypeError, ValueError):
            rejected["bad_value"] += 1
            continue
        try:
            k = index.get(label)
        except TypeError:  # an unhashable label
            k = None
        if k is None:
            rejected["unknown_label"] += 1
            continue
        rows.append(row)
        labels.append(k)
    x = np.asarray(rows, dtype=np.float64).reshape(-1, width)
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)  # a finite 1e300 is infinite in float32: reject it too
    finite = np.isfinite(x32).all(axis=1)
    rejected["bad_value"] += int((~finite).sum())
    return x32[finite], np.asarray(labels, dtype=np.int64)[finite], rejected
