"""Activation functions compared: f and f', the same MLP trained with each, gradient flow in depth."""

from recipes.activations.recipe import RECIPE, build_parser, main, plot, run

__all__ = ["RECIPE", "build_parser", "main", "plot", "run"]
