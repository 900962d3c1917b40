"""The transfer_learning recipe's own flags (the scenario, its classes and label budgets, reuse of a
pretrained source model, the target trainings) and the checks argparse cannot make alone."""

from __future__ import annotations

import argparse
import math

from common.cli import (
    comma_list,
    dataset_type,
    existing_file,
    non_negative_int,
)
from common.errors import UsageError
from recipes.transfer_learning.models import BLOCKS
from recipes.transfer_learning.tasks import NUM_CLASSES

SCENARIOS = ("shift", "split")
DATASETS = ("digits", "mnist1d")
LABEL_BUDGETS = "1,2,5,10,20,50,all"


def anb_blocks(text: str) -> int:
    """One n of AnB-n: a whole number of feature blocks, 0 to BLOCKS."""
    if not text.isdigit() or int(text) > BLOCKS:
        raise argparse.ArgumentTypeError(f"a block count is 0 to {BLOCKS}, got {text!r}")
    return int(text)


FINETUNE_LR_FACTOR = 10


def digit_class(text: str) -> int:
    if not text.isdigit() or int(text) >= NUM_CLASSES:
        raise argparse.ArgumentTypeError(f"unknown class {text!r}; valid: 0-{NUM_CLASSES - 1}")
    return int(text)


def label_budget(text: str) -> str:
    """Labelled examples per class: a positive integer, or `all` for the whole pool."""
    if text != "all" and not (text.isdigit() and int(text) >= 1):
        raise argparse.ArgumentTypeError(f"expected positive integers or 'all', got {text!r}")
    return text


class_list = comma_list(item=digit_class, noun="class", minimum=2)
label_budgets = comma_list(item=label_budget, sort_key=lambda k: math.inf if k == "all" else int(k))


def add_recipe_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of the tasks and the label budgets (the training's are recipe.py's)."""
    own = parser.add_argument_group("transfer_learning flags")
    own.add_argument("--scenario", choices=SCENARIOS, default="shift", help="which transfer task")
    own.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help="data set of the split scenario (default: digits); shift always uses mnist1d",
    )
    own.add_argument(
        "--source-classes",
        type=class_list,
        default="0,1,2,3,4",
        help="split scenario: classes the source model learns",
    )
    own.add_argument(
        "--target-classes",
        type=class_list,
        default="5,6,7,8,9",
        help="split scenario: classes of the target task (disjoint from the source's)",
    )
    own.add_argument(
        "--target-seed",
        type=non_negative_int,
        default=7,
        help="shift scenario: seed of the regenerated MNIST-1D target",
    )
    own.add_argument(
        "--target-data",
        type=dataset_type((), allow_csv=True, allow_npz=True),
        default=None,
        metavar="csv:PATH|npz:PATH",
        help="your own target task instead of the scenario's: a CSV (with --target-column) or an "
        ".npz with arrays x and y, each example as many numbers as the source's (40 for mnist1d, "
        "64 for digits); 80%% becomes the labelled pool, 20%% the test set",
    )
    own.add_argument(
        "--target-column", default=None, help="with --target-data csv:PATH: the label column"
    )
    own.add_argument(
        "--labels-per-class",
        type=label_budgets,
        default=LABEL_BUDGETS,
        help="target training sizes k (labelled examples per class); 'all' is the whole pool",
    )
    own.add_argument(
        "--anb-labels",
        type=label_budgets,
        default="all",
        help="labelled examples per class for the AnB-n curve (one value)",
    )
    own.add_argument(
        "--anb-blocks",
        type=comma_list(item=anb_blocks, noun="block count", sort_key=int),
        default=",".join(str(n) for n in range(BLOCKS + 1)),
        help=f"the n of the AnB-n curve: feature blocks copied and frozen, each 0 to {BLOCKS}",
    )
    own.add_argument(
        "--pretrained",
        type=existing_file(".keras", what="Keras model"),
        default=None,
        metavar="PATH",
        help="reuse a saved source model, e.g. outputs/transfer_learning/models/source.keras",
    )


def validate_args(args) -> None:
    """What argparse cannot check alone, found before anything is written, and the flags whose value
    depends on others' (the data set of a scenario)."""
    if args.scenario == "shift":
        if args.dataset not in (None, "mnist1d"):
            raise UsageError(
                "the shift scenario uses mnist1d (--dataset digits is for --scenario split)"
            )
        args.dataset = "mnist1d"
    else:
        args.dataset = args.dataset or "digits"
        overlap = sorted(set(args.source_classes) & set(args.target_classes))
        if overlap:
            raise UsageError(
                "--source-classes and --target-classes must be disjoint; both contain "
                + ",".join(map(str, overlap))
            )
    if args.target_column and not (args.target_data or "").startswith("csv:"):
        raise UsageError("--target-column only applies to --target-data csv:PATH")
    if (args.target_data or "").startswith("csv:") and not args.target_column:
        raise UsageError("--target-data csv:PATH needs --target-column COLUMN (the label column)")
    if len(args.anb_labels) != 1:
        raise UsageError(f"--anb-labels takes one value, got {','.join(args.anb_labels)}")
    args.anb_labels = args.anb_labels[0]
