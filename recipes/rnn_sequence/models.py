"""One model function for every recurrent cell, and the learning-rate schedule."""

from __future__ import annotations

from common.augment import random_shift_layer

CELLS = ("simple", "gru", "lstm")
LABELS = {"simple": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}


def recurrent_model(
    cell: str,
    steps: int,
    features: int,
    outputs: int,
    *,
    units: int,
    layers: int = 1,
    bidirectional: bool = False,
    all_steps: bool = False,
    shift: int = 0,
    seed: int = 0,
    name: str | None = None,
):
    """(steps, features) -> [random shift] -> recurrent layers -> (pool over all steps | last step)
    -> Dense.

    GRU and LSTM keep the defaults that let TensorFlow use cuDNN on a GPU: tanh and sigmoid, no
    recurrent dropout, no unrolling. `outputs` > 1 gives a softmax classifier, 1 a linear regressor.
    """
    import keras

    layer_class = {"simple": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
    inputs = keras.Input((steps, features), name="sequence")
    x = inputs
    if shift:  # random shifts of up to `shift` steps, training only; edges repeat the end values
        x = random_shift_layer()((shift,), "nearest", seed=seed, name="shift")(x)
    for i in range(layers):
        last = i == layers - 1
        rnn = layer_class[cell](units, return_sequences=all_steps or not last, name=f"{cell}_{i + 1}")
        x = (
            keras.layers.Bidirectional(rnn, name=f"bidirectional_{i + 1}")(x)
            if bidirectional
            else rnn(x)
        )
    if all_steps:
        x = keras.layers.Concatenate(name="pool")(
            [keras.layers.GlobalAveragePooling1D()(x), keras.layers.GlobalMaxPooling1D()(x)]
        )
    activation = "softmax" if outputs > 1 else None
    prediction = keras.layers.Dense(outputs, activation=activation, name="output")(x)
    return keras.Model(inputs, prediction, name=name or f"{cell}_model")


def warmup_cosine(peak: float, total_steps: int):
    """Linear warm-up over the first 5% of steps to `peak`, then cosine decay to 1% of it."""
    import keras

    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(1, total_steps),
        alpha=0.01,
        warmup_target=peak,
        warmup_steps=max(1, total_steps // 20),
    )
