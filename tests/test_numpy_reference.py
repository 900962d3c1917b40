"""The from-scratch NumPy pieces agree with Keras and TensorFlow's autodiff."""

from __future__ import annotations

import numpy as np
import pytest

from common import numpy_reference as ref

HIDDEN_ACTIVATIONS = ("relu", "sigmoid", "tanh")


def tf_gradients(params, activation, x, y):
    """Loss and gradients of the same network, written with TensorFlow ops, by GradientTape."""
    import tensorflow as tf

    variables = [[tf.Variable(w), tf.Variable(b)] for w, b in params]
    f = {"relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh}[activation]
    with tf.GradientTape() as tape:
        a = tf.constant(x)
        for i, (w, b) in enumerate(variables):
            z = a @ w + b
            a = z if i == len(variables) - 1 else f(z)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, a))
    flat = [v for pair in variables for v in pair]
    return float(loss), [g.numpy() for g in tape.gradient(loss, flat)]


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_backprop_matches_gradient_tape_in_float64(activation):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 7))
    y = rng.integers(0, 4, size=16)
    mlp = ref.NumpyMLP([7, 12, 9, 4], activation=activation, seed=1)
    loss, grads = mlp.gradients(x, y)
    tf_loss, tf_grads = tf_gradients(mlp.params, activation, x, y)
    assert abs(loss - tf_loss) < 1e-12
    ours = [g for pair in grads for g in pair]
    for mine, theirs in zip(ours, tf_grads, strict=True):
        relative = np.linalg.norm(mine - theirs) / np.linalg.norm(theirs)
        assert relative < 1e-7, relative


def test_derivative_at_the_wrong_tensor_is_caught():
    """The original tutorial's bug (f' applied to the activation a, not to z) is off by far more."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 7)), rng.integers(0, 4, size=16)
    mlp = ref.NumpyMLP([7, 12, 4], activation="sigmoid", seed=1)
    _, tf_grads = tf_gradients(mlp.params, "sigmoid", x, y)
    logits, cache = mlp.forward(x)
    dz = ref.softmax(logits)
    dz[np.arange(16), y] -= 1
    dz /= 16
    wrong = (dz @ mlp.params[1][0].T) * ref.derivative("sigmoid", ref.activation("sigmoid", cache[0][1]))
    wrong_dw = cache[0][0].T @ wrong
    assert np.linalg.norm(wrong_dw - tf_grads[0]) / np.linalg.norm(tf_grads[0]) > 1e-2


def test_numpy_mlp_learns_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    mlp = ref.NumpyMLP([2, 16, 2], activation="tanh", seed=0)
    losses = mlp.fit(x, y, epochs=300, batch_size=4, lr=0.05)
    assert losses[-1] < 0.05 < losses[0]
    np.testing.assert_array_equal(mlp.predict(x), y)


@pytest.mark.parametrize("name", list(ref.ACTIVATIONS))
def test_closed_forms_match_keras_and_autodiff(name):
    """On the backend the suite runs on: its activation and its autodiff (common/gradients.py)."""
    import keras

    from common.gradients import input_gradient, input_value

    grid = np.concatenate([np.linspace(-5, 5, 2001), [0.0, 1e-7, -1e-7]])
    keras_fn = keras.activations.get(name)
    y = input_value(keras_fn, grid)
    autodiff = input_gradient(lambda x: keras.ops.sum(keras_fn(x)), grid)
    np.testing.assert_allclose(ref.activation(name, grid), y, atol=1e-6, rtol=0)
    # at a kink, autodiff takes one of the two one-sided slopes (TensorFlow the right, JAX the left)
    zero = grid == 0
    sides = ref.derivative(name, np.array([1e-12, -1e-12]))
    assert all(np.abs(sides - slope).min() < 1e-6 for slope in autodiff[zero]), autodiff[zero]
    grid, autodiff = grid[~zero], autodiff[~zero]
    np.testing.assert_allclose(ref.derivative(name, grid), autodiff, atol=1e-6, rtol=0)
