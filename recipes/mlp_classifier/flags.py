"""The mlp_classifier recipe's parser: the shared flags and its own (the network, its training,
augmentation)."""

from __future__ import annotations

import argparse

from common.cli import fraction, number, positive_float, positive_int, recipe_parser

DATASETS = ("digits", "mnist1d", "mnist", "fashion_mnist", "xor")
ACTIVATIONS = ("relu", "gelu", "elu", "selu", "tanh", "sigmoid", "silu", "leaky_relu")


def non_negative_float(text: str) -> float:
    value = number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


# --quick: every stage once (one epoch, one seed) on the smallest net of the same two layers
QUICK = {"epochs": 1, "seeds": 1, "hidden": [32, 16]}


def build_parser():
    parser = recipe_parser(
        "mlp_classifier",
        "Train a Keras MLP classifier beside scikit-learn, NumPy and published baselines.",
        default_epochs=200,
        default_seeds=3,
        datasets=DATASETS,
        allow_csv=True,
        tensorboard=True,
    )
    own = parser.add_argument_group("mlp_classifier flags")
    own.add_argument(
        "--hidden", type=positive_int, nargs="+", default=[256, 128], help="hidden layer sizes"
    )
    own.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="hidden activation")
    own.add_argument("--dropout", type=fraction, default=0.2, help="dropout after each hidden layer")
    own.add_argument("--l2", type=non_negative_float, default=0.0, help="L2 weight penalty")
    own.add_argument("--batch-size", type=positive_int, default=128, help="mini-batch size per replica")
    own.add_argument("--learning-rate", type=positive_float, default=1e-3, help="Adam step size")
    own.add_argument(
        "--patience", type=positive_int, default=30, help="early-stopping patience (epochs)"
    )
    own.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="images and signals: random shifts every epoch (and a nudged set for small image data)",
    )
    parser.set_quick(QUICK, also="300 training examples; the baselines a few iterations")
    return parser
