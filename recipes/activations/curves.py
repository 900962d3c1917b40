"""Each activation's f and f' on a grid, by autodiff on the Keras activation, and how far they are
from the NumPy closed forms of `common/numpy_reference.py`."""

from __future__ import annotations

import numpy as np

from common.numpy_reference import activation, derivative


def activation_curves(names) -> tuple[np.ndarray, dict, dict]:
    """f and f' on [-5, 5] from the Keras activation and GradientTape; max deviation from NumPy."""
    import keras
    import tensorflow as tf

    grid = np.linspace(-5, 5, 1001)
    x = tf.constant(grid, dtype=tf.float64)
    curves, deviation = {}, {}
    for name in names:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = keras.activations.get(name)(x)
        f, df = y.numpy(), tape.gradient(y, x).numpy()
        curves[name] = np.stack([f, df])
        deviation[name] = {
            "f": float(np.abs(f - activation(name, grid)).max()),
            "df": float(np.abs(df - derivative(name, grid)).max()),
        }
    return grid, curves, deviation
