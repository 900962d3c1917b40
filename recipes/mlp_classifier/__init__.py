"""MLP classifier: a Keras MLP beside scikit-learn, a NumPy MLP and the published numbers."""

from recipes.mlp_classifier.recipe import RECIPE, build_parser, load_data, main, plot, run

__all__ = ["RECIPE", "build_parser", "load_data", "main", "plot", "run", "sklearn_classifier"]


def __getattr__(name: str):
    """`sklearn_classifier` (estimator.py) imports Keras: only when asked for."""
    if name == "sklearn_classifier":
        from recipes.mlp_classifier.estimator import sklearn_classifier

        return sklearn_classifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
