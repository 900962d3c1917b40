"""The recipe collection: the registry of recipes, by name.

Each entry names its module, a title, one line on what it shows, and the runs `python -m recipes all`
makes of it (the default run into `outputs/<name>/`, plus any extra scenario into a subfolder).
"""

from __future__ import annotations

from dataclasses import dataclass

__version__ = "0.1.0"


@dataclass(frozen=True)
class Headline:
    """One number the gallery and the README show for a run, and what it is put beside: a published
    reference (a key of common.references.REFERENCES) or another number of the same run."""

    label: str
    path: str  # into metrics.json, e.g. "results.test_accuracy"
    reference: str | None = None
    beside_label: str = ""
    beside_path: str | None = None


@dataclass(frozen=True)
class Run:
    """One default run of a recipe: extra flags, the folder under `outputs/<name>/` it writes, and
    the headline numbers it is summarised by."""

    flags: tuple[str, ...] = ()
    subdir: str = ""
    headlines: tuple[Headline, ...] = ()


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    summary: str
    runs: tuple[Run, ...] = (Run(),)

    @property
    def module(self) -> str:
        return f"recipes.{self.name}"


def _transfer_headlines(scenario: str) -> tuple[Headline, ...]:
    return tuple(
        Headline(
            f"{scenario}: {label}, 5 labels per class",
            f"results.curves.{mode}.5.test_accuracy",
            beside_label="from scratch",
            beside_path="results.curves.scratch.5.test_accuracy",
        )
        for mode, label in (("finetune", "fine-tuned"), ("frozen", "frozen features"))
    )


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "activations",
            "Activation functions",
            "twelve activations: f and f', the same MLP trained with each, gradient flow in depth",
            runs=(
                Run(
                    headlines=(
                        Headline(
                            "MNIST-1D test accuracy, ReLU 5x64, mean of 3 seeds",
                            "results.mnist1d.relu.test_accuracy",
                            reference="mnist1d_mlp",
                        ),
                        Headline(
                            "MNIST-1D test accuracy, linear 5x64 (a linear model)",
                            "results.mnist1d.linear.test_accuracy",
                            reference="mnist1d_logistic",
                        ),
                        Headline(
                            "MNIST-1D test accuracy, sigmoid 5x64",
                            "results.mnist1d.sigmoid.test_accuracy",
                            beside_label="tanh",
                            beside_path="results.mnist1d.tanh.test_accuracy",
                        ),
                    )
                ),
            ),
        ),
        Recipe(
            "mlp_classifier",
            "MLP classifier",
            "a Keras MLP on digits / MNIST-1D / your CSV, beside scikit-learn and a NumPy MLP",
            runs=(
                Run(
                    headlines=(
                        Headline(
                            "digits test accuracy, mean of 3 seeds",
                            "results.test_accuracy",
                            reference="digits_svc",
                        ),
                        Headline(
                            "scikit-learn MLPClassifier, same split",
                            "results.baselines.sklearn_mlp.test_accuracy",
                        ),
                    )
                ),
            ),
        ),
        Recipe(
            "online_learning",
            "Online learning",
            "a Keras MLP learning test-then-train from drifting streams, beside river and sklearn",
            runs=(
                Run(
                    headlines=(
                        Headline(
                            "Agrawal 0->2 prequential accuracy, Keras MLP, mean of 5 seeds",
                            "results.agrawal.keras_mlp.accuracy",
                            beside_label="river LogisticRegression",
                            beside_path="results.agrawal.river_lr.accuracy",
                        ),
                        Headline(
                            "Phishing prequential accuracy, Keras MLP, mean of 5 seeds",
                            "results.phishing.keras_mlp.accuracy",
                            beside_label="river LogisticRegression",
                            beside_path="results.phishing.river_lr.accuracy",
                        ),
                        Headline(
                            "Bananas prequential accuracy, Keras MLP, mean of 5 seeds",
                            "results.bananas.keras_mlp.accuracy",
                            reference="river_bananas_lr",
                        ),
                        Headline(
                            "SEA throughput, items/s, Keras MLP, median of 5 runs",
                            "results.sea.keras_mlp.items_per_second",
                            beside_label="river ARF",
                            beside_path="results.sea.river_arf.items_per_second",
                        ),
                    )
                ),
            ),
        ),
        Recipe(
            "rnn_sequence",
            "SimpleRNN sequence model",
            "SimpleRNN, GRU and LSTM on MNIST-1D and the adding problem: how far gradients reach",
            runs=(
                Run(
                    headlines=(
                        Headline(
                            "MNIST-1D test accuracy, SimpleRNN (2 bidirectional layers)",
                            "results.mnist1d.simple.test_accuracy",
                            reference="mnist1d_cnn",
                        ),
                        Headline(
                            "MNIST-1D test accuracy, GRU (2 bidirectional layers)",
                            "results.mnist1d.gru.test_accuracy",
                            reference="mnist1d_gru",
                        ),
                        Headline(
                            "MNIST-1D test accuracy, LSTM (2 bidirectional layers)",
                            "results.mnist1d.lstm.test_accuracy",
                            reference="mnist1d_human",
                        ),
                        Headline(
                            "adding problem T=100, test MSE, SimpleRNN",
                            "results.adding.simple.100.test_mse",
                            reference="adding_baseline",
                        ),
                        Headline(
                            "adding problem T=100, test MSE, LSTM",
                            "results.adding.lstm.100.test_mse",
                            beside_label="GRU",
                            beside_path="results.adding.gru.100.test_mse",
                        ),
                    )
                ),
            ),
        ),
        Recipe(
            "transfer_learning",
            "Transfer learning",
            "weights copied layer by layer with set_weights: when transfer pays, and when it hurts",
            runs=(
                Run(headlines=_transfer_headlines("shift")),
                Run(
                    flags=("--scenario", "split"),
                    subdir="split",
                    headlines=_transfer_headlines("split"),
                ),
            ),
        ),
    )
}
