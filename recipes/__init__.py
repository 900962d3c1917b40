"""The recipe collection: which recipes there are, in the order the gallery shows them.

Each recipe declares itself as `RECIPE` (a `common.harness.Recipe`: title, summary, the runs
`python -m recipes all` makes of it and their headline numbers) in its recipe.py, the headlines beside
the code that writes those keys or, where they run long, in the recipe's report.py; `registry()`
gathers them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

NAMES = ("activations", "mlp_classifier", "online_learning", "rnn_sequence", "transfer_learning")


def registry() -> dict:
    """name -> the recipe's `RECIPE` declaration, importing each recipe module (not TensorFlow)."""
    return {name: importlib.import_module(f"recipes.{name}").RECIPE for name in NAMES}
