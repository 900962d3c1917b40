"""What a run reports besides its figures: the line printed for each seed, and the headline numbers
of the default run, read from the results keys recipe.py writes."""

from __future__ import annotations

from common.harness import DefaultRun, Headline
from recipes.rnn_sequence.models import LABELS

# each cell's MNIST-1D accuracy is put beside the published number it should reach or pass
HEADLINE_REFERENCES = {"simple": "mnist1d_cnn", "gru": "mnist1d_gru", "lstm": "mnist1d_human"}


def describe_seed(record: dict) -> str:
    return (
        f"test accuracy {record['test_accuracy']:.4f} ({record['params']:,} parameters, "
        f"{record['seconds_per_epoch']:.2f} s/epoch)"
    )


DEFAULT_RUNS = (  # what `python -m recipes all` runs, and the README's numbers from it
    DefaultRun(
        headlines=(
            *(
                Headline(
                    f"{{dataset_name}} test accuracy, {LABELS[cell]} (2 bidirectional layers)",
                    f"results.mnist1d.{cell}.test_accuracy",
                    reference=reference,
                )
                for cell, reference in HEADLINE_REFERENCES.items()
            ),
            Headline(
                "adding problem T=100, test MSE, SimpleRNN",
                "results.adding.simple.100.test_mse",
                reference="adding_baseline",
            ),
            Headline(
                "adding problem T=100, test MSE, GRU",
                "results.adding.gru.100.test_mse",
                beside_label="LSTM (solves it on some seeds only)",
                beside_path="results.adding.lstm.100.test_mse",
            ),
        )
    ),
)
