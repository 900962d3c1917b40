"""The online_learning recipe's own flags and the checks on them after parsing."""

from __future__ import annotations

import argparse

from common.cli import (
    comma_list,
    non_negative_int,
    positive_float,
    positive_int,
)
from common.data import check_fits
from common.errors import UsageError
from common.training import check_network_fits
from recipes.online_learning.prequential import BASELINES
from recipes.online_learning.streams import STREAMS, stream_list

# --quick: every stage once: one stream of each kind (SEA generated with its drift, Phishing read
# from river's bundled file), 1 000 items (the drift at 500), one seed, one baseline of each kind
# (river per item, river's forest, scikit-learn per batch); ARF's budget (a time) far above what
# 1 000 items take, so that a smoke run repeats exactly
QUICK = {
    "stream": ["sea", "phishing"],
    "items": 1000,
    "seeds": 1,
    "baselines": ["river_lr", "river_arf", "sklearn_sgd"],
    "arf_budget": 20.0,
}


def add_recipe_flags(parser: argparse.ArgumentParser, ablation: list[str]) -> None:
    """The recipe's own flags; `ablation`: the settings --ablation runs beside the default."""
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
        "--items",
        type=positive_int,
        default=20000,
        help="items per stream (synthetic streams drift at the midpoint; real ones are cut to it)",
    )
    own.add_argument("--batch-size", type=positive_int, default=32, help="Keras mini-batch size")
    own.add_argument("--learning-rate", type=positive_float, default=1e-2, help="Adam step size")
    own.add_argument(
        "--hidden", type=positive_int, nargs="+", default=[64, 64], help="hidden layer sizes"
    )
    own.add_argument(
        "--steps-per-batch",
        type=positive_int,
        default=2,
        help="Adam steps taken on each mini-batch after it is scored",
    )
    own.add_argument(
        "--replay",
        type=non_negative_int,
        default=128,
        help="items recalled from memory and learned with the new batch at each step (0: none)",
    )
    own.add_argument(
        "--memory",
        type=positive_int,
        default=2000,
        help="replay memory: the last N valid items seen",
    )
    own.add_argument(
        "--adapt",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when ADWIN sees the error rate rise: reset Adam, forget the replay memory, boost the rate",
    )
    own.add_argument(
        "--boost",
        type=positive_float,
        default=2.0,
        help="learning-rate factor at the start of the stream and right after a drift",
    )
    own.add_argument(
        "--boost-items",
        type=positive_int,
        default=1000,
        help="items over which the boost decays back to 1",
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
    parser.set_quick(QUICK)


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
