"""The classification task's data: MNIST-1D (40 steps of one value each), or a user's sequences
(`--dataset npz:PATH`: arrays `x` of shape (sequences, steps, features) and `y`)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from common import data
from common.errors import UsageError


def load_sequences(args) -> data.Split:
    """The split the recurrent classifiers train on; with --quick, at most 300 training and 300
    test sequences (a smoke run of the same code path)."""
    if args.dataset.startswith("npz:"):
        split = load_npz_sequences(args.dataset, seed=args.seed)
    else:
        split = data.load_mnist1d_split(seed=args.seed)
        for part in ("x_train", "x_val", "x_test"):  # a sequence of 40 steps of one value each
            setattr(split, part, getattr(split, part)[..., np.newaxis])
        split.name = "MNIST-1D"
    if args.quick:
        split.x_train, split.y_train = data.subsample(split.x_train, split.y_train, 300, args.seed)
        split.x_test, split.y_test = data.subsample(split.x_test, split.y_test, 300, args.seed)
    return split


def file_stem(dataset_name: str) -> str:
    """A data set's name as it starts a file name: mnist1d for MNIST-1D, mine for npz:mine.npz."""
    if dataset_name.startswith("npz:"):
        dataset_name = Path(dataset_name[4:]).stem
    return re.sub(r"[^a-z0-9_]+", "", dataset_name.lower().replace("-", "")) or "data"


def load_npz_sequences(spec: str, seed: int = 0) -> data.Split:
    """`npz:PATH`: a user's sequences, arrays `x` of shape (sequences, steps, features) and `y` (one
    label per sequence, numbers or text), in a stratified 60/20/20 split."""
    x, y, class_names = data.read_labelled_npz(spec)
    if x.ndim != 3:
        raise UsageError(f"{spec[4:]}: x must have shape (sequences, steps, features), got {x.shape}")
    return data.user_split(f"npz:{Path(spec[4:]).name}", spec, x, y, class_names, seed)
