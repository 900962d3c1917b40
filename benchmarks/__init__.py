"""Speed beside the peers the recipes' tables compare against: `python -m benchmarks`.

`BENCHMARKS` declares the ratios the README's results table shows (through `python -m recipes report`),
as a recipe declares its headline numbers."""

from common.harness import DefaultRun, Headline, Recipe


def _ratio(label: str, path: str, peer: str, peer_path: str) -> Headline:
    return Headline(label, path, beside_label=peer, beside_path=peer_path)


BENCHMARKS = Recipe(
    "benchmarks",
    "Benchmarks",
    "speed ratios beside river and scikit-learn (above 1: Keras faster)",
    package="",
    runs=(
        DefaultRun(
            headlines=(
                _ratio(
                    "SEA, Keras online learner items/s over river LR's, median of 5",
                    "results.online.sea.ratio",
                    "river LR items/s",
                    "results.online.sea.river_lr.items_per_second",
                ),
                _ratio(
                    "Agrawal, Keras online learner items/s over river LR's, median of 5",
                    "results.online.agrawal.ratio",
                    "river LR items/s",
                    "results.online.agrawal.river_lr.items_per_second",
                ),
                _ratio(
                    "SEA, the same learner through river's progressive_val_score (item by item), "
                    "items/s over the recipe loop's",
                    "results.river_interface.speed_ratio",
                    "its accuracy, mean of 5",
                    "results.river_interface.progressive_val_score.accuracy",
                ),
                _ratio(
                    "MLP training, Keras fit samples/s over MLPClassifier's, model compiled once, "
                    "median of 5",
                    "results.mlp.ratio",
                    "MLPClassifier samples/s",
                    "results.mlp.sklearn_mlp.samples_per_second",
                ),
                _ratio(
                    "the same, a new model each run (its time includes tracing the step)",
                    "results.mlp.keras_fit_epoch_call.ratio",
                    "MLPClassifier samples/s",
                    "results.mlp.sklearn_mlp.samples_per_second",
                ),
                _ratio(
                    "the same, a new model on NumPy arrays, one step per call",
                    "results.mlp.keras_fit.ratio",
                    "MLPClassifier samples/s",
                    "results.mlp.sklearn_mlp.samples_per_second",
                ),
            )
        ),
    ),
)
