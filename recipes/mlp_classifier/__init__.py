"""MLP classifier: a Keras MLP beside scikit-learn, a NumPy MLP and the published numbers."""

from recipes.mlp_classifier.recipe import RECIPE, build_parser, load_data, main, plot, run

__all__ = ["RECIPE", "build_parser", "load_data", "main", "plot", "run"]
