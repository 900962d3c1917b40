"""From-scratch NumPy: activations with their derivatives, and an MLP trained by backpropagation.

This is the piece the original tutorial got wrong: in backprop the activation's derivative must be
taken at the layer's *pre-activation* z (the input of f), and multiplied elementwise into the gradient
flowing back, dL/dz = dL/da * f'(z). tests/test_numpy_reference.py checks every gradient here against
TensorFlow's autodiff on the same float64 weights.
"""

from __future__ import annotations

import numpy as np

# -- activations: f(x) and f'(x) in closed form ------------------------------------------------------
# At a kink we follow what TensorFlow's autodiff returns, so the closed forms agree with it on a grid
# through 0: relu'(0) = 0 and leaky_relu'(0) = slope (the left side), selu'(0) = scale (the right side);
# elu is smooth enough there that both sides give 1.

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
LEAKY_SLOPE = 0.2  # keras.activations.leaky_relu's default negative_slope


def _sigmoid(x):
    from scipy.special import expit

    return expit(x)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _erf(x):
    from scipy.special import erf

    return erf(x)


ACTIVATIONS = {
    "linear": (lambda x: x, lambda x: np.ones_like(x)),
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(x.dtype)),
    "leaky_relu": (
        lambda x: np.where(x > 0, x, LEAKY_SLOPE * x),
        lambda x: np.where(x > 0, 1.0, LEAKY_SLOPE).astype(x.dtype),
    ),
    "elu": (
        lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
        lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))).astype(x.dtype),
    ),
    "selu": (
        lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
        lambda x: SELU_SCALE * np.where(x >= 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0))),
    ),
    "gelu": (
        lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
        lambda x: 0.5 * (1 + _erf(x / np.sqrt(2))) + x * np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi),
    ),
    "silu": (
        lambda x: x * _sigmoid(x),
        lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x))),
    ),
    "softplus": (_softplus, _sigmoid),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2),
    "mish": (
        lambda x: x * np.tanh(_softplus(x)),
        lambda x: np.tanh(_softplus(x)) + x * _sigmoid(x) * (1 - np.tanh(_softplus(x)) ** 2),
    ),
}


def activation(name: str, x):
    return ACTIVATIONS[name][0](np.asarray(x, dtype=float))


def derivative(name: str, x):
    return ACTIVATIONS[name][1](np.asarray(x, dtype=float))


# -- softmax cross-entropy -----------------------------------------------------------------------------


def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def cross_entropy(logits, y) -> float:
    """Mean sparse categorical cross-entropy of integer labels `y`, computed stably from logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


# -- the MLP -------------------------------------------------------------------------------------------


class NumpyMLP:
    """A dense network `sizes[0] -> ... -> sizes[-1]` with `activation` between layers and a softmax
    output, trained with mini-batch Adam on the cross-entropy."""

    def __init__(self, sizes, activation: str = "relu", seed: int = 0, dtype=np.float64):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        self.activation = activation
        rng = np.random.default_rng(seed)
        self.params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            # He init for the ReLU family keeps the forward signal's variance; Glorot otherwise.
            scale = np.sqrt(2.0 / fan_in) if "relu" in activation else np.sqrt(2.0 / (fan_in + fan_out))
            self.params.append(
                [rng.normal(0.0, scale, (fan_in, fan_out)).astype(dtype), np.zeros(fan_out, dtype)]
            )

    def forward(self, x):
        """Logits, plus the cache backprop needs: each layer's input `a` and pre-activation `z`."""
        f = ACTIVATIONS[self.activation][0]
        a, cache = x, []
        for i, (w, b) in enumerate(self.params):
            z = a @ w + b
            cache.append((a, z))
            a = z if i == len(self.params) - 1 else f(z)
        return a, cache

    def gradients(self, x, y):
        """Loss and [(dL/dW, dL/db), ...] for the mean cross-entropy over the batch."""
        df = ACTIVATIONS[self.activation][1]
        logits, cache = self.forward(x)
        loss = cross_entropy(logits, y)
        dz = softmax(logits)
        dz[np.arange(len(y)), y] -= 1.0
        dz /= len(y)  # dL/dlogits for the mean loss
        grads = []
        for i in range(len(self.params) - 1, -1, -1):
            a_prev, _ = cache[i]
            w = self.params[i][0]
            grads.append((a_prev.T @ dz, dz.sum(axis=0)))
            if i > 0:
                # the derivative is taken at z of the layer below (its pre-activation), not at a
                dz = (dz @ w.T) * df(cache[i - 1][1])
        return loss, grads[::-1]

    def fit(self, x, y, epochs=50, batch_size=32, lr=1e-3, seed=0):
        """Mini-batch Adam; returns the per-epoch training loss."""
        rng = np.random.default_rng(seed)
        m = [[np.zeros_like(p) for p in layer] for layer in self.params]
        v = [[np.zeros_like(p) for p in layer] for layer in self.params]
        beta1, beta2, eps, step, losses = 0.9, 0.999, 1e-8, 0, []
        for _ in range(epochs):
            order, total = rng.permutation(len(x)), 0.0
            for start in range(0, len(x), batch_size):
                batch = order[start : start + batch_size]
                loss, grads = self.gradients(x[batch], y[batch])
                total += loss * len(batch)
                step += 1
                for layer, grad_pair in enumerate(grads):
                    for k, g in enumerate(grad_pair):
                        m[layer][k] = beta1 * m[layer][k] + (1 - beta1) * g
                        v[layer][k] = beta2 * v[layer][k] + (1 - beta2) * g * g
                        m_hat = m[layer][k] / (1 - beta1**step)
                        v_hat = v[layer][k] / (1 - beta2**step)
                        self.params[layer][k] -= lr * m_hat / (np.sqrt(v_hat) + eps)
            losses.append(total / len(x))
        return losses

    def predict(self, x):
        return self.forward(x)[0].argmax(axis=1)
