"""The shared command-line flags and their types: argument parsing only.

Every recipe builds its parser with `recipe_parser(...)`, then adds its own flags. A bad flag exits
with code 2 and a single line on stderr (`<recipe>: error: ... (see --help)`), before anything is
written; bad input found later (a file's content) is a `common.errors.UsageError`, which
`common.harness.run_main` reports the same way.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

QUICK_HELP = (
    "smoke run, not a result: every stage once on tiny data, to see the code run (under a minute "
    "on a 2-core CPU)"
)


class RecipeArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: `<prog>: error: <message> (see --help)`. With
    `output_root` set (a recipe's parser), an unset `--output-dir` becomes `outputs/<name>`, or
    `outputs/quick/<name>` for a --quick run: a smoke run never writes over the full run's results."""

    output_root: str | None = None
    quick_settings: dict | None = None  # flag (dest) -> its value under --quick (`set_quick`)
    quick_applied: dict | None = None  # what the last parse set for --quick
    own_data: list[str] = []  # the user's data files the last parse named (`own_data`)

    def error(self, message: str):  # noqa: D401 - argparse's signature
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def set_quick(self, settings: dict, also: str = "") -> None:
        """What --quick sets: each flag in `settings` (by its dest) takes the value given there unless
        the flag itself is given beside --quick (then the flag wins); `also` says what it changes
        beyond flags (the data). Written into --quick's help, where a user reads it."""
        self.quick_settings = dict(settings)
        for action in self._actions:
            if action.dest == "quick":
                action.help = (
                    f"{QUICK_HELP}: "
                    f"{as_flags(settings, self._actions)}"
                    f"{'; ' + also if also else ''} (a flag given beside --quick wins)"
                )

    def parse_known_args(self, args=None, namespace=None):
        namespace, rest = super().parse_known_args(args, namespace)
        self.quick_applied = {}
        if self.quick_settings and getattr(namespace, "quick", False):
            given = self.given_flags(args)
            for dest, value in self.quick_settings.items():
                if dest not in given:
                    setattr(namespace, dest, list(value) if isinstance(value, tuple) else value)
                    self.quick_applied[dest] = value
        self.own_data = own_data(namespace) if self.output_root else []
        if self.output_root and getattr(namespace, "output_dir", "") is None:
            stem = Path(self.own_data[0]).stem if self.own_data else None
            namespace.output_dir = default_output_dir(self.output_root, namespace.quick, stem)
        elif self.own_data and committed_folder(namespace.output_dir):
            self.error(
                f"--output-dir {namespace.output_dir} holds the committed results of the recipe's "
                f"own data, not a run on {self.own_data[0]}: leave --output-dir out (the run then "
                f"writes to {default_output_dir(self.output_root, namespace.quick, '<file>')}) or "
                "name another folder"
            )
        return namespace, rest

    def given_flags(self, args=None) -> set[str]:
        """The dests of the flags on the command line (`args`, else sys.argv): parsed once more into
        a namespace that already holds every dest, where argparse sets only what it is given."""
        unset = object()
        probe = argparse.Namespace(
            **{a.dest: unset for a in self._actions if a.dest != argparse.SUPPRESS}
        )
        super().parse_known_args(args, probe)
        return {dest for dest, value in vars(probe).items() if value is not unset}


def describe_quick(parser: RecipeArgumentParser) -> str:
    """`--quick: --epochs 1 --seeds 1 (...)`: the line a smoke run prints first, naming what the
    parser's last parse set for --quick."""
    shown = as_flags(parser.quick_applied or {}, parser._actions)
    return f"--quick: {shown} (a smoke run: a flag given beside --quick wins)"


def as_flags(values: dict, actions) -> str:
    """`{dest: value}` as a user types the flags (`actions`: the parser's, for how each flag takes
    several values): `--epochs 1 --activations relu,sigmoid --hidden 32 16`."""
    spaced = {action.dest for action in actions if action.nargs in ("+", "*")}
    return " ".join(
        f"--{dest.replace('_', '-')} "
        + (
            (" " if dest in spaced else ",").join(map(str, value))
            if isinstance(value, (list, tuple))
            else str(value)
        )
        for dest, value in values.items()
    )


def default_output_dir(name: str, quick: bool, own: str | None = None, root: str = "outputs") -> str:
    """Where a run writes unless told: `outputs/<name>`, a smoke run `outputs/quick/<name>` (ignored
    by git, never read by the README or the gallery of the full runs); a run on the user's own data
    (`own`: the stem of its file) `outputs/yours/<name>/<own>` (also ignored by git), so that it
    never writes over the committed results of the recipe's own data."""
    base = f"{root}/quick" if quick else root
    return f"{base}/yours/{name}/{own}" if own else f"{base}/{name}"


