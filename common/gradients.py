"""Gradients the recipes measure, not train with: the one place a Keras backend's own autodiff is
called (TensorFlow's GradientTape, jax.grad, PyTorch's autograd), one small branch per backend.

- `input_value(fn, x)`: fn(x) in x's precision (float64 on JAX too);
- `input_gradient(fn, x)`: the gradient of the scalar `fn(x)` with respect to the array `x`
  (an activation's derivative, the gradient of a loss through time at each input step);
- `weight_gradients(model, loss, x, y, variables)`: the gradient of `loss(y, model(x, training=
  True))` with respect to some of the model's trainable variables (each layer's kernel in depth).

`fn` and `loss` are written in Keras (`keras.ops`, `keras.losses`, a model): the same code on every
backend. Results come back as NumPy arrays.
"""

from __future__ import annotations

import numpy as np


def backend() -> str:
    import keras

    return keras.config.backend()


def input_value(fn, x) -> np.ndarray:
    """fn(x) for a function of Keras ops, at the NumPy array `x`, in x's precision (JAX computes in
    float32 unless asked), as NumPy."""
    import keras

    if backend() == "jax":
        import jax

        with jax.enable_x64(np.asarray(x).dtype == np.float64):
            return np.asarray(fn(jax.numpy.asarray(x)))
    return keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(x, str(np.asarray(x).dtype))))


def input_gradient(fn, x) -> np.ndarray:
    """d fn(x) / dx, for a scalar-valued `fn` of Keras ops, at the NumPy array `x`."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x)
        return tape.gradient(value, x).numpy()
    if name == "jax":  # in float64 where x is (JAX computes in float32 unless asked)
        import jax

        with jax.enable_x64(np.asarray(x).dtype == np.float64):
            return np.asarray(jax.grad(fn)(jax.numpy.asarray(x)))
    if name == "torch":
        import torch

        x = torch.tensor(np.asarray(x), requires_grad=True)
        fn(x).backward()
        return x.grad.detach().cpu().numpy()
    raise NotImplementedError(f"no gradients on the {name} backend")


def weight_gradients(model, loss, x, y, variables) -> list[np.ndarray]:
    """d loss(y, model(x, training=True)) / d v for each v of `variables` (trainable variables of
    `model`)."""
    name = backend()
    if name == "tensorflow":  # on one replica, under a distribution strategy of several
        import tensorflow as tf

        def gradients():
            with tf.GradientTape() as tape:
                value = loss(y, model(x, training=True))
            return tape.gradient(value, list(variables))

        strategy = tf.distribute.get_strategy()
        return [np.asarray(strategy.experimental_local_results(g)[0]) for g in strategy.run(gradients)]
    if name == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]

        def value(weights):
            predicted, _ = model.stateless_call(weights, frozen, x, training=True)
            return loss(y, predicted)

        grads = jax.grad(value)(trainable)
        index = {id(v): i for i, v in enumerate(model.trainable_variables)}
        return [np.asarray(grads[index[id(v)]]) for v in variables]
    if name == "torch":
        for v in model.trainable_variables:
            v.value.grad = None
        loss(y, model(x, training=True)).backward()
        return [v.value.grad.detach().cpu().numpy() for v in variables]
    raise NotImplementedError(f"no gradients on the {name} backend")
