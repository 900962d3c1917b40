"""SimpleRNN sequence model: SimpleRNN, GRU and LSTM on MNIST-1D and the adding problem."""

from recipes.rnn_sequence.models import recurrent_model, warmup_cosine
from recipes.rnn_sequence.recipe import (
    RECIPE,
    adding_problem,
    build_parser,
    check_expectations,
    gradient_through_time,
    load_sequences,
    main,
    plot,
    run,
)

__all__ = [
    "RECIPE",
    "adding_problem",
    "build_parser",
    "check_expectations",
    "gradient_through_time",
    "load_sequences",
    "main",
    "plot",
    "recurrent_model",
    "run",
    "warmup_cosine",
]
