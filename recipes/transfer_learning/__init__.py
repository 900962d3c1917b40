"""Transfer learning: weights copied layer by layer with set_weights, and when transfer pays."""

from recipes.transfer_learning.recipe import RECIPE, build_parser, main, plot, run

__all__ = ["RECIPE", "build_parser", "main", "plot", "run"]
