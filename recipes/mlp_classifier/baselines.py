"""The baselines a Keras MLP is put beside: scikit-learn's MLP and logistic regression, and the NumPy
MLP of `common/numpy_reference.py`, each on the same (unaugmented) split."""

from __future__ import annotations

import warnings

from common.data import Split
from common.numpy_reference import NumpyMLP
from common.training import Timer
from recipes.mlp_classifier.augment import shiftable


def fit_baselines(split: Split, args) -> dict:
    """name -> {test_accuracy, fit_seconds} for each baseline; --quick caps their iterations."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    iterations = 20 if args.quick else 500
    models = {
        "sklearn_mlp": make_pipeline(
            StandardScaler(),
            MLPClassifier(tuple(args.hidden), max_iter=iterations, random_state=args.seed),
        ),
        "logistic_regression": make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=iterations * 4)
        ),
    }
    results = {}
    for name, model in models.items():
        with Timer() as timer, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(split.x_train, split.y_train)
        accuracy = float((model.predict(split.x_test) == split.y_test).mean())
        results[name] = {"test_accuracy": accuracy, "fit_seconds": timer.seconds}

    # scaled as the Keras model scales: one mean and spread for images and signals, one per column
    # for tables
    mean, std = split.x_train.mean(), split.x_train.std() + 1e-8
    if not shiftable(split):
        mean, std = split.x_train.mean(axis=0), split.x_train.std(axis=0) + 1e-8
    numpy_mlp = NumpyMLP(
        [split.num_features, *args.hidden, split.num_classes], activation="relu", seed=args.seed
    )
    with Timer() as timer:
        numpy_mlp.fit((split.x_train - mean) / std, split.y_train, epochs=5 if args.quick else 60)
    accuracy = float((numpy_mlp.predict((split.x_test - mean) / std) == split.y_test).mean())
    results["numpy_mlp"] = {"test_accuracy": accuracy, "fit_seconds": timer.seconds}
    return results
