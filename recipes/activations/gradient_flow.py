"""Gradient flow in a deep net: each hidden kernel's gradient norm at initialisation and after one
epoch, and the hidden units that are dead or saturated."""

from __future__ import annotations

import numpy as np

from common.data import Split
from common.gradients import weight_gradients
from common.numpy_reference import activation, derivative

SATURATED_SLOPE = 0.01


def kernel_grad_norms(model, x, y) -> list[float]:
    """The norm of the loss gradient for each hidden kernel (input side first, output layer excluded),
    on all of (x, y): computed on one replica under a distribution strategy."""
    import keras

    kernels = [layer.kernel for layer in model.layers if layer.name.startswith("dense_")]
    loss = keras.losses.SparseCategoricalCrossentropy()
    return [float(np.linalg.norm(g)) for g in weight_gradients(model, loss, x, y, kernels)]


def unit_health(model, x, name: str) -> tuple[float, float]:
    """Fractions of hidden units that are dead (output 0 on every input) and saturated
    (|f'(z)| < 0.01 on more than half of the inputs), over all hidden layers."""
    import keras

    dense = [layer.output for layer in model.layers if layer.name.startswith("dense_")]
    zs = keras.Model(model.input, dense)(x)
    z = np.concatenate([keras.ops.convert_to_numpy(v) for v in zs], axis=1).astype(np.float64)
    dead = np.all(activation(name, z) == 0, axis=0).mean()
    saturated = (np.mean(np.abs(derivative(name, z)) < SATURATED_SLOPE, axis=0) > 0.5).mean()
    return float(dead), float(saturated)


def at_initialisation(glorot, model, split: Split) -> dict:
    """A deep net before training: each hidden kernel's gradient norm with Glorot's initialiser
    (`glorot`) and with the run's (`model`), and the run's dead and saturated units."""
    name = model.name.removeprefix("mlp_")  # the activation (recipe.build_mlp names the net)
    dead, saturated = unit_health(model, split.x_val, name)
    return {
        "init_glorot": kernel_grad_norms(glorot, split.x_train, split.y_train),
        "init": kernel_grad_norms(model, split.x_train, split.y_train),
        "dead_fraction_init": dead,
        "saturated_fraction_init": saturated,
    }


def after_one_epoch(model, split: Split, before: dict, init: str) -> dict:
    """The same net after its first epoch, beside `before` (at_initialisation): its record."""
    name = model.name.removeprefix("mlp_")
    after = kernel_grad_norms(model, split.x_train, split.y_train)
    dead, saturated = unit_health(model, split.x_val, name)
    norms = {"init": before["init"], "epoch1": after, "init_glorot": before["init_glorot"]}
    result = {
        "initializer": init,
        "layer_grad_norms": norms,
        "dead_fraction": dead,
        "saturated_fraction": saturated,
        "dead_fraction_init": before["dead_fraction_init"],
        "saturated_fraction_init": before["saturated_fraction_init"],
    }
    glorot = norms["init_glorot"]
    print(
        f"  {name:11s} first/last layer gradient norm at init (Glorot) {glorot[0] / glorot[-1]:.2e}; "
        f"after 1 epoch dead {dead:.2f}, saturated {saturated:.2f}",
        flush=True,
    )
    return result


def first_over_last(flow: dict) -> dict:
    """Each activation's first-layer gradient norm over its last hidden layer's, at Glorot init."""
    return {
        name: r["layer_grad_norms"]["init_glorot"][0] / r["layer_grad_norms"]["init_glorot"][-1]
        for name, r in flow.items()
    }
