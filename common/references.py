"""Published numbers quoted beside our results, each with its source.

A value here is what the source printed, not something we measured; `metrics.json` carries the ones a
recipe is held against under `references`, and figures draw them hatched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SKLEARN_DIGITS = (
    "scikit-learn gallery, 'Recognizing hand-written digits' (plot_digits_classification.py): "
    "SVC(gamma=0.001), first half of load_digits to train, second half to test"
)
MNIST1D = (
    "Greydanus & Kobak (2024), 'Scaling down deep learning with MNIST-1D', ICML, Table 1 "
    "(frozen MNIST-1D test accuracy)"
)
GLOROT = (
    "Glorot & Bengio (2010), 'Understanding the difficulty of training deep feedforward neural "
    "networks', AISTATS, Table 1 (MNIST test error, 5 hidden layers of 1000)"
)
ARJOVSKY = (
    "Arjovsky, Shah & Bengio (2016), 'Unitary Evolution Recurrent Neural Networks', ICML, "
    "adding problem: predicting 1 gives MSE 0.167"
)
RIVER = "river documentation, 'Benchmarks' (binary classification table)"


@dataclass(frozen=True)
class Reference:
    name: str
    value: float
    source: str
    metric: str = "test_accuracy"


REFERENCES: dict[str, Reference] = {
    "digits_svc": Reference("SVC, scikit-learn gallery", 0.969, SKLEARN_DIGITS),
    "mnist1d_logistic": Reference("logistic regression (MNIST-1D paper)", 0.32, MNIST1D),
    "mnist1d_mlp": Reference("MLP (MNIST-1D paper)", 0.68, MNIST1D),
    "mnist1d_cnn": Reference("CNN (MNIST-1D paper)", 0.94, MNIST1D),
    "mnist1d_gru": Reference("GRU (MNIST-1D paper)", 0.91, MNIST1D),
    "mnist1d_human": Reference("human expert (MNIST-1D paper)", 0.96, MNIST1D),
    "glorot_sigmoid": Reference("sigmoid, 5x1000 (Glorot & Bengio)", 1 - 0.0221, GLOROT),
    "glorot_tanh": Reference("tanh, 5x1000 (Glorot & Bengio)", 1 - 0.0176, GLOROT),
    "glorot_tanh_normalized": Reference(
        "tanh + normalized init, 5x1000 (Glorot & Bengio)", 1 - 0.0164, GLOROT
    ),
    "glorot_softsign": Reference("softsign, 5x1000 (Glorot & Bengio)", 1 - 0.0164, GLOROT),
    "adding_baseline": Reference("predict 1 (adding problem)", 0.167, ARJOVSKY, "test_mse"),
    "river_bananas_lr": Reference(
        "river LogisticRegression, Bananas", 0.543, RIVER, "prequential_accuracy"
    ),
    "river_bananas_arf": Reference("river ARF, Bananas", 0.887, RIVER, "prequential_accuracy"),
    "river_phishing_arf": Reference("river ARF, Phishing", 0.908, RIVER, "prequential_accuracy"),
}


def reference(key: str) -> dict:
    """One reference as the dict metrics.json stores: name, value, source, metric."""
    return asdict(REFERENCES[key])


def references(*keys: str) -> list[dict]:
    return [reference(key) for key in keys]
