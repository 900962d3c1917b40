"""How far back the gradient reaches: the norm of d(loss)/d(x_t) for every input step t."""

from __future__ import annotations

import numpy as np


def gradient_through_time(model, x: np.ndarray, y: np.ndarray, loss=None) -> list[float]:
    """For each step t, the norm of d(loss)/d(x_t), the loss (default: cross-entropy) averaged over
    the sequences in `x`."""
    import keras
    import tensorflow as tf

    loss = loss or keras.losses.SparseCategoricalCrossentropy()
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(y, model(x, training=False))
    gradient = tape.gradient(value, x)  # (sequences, steps, features)
    return [float(v) for v in tf.norm(gradient, axis=(0, 2)).numpy()]