def own_data(namespace) -> list[str]:
    """The files of the user's own data that the flags name: every `csv:PATH` or `npz:PATH` value
    (--dataset, --stream's items, --target-data), as the paths."""
    found = []
    for value in vars(namespace).values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith(("csv:", "npz:")):
                found.append(item.split(":", 1)[1])
    return found


CHECKOUT = Path(__file__).resolve().parents[1]  # the checkout whose outputs/ holds committed results


def committed_folder(folder: str) -> bool:
    """Whether `folder` is, or is inside, a folder of the checkout's committed results: under its
    outputs/, but not in outputs/quick/ or outputs/yours/ (which git ignores)."""
    try:
        inside = Path(folder).resolve().relative_to(CHECKOUT / "outputs").parts
    except ValueError:
        return False
    return not inside or inside[0] not in ("quick", "yours")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each flag's default once, as a user would type it: `256 128` or `sea,agrawal`, not a Python
    list; nothing for a default of None (the help text says what unset means)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "%(default)" in text or not action.option_strings or default in (None, argparse.SUPPRESS):
            return text
        if isinstance(default, (list, tuple)):
            default = (" " if action.nargs in ("+", "*") else ",").join(map(str, default))
        return f"{text} (default: {str(default).replace('%', '%%')})"


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


MAX_SEED = 2**31 - 1  # NumPy's and scikit-learn's seeds are 32-bit; seed + i and + 10 000 must be too


def seed_int(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SEED}, got {value}")
    return value


