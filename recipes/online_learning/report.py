"""What an online_learning run reports besides its figures: the line printed for each seed, and the
headline numbers of the default runs, read from the results keys recipe.py writes."""

from __future__ import annotations

from common.harness import DefaultRun, Headline


def describe(record: dict) -> str:
    return f"accuracy {record['accuracy']:.4f}, {record['items_per_second']:,.0f} items/s"


DEFAULT_RUNS = (  # what `python -m recipes all` runs, and the README's numbers from them
    DefaultRun(
        headlines=(
            Headline(
                "Agrawal 0->2 prequential accuracy, Keras MLP, {mean_of_seeds}",
                "results.agrawal.keras_mlp.accuracy",
                beside_label="river LogisticRegression",
                beside_path="results.agrawal.river_lr.accuracy",
            ),
            Headline(
                "Phishing prequential accuracy, Keras MLP, {mean_of_seeds}",
                "results.phishing.keras_mlp.accuracy",
                beside_label="river LogisticRegression",
                beside_path="results.phishing.river_lr.accuracy",
            ),
            Headline(
                "Bananas prequential accuracy, Keras MLP, {mean_of_seeds}",
                "results.bananas.keras_mlp.accuracy",
                reference="river_bananas_lr",
            ),
            Headline(
                "SEA throughput, items/s, Keras MLP (train_on_batch), median of {seeds} runs",
                "results.sea.keras_mlp.items_per_second",
                beside_label="river ARF",
                beside_path="results.sea.river_arf.items_per_second",
            ),
            Headline(
                "SEA throughput, items/s, the same learner compiled (64 batches an XLA call)",
                "results.sea.keras_compiled.items_per_second",
                beside_label="its accuracy",
                beside_path="results.sea.keras_compiled.accuracy",
            ),
        )
    ),
    DefaultRun(  # what each part of the learner adds: --ablation writes results.ablation
        flags=("--ablation",),
        subdir="ablation",
        headlines=tuple(
            Headline(
                f"ablation (compiled learner): {stream} accuracy with {setting}, {{mean_of_seeds}}",
                f"results.ablation.{setting}.{stream.lower()}.accuracy",
                beside_label="default",
                beside_path=f"results.ablation.default.{stream.lower()}.accuracy",
            )
            for setting, stream in (
                ("--replay 0 --steps-per-batch 1", "Bananas"),
                ("--no-adapt", "Agrawal"),
            )
        ),
    ),
)
