"""Online learning: a Keras MLP learning test-then-train from drifting streams, beside river."""

from recipes.online_learning.learner import KerasOnlineClassifier, RunningScaler
from recipes.online_learning.prequential import recovery_samples
from recipes.online_learning.recipe import (
    ABLATION,
    RECIPE,
    TIMING_KEYS,
    build_parser,
    keras_loop,
    main,
    plain_model,
    plot,
    prequential,
    replay_loop,
    run,
)
from recipes.online_learning.streams import Stream, clean_records

__all__ = [
    "ABLATION",
    "RECIPE",
    "TIMING_KEYS",
    "KerasOnlineClassifier",
    "RunningScaler",
    "Stream",
    "build_parser",
    "clean_records",
    "keras_loop",
    "main",
    "plain_model",
    "plot",
    "prequential",
    "recovery_samples",
    "replay_loop",
    "run",
]
