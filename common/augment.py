"""Random shifts as augmentation, for the MLPs that read images or signals as flat vectors: a layer
inside the model, active in training only, so a saved model takes the unshifted inputs as they are."""

from __future__ import annotations

SIGNAL_SHIFT = 0.1  # MNIST-1D: random shifts of up to 10% of the length (4 of 40 steps)


def random_shift(image_shape=None, signal_length=None):
    """A layer that shifts each training example (an image of `image_shape`, or a signal of
    `signal_length` steps) at random, inactive at inference; None for neither."""
    import keras

    if image_shape:  # one pixel at most, empty border filled with 0 (the background)
        h, w = image_shape
        shape, factors, fill = (h, w, 1), (1 / h, 1 / w), "constant"
    elif signal_length:  # along the signal only; the end value is repeated into the gap
        h, w = 1, signal_length
        shape, factors, fill = (h, w, 1), (0.0, SIGNAL_SHIFT), "nearest"
    else:
        return None
    # nearest sampling: whole-step shifts, new views of the same example, never a blurred one
    translate = keras.layers.RandomTranslation(
        *factors, fill_mode=fill, interpolation="nearest", name="random_shift"
    )
    return keras.Sequential(
        [keras.layers.Reshape(shape), translate, keras.layers.Flatten()], name="augment"
    )
