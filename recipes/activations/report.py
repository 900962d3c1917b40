"""The headline numbers of the default run, read from the results keys recipe.py writes."""

from __future__ import annotations

from common.harness import DefaultRun, Headline

SUMMARY = "twelve activations: f and f', the same MLP trained with each, gradient flow in depth"
UNREGULARISED = ("--no-regularise", "--epochs", "30", "--batch-size", "64", "--learning-rate", "3e-3")
DEFAULT_RUNS = (  # what `python -m recipes all` runs, and the README's numbers from it
    DefaultRun(
        headlines=(
            Headline(
                "MNIST-1D test accuracy, ReLU {layers}x{units}, {mean_of_seeds}",
                "results.mnist1d.relu.test_accuracy",
                reference="mnist1d_mlp",
            ),
            Headline(
                "MNIST-1D test accuracy, linear {layers}x{units} (a linear model)",
                "results.mnist1d.linear.test_accuracy",
                reference="mnist1d_logistic",
            ),
            Headline(
                "MNIST-1D test accuracy, sigmoid {layers}x{units}",
                "results.mnist1d.sigmoid.test_accuracy",
                beside_label="tanh",
                beside_path="results.mnist1d.tanh.test_accuracy",
            ),
        )
    ),
    DefaultRun(  # today's training without shifts, schedule or early stopping: what they buy
        flags=UNREGULARISED,
        subdir="unregularised",
        headlines=(
            Headline(
                "unregularised: MNIST-1D test accuracy, ReLU {layers}x{units}, {mean_of_seeds}",
                "results.mnist1d.relu.test_accuracy",
                reference="mnist1d_mlp",
            ),
            Headline(
                "unregularised: MNIST-1D test accuracy, Mish {layers}x{units}",
                "results.mnist1d.mish.test_accuracy",
                beside_label="final training loss",
                beside_path="results.mnist1d.mish.final_train_loss",
            ),
        ),
    ),
)
