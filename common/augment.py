"""Random shifts as augmentation: a layer inside the model, active in training only, so a saved model
takes the unshifted inputs as they are.

`RandomShift` moves each training example by a whole number of steps drawn at random along its
leading axes (an image's rows and columns, a signal's or a sequence's steps), filling what is
uncovered with 0 (`fill="constant"`: an image's background) or the nearest value (`"nearest"`: a
signal's end repeated). It is written in `keras.ops` and `keras.random` alone: it compiles (XLA,
jit) on TensorFlow, JAX and PyTorch, where Keras's RandomTranslation, an image op, does not (Keras
3.15 marks it `supports_jit = False`, and a model holding it trains eagerly, 14x slower on JAX).
Its random state is a `keras.random.SeedGenerator`, a variable of the model: a resumed fit draws
the shifts an uninterrupted one would.
"""

from __future__ import annotations

SIGNAL_SHIFT = 0.1  # MNIST-1D: random shifts of up to 10% of the length (4 of 40 steps)
_LAYER = None  # the layer class, made (and registered for loading) on first use


def random_shift_layer():
    """The `RandomShift` layer class (Keras is imported, and the class registered, only then)."""
    global _LAYER
    if _LAYER is not None:
        return _LAYER
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="recipes")
    class RandomShift(keras.layers.Layer):
        """Shift each example, in training, by up to `shifts[a]` whole steps along axis a + 1."""

        def __init__(self, shifts, fill="constant", seed=None, **kwargs):
            super().__init__(**kwargs)
            if fill not in ("constant", "nearest"):
                raise ValueError(f"fill must be 'constant' or 'nearest', not {fill!r}")
            self.shifts, self.fill, self.seed = tuple(int(s) for s in shifts), fill, seed
            self.generator = keras.random.SeedGenerator(seed)
            self.supports_masking = True

        def call(self, inputs, training=False):
            if not training:
                return inputs
            x = inputs
            for axis, most in enumerate(self.shifts, start=1):
                if not most:
                    continue
                size = x.shape[axis]
                shift = keras.random.randint((ops.shape(x)[0],), -most, most + 1, seed=self.generator)
                # per example, the position each position reads from: itself less the shift
                source = ops.arange(size)[None, :] - shift[:, None]
                view = [-1] + [1] * (len(x.shape) - 1)  # (batch, size) placed on `axis`
                view[axis] = size
                index = ops.broadcast_to(ops.reshape(ops.clip(source, 0, size - 1), view), ops.shape(x))
                x = ops.take_along_axis(x, index, axis=axis)  # "nearest": the end value repeated
                if self.fill == "constant":  # what the shift uncovered: 0
                    inside = ops.logical_and(source >= 0, source < size)
                    x = x * ops.reshape(ops.cast(inside, x.dtype), view)
            return x

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {**super().get_config(), "shifts": self.shifts, "fill": self.fill, "seed": self.seed}

    _LAYER = RandomShift
    return _LAYER


def random_shift(image_shape=None, signal_length=None):
    """A layer that shifts each training example (an image of `image_shape` read as a flat vector,
    or a signal of `signal_length` steps) at random, inactive at inference; None for neither."""
    import keras

    shift = random_shift_layer()
    if image_shape:  # one pixel at most, the uncovered border filled with 0 (the background)
        h, w = image_shape
        layers = [keras.layers.Reshape((h, w)), shift((1, 1), "constant"), keras.layers.Flatten()]
    elif signal_length:  # along the signal only; the end value is repeated into the gap
        layers = [shift((round(SIGNAL_SHIFT * signal_length),), "nearest")]
    else:
        return None
    return keras.Sequential(layers, name="augment")
