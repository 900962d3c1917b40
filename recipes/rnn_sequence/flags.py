"""The rnn_sequence recipe's parser: the shared flags and its own (tasks, cells, the MNIST-1D model,
the adding problem)."""

from __future__ import annotations

import argparse

from common.cli import comma_list, non_negative_int, positive_float, positive_int, recipe_parser
from recipes.rnn_sequence.models import CELLS

TASKS = ("mnist1d", "adding")
# --quick: every stage once: one cell (the loop over cells runs the same code), one epoch, one seed,
# the smallest widths, the adding problem at one short length
QUICK = {
    "epochs": 1,
    "seeds": 1,
    "cells": ["simple"],
    "units": 8,
    "lengths": [25],
    "adding_train": 256,
    "adding_test": 128,
    "adding_epochs": 1,
    "adding_units": 8,
}


def sequence_length(text: str) -> int:
    """One length of the adding problem: an integer of at least 2 (one marker in each half)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer length, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"a length must be at least 2 (one marker in each half), got {value}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """The shared flags (common.cli) and the recipe's own."""
    parser = recipe_parser(
        "rnn_sequence",
        "SimpleRNN, GRU and LSTM on MNIST-1D and on the adding problem.",
        default_epochs=20,
        tensorboard=True,
        datasets=("mnist1d",),  # the classification task's data, or npz:PATH (sequences.py)
        allow_npz=True,
    )
    add_recipe_flags(parser)
    parser.set_quick(QUICK, also="300 training and 300 test sequences of MNIST-1D")
    return parser


def add_recipe_flags(parser: argparse.ArgumentParser) -> None:
    own = parser.add_argument_group("rnn_sequence flags")
    own.add_argument(
        "--task",
        type=comma_list(TASKS),
        default=",".join(TASKS),
        help="comma-separated tasks: mnist1d (classification), adding (the adding problem)",
    )
    own.add_argument(
        "--cells",
        type=comma_list(CELLS),
        default=None,
        help=f"comma-separated subset of: {', '.join(CELLS)} (default: all)",
    )
    own.add_argument("--units", type=positive_int, default=64, help="units per direction and layer")
    own.add_argument(
        "--layers", type=positive_int, default=2, help="bidirectional recurrent layers (MNIST-1D)"
    )
    own.add_argument(
        "--shift",
        type=non_negative_int,
        default=4,
        help="augmentation: shift each training sequence by up to this many steps (0: off)",
    )
    own.add_argument("--batch-size", type=positive_int, default=64, help="mini-batch size per replica")
    own.add_argument(
        "--learning-rate",
        type=positive_float,
        default=6e-3,
        help="peak Adam step size (warm-up over 5%% of steps, then cosine decay)",
    )
    own.add_argument(
        "--clipnorm", type=positive_float, default=1.0, help="clip each gradient to this norm"
    )
    adding = parser.add_argument_group("adding problem flags")
    adding.add_argument(
        "--lengths",
        type=comma_list(item=sequence_length, noun="length", sort_key=int),
        default="25,100",
        help="comma-separated sequence lengths, each at least 2",
    )
    adding.add_argument(
        "--adding-train", type=positive_int, default=10_000, help="training sequences per length"
    )
    adding.add_argument("--adding-test", type=positive_int, default=2_000, help="test sequences")
    adding.add_argument(
        "--adding-epochs", type=positive_int, default=8, help="training epochs per length"
    )
    adding.add_argument(
        "--adding-units", type=positive_int, default=32, help="units of the one recurrent layer"
    )
    adding.add_argument(
        "--adding-learning-rate", type=positive_float, default=5e-3, help="Adam step size"
    )
