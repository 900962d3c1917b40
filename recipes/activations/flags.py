"""The activations recipe's parser: the shared flags and its own (activations, data sets, the MLP,
the gradient-flow depth, the initialiser scheme)."""

from __future__ import annotations

import argparse

from common import numpy_reference
from common.cli import comma_list, positive_float, positive_int, recipe_parser

ACTIVATIONS = tuple(numpy_reference.ACTIVATIONS)  # linear, sigmoid, tanh, relu, ..., mish
DATASETS = ("digits", "mnist1d")
# --quick: every stage once: one activation (the loop over them runs the same code; sigmoid, whose
# vanishing gradient the gradient-flow check measures at initialisation), one data set, one epoch,
# one seed
QUICK = {"epochs": 1, "seeds": 1, "datasets": ["mnist1d"], "activations": ["sigmoid"]}


def at_least_two(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (first and last layer), got {value}")
    return value


def build_parser():
    parser = recipe_parser(
        "activations",
        "Compare activation functions: curves, training on digits and MNIST-1D, gradient flow.",
        default_epochs=60,
        default_seeds=3,
    )
    own = parser.add_argument_group("activations flags")
    own.add_argument(
        "--activations",
        type=comma_list(ACTIVATIONS),
        default=None,
        help=f"comma-separated subset of: {', '.join(ACTIVATIONS)} (default: all)",
    )
    own.add_argument(
        "--datasets",
        type=comma_list(DATASETS),
        default=list(DATASETS),
        help="comma-separated data sets to train on",
    )
    own.add_argument("--layers", type=positive_int, default=5, help="hidden layers of the MLP")
    own.add_argument("--units", type=positive_int, default=64, help="units per hidden layer")
    own.add_argument(
        "--depth", type=at_least_two, default=10, help="hidden layers of the gradient-flow net"
    )
    own.add_argument(
        "--init",
        choices=("matched", "glorot"),
        default="matched",
        help="matched: Glorot for sigmoid/tanh/softsign/linear, He for the ReLU family, LeCun normal "
        "for SELU; glorot: Glorot uniform for all",
    )
    own.add_argument("--batch-size", type=positive_int, default=128, help="mini-batch size per replica")
    own.add_argument(
        "--learning-rate",
        type=positive_float,
        default=5e-3,
        help="Adam step size (with --regularise, the peak of the cosine decay)",
    )
    own.add_argument(
        "--regularise",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train as a practitioner would (the default): random shifts of each training example "
        "(MNIST-1D: up to 4 of its 40 steps; digits: one pixel), the learning rate decayed to 0 on "
        "a cosine, early stopping on the validation split with the best weights restored. "
        "--no-regularise: a constant rate, every epoch, no shifts, the last epoch's weights (the "
        "second run of `all`: --no-regularise --epochs 30 --batch-size 64 --learning-rate 3e-3)",
    )
    own.add_argument(
        "--patience",
        type=positive_int,
        default=15,
        help="with --regularise: epochs without a better validation loss before training stops",
    )
    parser.set_quick(QUICK, also="300 training examples")
    return parser
