"""The recipe collection: which recipes there are, in the order the gallery shows them.

Each recipe declares itself as `RECIPE` (a `common.harness.Recipe`: title, summary, the runs
`python -m recipes all` makes of it and their headline numbers) in its recipe.py, the runs and their
headlines in its report.py (`DEFAULT_RUNS`); `registry()` gathers them.
"""

from __future__ import annotations

import importlib

from common.results import VERSION

__version__ = VERSION  # written once, in pyproject.toml, read from the installed package

NAMES = ("activations", "mlp_classifier", "online_learning", "rnn_sequence", "transfer_learning")


def registry() -> dict:
    """name -> the recipe's `RECIPE` declaration, importing each recipe module (not TensorFlow)."""
    return {name: importlib.import_module(f"recipes.{name}").RECIPE for name in NAMES}