def folder_name(text: str) -> str:
    """A folder flag's value: never empty (an empty one wrote into the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, got an empty value")
    return text


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    value = number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def fraction(text: str) -> float:
    value = number(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def comma_list(
    choices: list[str] | tuple[str, ...] | None = None,
    *,
    item=None,
    noun: str = "",
    minimum: int = 1,
    sort_key=None,
    none: bool = False,
):
    """An argparse type for `a,b,c`: distinct items in the order given (or sorted by `sort_key`).

    Each item must be one of `choices`, or is converted by `item` (which raises
    argparse.ArgumentTypeError with its own message). `minimum` distinct items are required; with
    `none`, the word `none` stands for the empty list. `noun` names an item in the messages.
    """
    valid = ", ".join([*(choices or ()), *(["none"] if none else [])])

    def parse(text: str) -> list:
        if none and text.strip() == "none":
            return []
        items = [part.strip() for part in text.split(",") if part.strip()]
        if not items:
            raise argparse.ArgumentTypeError("expected a comma-separated list, got nothing")
        if choices is not None:
            unknown = [part for part in items if part not in choices]
            if unknown:
                what = f"unknown {noun} " if noun else "unknown "
                raise argparse.ArgumentTypeError(f"{what}{', '.join(unknown)}; valid: {valid}")
        values = list(dict.fromkeys(item(part) for part in items) if item else dict.fromkeys(items))
        if len(values) < minimum:
            word = noun or "item"
            plural = word + ("es" if word.endswith(("s", "x", "ch")) else "s")
            raise argparse.ArgumentTypeError(f"needs at least {minimum} {plural}, got {len(values)}")
        return sorted(values, key=sort_key) if sort_key else values

    return parse


def dataset_type(choices: list[str] | tuple[str, ...], allow_csv: bool, allow_npz: bool = False):
    """An argparse type for `--dataset`: one of `choices`, or `csv:PATH` where `allow_csv`, or
    `npz:PATH` where `allow_npz`; a named file must exist."""
    files = [kind for kind, allowed in (("csv", allow_csv), ("npz", allow_npz)) if allowed]

    def parse(text: str) -> str:
        kind = text.split(":", 1)[0]
        if kind in files and text.startswith(f"{kind}:"):
            if not text[len(kind) + 1 :]:
                raise argparse.ArgumentTypeError(f"{kind}: needs a path, e.g. {kind}:data/file.{kind}")
            existing_file()(text[len(kind) + 1 :])  # a missing or unreadable file fails here, up front
            return text
        if text not in choices:
            extra = "".join(f", {kind}:PATH" for kind in files)
            raise argparse.ArgumentTypeError(
                f"unknown data set {text!r}; valid: {', '.join(choices)}{extra}"
            )
        return text

    return parse


def recipe_parser(
    name: str,
    description: str,
    *,
    default_epochs: int | None = None,
    default_seeds: int = 1,
    datasets: list[str] | tuple[str, ...] | None = None,
    default_dataset: str | None = None,
    allow_csv: bool = False,
    allow_npz: bool = False,
    tensorboard: bool = False,
    distribute: bool | None = None,
) -> RecipeArgumentParser:
    """The parser every recipe starts from, with the shared flags and their defaults shown in --help.

    `--epochs` only where a recipe trains for epochs (`default_epochs`), `--tensorboard` only where it
    writes TensorBoard logs, `--distribute` (common/distribute.py) where it trains with `fit`: by
    default, where it has `--epochs`."""
    parser = RecipeArgumentParser(
        prog=f"python -m recipes.{name}",
        description=description,
        formatter_class=DefaultsHelpFormatter,
    )
    parser.output_root = name
    shared = parser.add_argument_group("shared flags")
    shared.add_argument("--version", action="version", version=version_line())
    shared.add_argument("--quick", action="store_true", help=QUICK_HELP)
    if default_epochs is not None:
        shared.add_argument(
            "--epochs", type=positive_int, default=default_epochs, help="maximum training epochs"
        )
    shared.add_argument(
        "--seed",
        type=seed_int,
        default=0,
        help="the first random seed: a run of --seeds N uses seed, seed+1, ..., seed+N-1",
    )
    shared.add_argument(
        "--seeds",
        type=positive_int,
        default=default_seeds,
        help="repeat over this many seeds and report the mean and spread",
    )
    shared.add_argument(
        "--output-dir",
        type=folder_name,
        default=None,
        help=f"folder for metrics.json and figures (default: outputs/{name}; with --quick, "
        f"outputs/quick/{name})",
    )
    shared.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed run with the same flags from OUTPUT_DIR/.checkpoint: finished stages "
        + (
            "are read back, an unfinished fit goes on from its last finished epoch"
            if default_epochs is not None
            else "(each stream and seed) are read back, the unfinished one starts again"
        ),
    )
    shared.add_argument(
        "--quiet",
        action="store_true",
        help="no progress lines or bars (by default a bar on a terminal, else a line about every "
        "10 s): each stage's result, the checks and the errors only",
    )
    shared.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's own start-up log (its C++ notices, the CUDA probe), hidden otherwise",
    )
    if tensorboard:
        shared.add_argument(
            "--tensorboard", action="store_true", help="write TensorBoard logs under OUTPUT_DIR/logs"
        )
    if distribute or (distribute is None and default_epochs is not None):
        from common.distribute import CHOICES, HELP, WORKER_TIMEOUT_S

        shared.add_argument("--distribute", choices=CHOICES, default="auto", help=HELP)
        shared.add_argument(
            "--worker-timeout",
            type=positive_float,
            default=WORKER_TIMEOUT_S,
            help="with --distribute multiworker: seconds to wait for every worker in TF_CONFIG to "
            "join before giving up with an error",
        )
    if datasets:
        shared.add_argument(
            "--dataset",
            type=dataset_type(datasets, allow_csv, allow_npz),
            default=default_dataset or datasets[0],
            help="data set: "
            + ", ".join(datasets)
            + (", or csv:PATH" if allow_csv else "")
            + (", or npz:PATH (arrays x: sequences x steps x features, y: labels)" if allow_npz else ""),
        )
        if allow_csv:
            shared.add_argument("--target", default=None, help="target column, with --dataset csv:PATH")
    return parser


def version_line() -> str:
    """`keras-recipes 0.1.0 (TensorFlow 2.21.0, Keras 3.15.1, Python 3.11.7)`, read from the installed
    packages' metadata without importing TensorFlow."""
    import platform

    from common.results import VERSION, installed_version

    return (
        f"keras-recipes {VERSION} (TensorFlow {installed_version('tensorflow')}, "
        f"Keras {installed_version('keras')}, Python {platform.python_version()})"
    )


def existing_file(*suffixes: str, what: str = "file"):
    """An argparse type for a path that must name a readable file (ending in one of `suffixes`)."""

    def parse(text: str) -> str:
        import os

        if not os.path.isfile(text):
            reason = "is a folder" if os.path.isdir(text) else "no such file"
            raise argparse.ArgumentTypeError(f"{text}: {reason}")
        if suffixes and not text.endswith(suffixes):
            raise argparse.ArgumentTypeError(
                f"{text}: expected a {what} ending in {' or '.join(suffixes)}"
            )
        if not os.access(text, os.R_OK):
            raise argparse.ArgumentTypeError(f"{text}: cannot read it (permission denied)")
        return text

    return parse


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def number(text: str) -> float:
    """A float flag's value; an argparse error naming the text when it is not a finite number (an
    infinite step size trains to NaN)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
