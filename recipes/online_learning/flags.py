"""The online_learning recipe's own flags and the checks on them after parsing."""

from __future__ import annotations

import argparse

from common.cli import (
    comma_list,
    positive_float,
)
from common.data import check_fits
from common.errors import UsageError
from common.training import check_network_fits
from recipes.online_learning.prequential import BASELINES
from recipes.online_learning.streams import STREAMS, stream_list


def add_recipe_flags(parser: argparse.ArgumentParser, ablation: list[str]) -> None:
    """The recipe's flags of data and baselines (the learner's are recipe.py's); `ablation`: the
    settings --ablation runs beside the default."""
    own = parser.add_argument_group("online_learning flags")
    own.add_argument(
        "--stream",
        type=stream_list,
        default=list(STREAMS),
        help=f"comma list of {', '.join(STREAMS)}, or csv:PATH",
    )
    own.add_argument("--target", default=None, help="target column, with --stream csv:PATH")
    own.add_argument(
        "--classes",
        default=None,
        help="csv only: comma list of valid labels; others are rejected (default: labels in the file)",
    )
    own.add_argument(
        "--baselines",
        type=comma_list(BASELINES, noun="baseline", none=True),
        default=list(BASELINES),
        help=f"comma list of {', '.join(BASELINES)}, or none",
    )
    own.add_argument(
        "--arf-budget",
        type=positive_float,
        default=120.0,
        help="seconds ARF may use per stream; past it ARF stops and is reported unfinished",
    )
    own.add_argument(
        "--ablation",
        action="store_true",
        help="instead of the comparison: the Keras learner alone (no baselines), over --seeds, with "
        f"its default flags and then with each of: {'; '.join(ablation)}; writes results.ablation "
        "and ablation.png",
    )


def validate_args(args) -> None:
    """Bad flag combinations, found after parsing and before anything is written."""
    if args.items < args.batch_size:
        raise UsageError(f"--items ({args.items}) must be at least --batch-size ({args.batch_size})")
    if args.memory < args.batch_size:  # a batch must fit in memory, or its rows overwrite each other
        raise UsageError(f"--memory ({args.memory}) must be at least --batch-size ({args.batch_size})")
    # sizes that cannot fit are refused here, before anything is allocated (at least one feature)
    check_fits(8 * args.memory, f"--memory {args.memory} (the replay memory, 8 bytes an item or more)")
    check_network_fits([1, *args.hidden, 2], f"--hidden {' '.join(map(str, args.hidden))}")
    if args.classes and not args.stream[0].startswith("csv:"):
        raise UsageError("--classes only applies to --stream csv:PATH")
