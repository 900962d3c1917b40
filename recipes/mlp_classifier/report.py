"""What an mlp_classifier run reports besides its figures: the line printed for each seed, and the
headline numbers of the default run, read from the results keys recipe.py writes."""

from __future__ import annotations

from common.harness import DefaultRun, Headline


def describe_seed(record: dict) -> str:
    return (
        f"test accuracy {record['test_accuracy']:.4f} after {record['epochs']} epochs, "
        f"{record['train_seconds']:.1f} s"
    )


DEFAULT_RUNS = (  # what `python -m recipes all` runs, and the README's numbers from it
    DefaultRun(
        headlines=(
            Headline(
                "{dataset} test accuracy, {mean_of_seeds}",
                "results.test_accuracy",
                reference="digits_svc",
            ),
            Headline(
                "scikit-learn MLPClassifier, same split",
                "results.baselines.sklearn_mlp.test_accuracy",
            ),
        )
    ),
)
