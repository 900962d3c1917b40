"""The recipe collection: the registry of recipes, by name.

Each entry names its module, a title, one line on what it shows, and the runs `python -m recipes all`
makes of it (the default run into `outputs/<name>/`, plus any extra scenario into a subfolder).
"""

from __future__ import annotations

from dataclasses import dataclass

__version__ = "0.1.0"


@dataclass(frozen=True)
class Run:
    """One default run of a recipe: extra flags, and the folder under `outputs/<name>/` it writes."""

    flags: tuple[str, ...] = ()
    subdir: str = ""


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    summary: str
    runs: tuple[Run, ...] = (Run(),)

    @property
    def module(self) -> str:
        return f"recipes.{self.name}"


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "mlp_classifier",
            "MLP classifier",
            "a Keras MLP on digits / MNIST-1D / your CSV, beside scikit-learn and a NumPy MLP",
        ),
        Recipe(
            "online_learning",
            "Online learning",
            "a Keras MLP learning test-then-train from drifting streams, beside river and sklearn",
        ),
        Recipe(
            "transfer_learning",
            "Transfer learning",
            "weights copied layer by layer with set_weights: when transfer pays, and when it hurts",
            runs=(Run(), Run(flags=("--scenario", "split"), subdir="split")),
        ),
    )
}
