"""The recipe's MLP as a scikit-learn estimator, through Keras's own `keras.wrappers.SKLearnClassifier`:
for cross_val_score, Pipeline, GridSearchCV and the rest of scikit-learn.

    from sklearn.model_selection import cross_val_score
    from recipes.mlp_classifier import sklearn_classifier

    scores = cross_val_score(sklearn_classifier(), X, y, cv=5)

Each fit builds the recipe's network (`recipe.mlp`) on the training fold: Normalization adapted on
that fold alone (one mean and variance per column), Dense layers with dropout, Adam; it trains with
early stopping on a validation share of the fold, the best weights restored.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np

from common.device import import_backend

import_backend()  # without TensorFlow's C++ start-up log: before Keras
# isort: split
import keras  # noqa: E402
from keras.wrappers import SKLearnClassifier as KerasSKLearnClassifier  # noqa: E402


def check_learnable(X, sample_weight) -> None:
    """scikit-learn's own ValueError for what cannot be learned from: a NaN or infinite sample
    weight (once: NaN probabilities), a value float32 training cannot hold (a 1e300 in X once gave
    constant predictions); scikit-learn's check_array names the input."""
    from sklearn.utils.validation import check_array

    with contextlib.suppress(TypeError), np.errstate(over="ignore"):  # 1e300: inf in float32
        check_array(X, dtype=np.float32, ensure_2d=False, allow_nd=True, input_name="X")
    if sample_weight is not None:
        check_array(sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight")


class SKLearnClassifier(KerasSKLearnClassifier):
    """`keras.wrappers.SKLearnClassifier` with four repairs and `predict_proba`:

    - `sklearn.base.clone` keeps `fit_kwargs`. Keras 3.15's `__sklearn_clone__` drops them, so every
      fit inside cross_val_score or GridSearchCV ran with `fit`'s defaults (one epoch, no early
      stopping).
    - The rows (and sample weights) are shuffled, with the seed in `model_kwargs`, before `fit`:
      Keras's `validation_split` takes the *last* rows, and a table sorted by class would validate
      on one class.
    - With two classes `decision_function` gives one score per row, positive for `classes_[1]`, as
      scikit-learn defines it (the wrapper gave both probabilities).
    - `predict` and `decision_function` draw no progress bar.

    And one addition: `predict_proba`, the softmax, as scikit-learn expects of a classifier.
    """

    def __sklearn_clone__(self):
        clone = super().__sklearn_clone__()
        clone.fit_kwargs = copy.deepcopy(self.fit_kwargs)
        return clone

    def fit(self, X, y, **kwargs):
        from scipy import sparse

        if sparse.issparse(X):  # refused by the wrapper's validation, with its message
            return super().fit(X, y, **kwargs)
        rows = lambda a: a if hasattr(a, "iloc") else np.asarray(a)  # noqa: E731  (frames stay)
        try:
            X, y = rows(X), rows(y)
            weight = kwargs.get("sample_weight")
            if len(X) == len(y) > 0 and (weight is None or len(weight) == len(y)):
                seed = (self.model_kwargs or {}).get("seed", 0)
                order = np.random.default_rng(seed).permutation(len(y))
                pick = lambda a: a.iloc[order] if hasattr(a, "iloc") else a[order]  # noqa: E731
                X, y = pick(X), pick(y)
                if weight is not None:
                    kwargs["sample_weight"] = np.asarray(weight)[order]
        except (TypeError, ValueError):
            pass  # not rows of a table: the wrapper's own validation says what is wrong
        check_learnable(X, kwargs.get("sample_weight"))
        return super().fit(X, y, **kwargs)

    def predict(self, X):
        with quiet():
            return super().predict(X)

    def decision_function(self, X):
        with quiet():
            scores = super().decision_function(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict_proba(self, X):
        """Each row's class probabilities (the network's softmax), one column per `classes_`: for
        soft voting, `roc_auc` scoring, CalibratedClassifierCV."""
        with quiet():
            probabilities = np.asarray(super().decision_function(X), np.float64)
        return probabilities / probabilities.sum(axis=1, keepdims=True)


@contextlib.contextmanager
def quiet():
    """Keras's progress bars off, for the time of the block."""
    shown = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        yield
    finally:
        if shown:
            keras.config.enable_interactive_logging()


class EarlyStopping(keras.callbacks.EarlyStopping):
    """`keras.callbacks.EarlyStopping` that copies and pickles as its settings alone. It sits in the
    estimator's `fit_kwargs`, a parameter: scikit-learn requires a parameter to read the same after
    `fit` as before, and a clone to start afresh."""

    def __init__(self, **settings):
        super().__init__(**settings)
        self.settings = settings

    def __getstate__(self) -> dict:
        return self.settings

    def __setstate__(self, settings: dict) -> None:
        self.__init__(**settings)


def build_mlp(
    X,
    y,
    hidden=(256, 128),
    activation="relu",
    dropout=0.2,
    l2=0.0,
    learning_rate=1e-3,
    image_shape=None,
    seed=0,
):
    """The wrapper's `model`: the recipe's network for this fold (`y` comes one-hot encoded by the
    wrapper). With `seed`, Keras's generators are seeded first, so that a fit repeats."""
    from common.augment import random_shift
    from recipes.mlp_classifier.recipe import mlp

    if seed is not None:
        keras.utils.set_random_seed(seed)
    # images: shifted at random as they train, and one mean and variance over all pixels
    return mlp(
        np.asarray(X, np.float32),
        y.shape[1],
        hidden,
        activation,
        dropout,
        l2,
        learning_rate,
        per_feature=image_shape is None,
        shift=random_shift(image_shape),
        loss="categorical_crossentropy",
    )


def sklearn_classifier(
    hidden=(256, 128),
    activation="relu",
    dropout=0.2,
    l2=0.0,
    learning_rate=1e-3,
    image_shape=None,
    epochs=200,
    batch_size=128,
    patience=30,
    validation_fraction=0.1,
    seed=0,
) -> SKLearnClassifier:
    """The recipe's MLP (its defaults) as a scikit-learn classifier. The network's settings are in
    `model_kwargs` and the training's in `fit_kwargs`, the wrapper's two parameters: a grid search
    varies them as whole dicts, e.g. `{"model_kwargs": [{"hidden": (64,)}, {"hidden": (256, 128)}]}`."""
    return SKLearnClassifier(
        model=build_mlp,
        model_kwargs={
            "hidden": tuple(hidden),
            "activation": activation,
            "dropout": dropout,
            "l2": l2,
            "learning_rate": learning_rate,
            "image_shape": image_shape,
            "seed": seed,
        },
        fit_kwargs={
            "epochs": epochs,
            "batch_size": batch_size,
            "validation_split": validation_fraction,
            "callbacks": [
                EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
            ],
            "verbose": 0,
        },
    )
