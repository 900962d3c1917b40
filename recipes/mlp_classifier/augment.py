"""More views of each training example: the eight one-pixel shifts of a small image set (the "nudge"
of scikit-learn's RBM example); the layer that shifts every example at random in every epoch is
common/augment.py's, which the activations recipe uses too."""

from __future__ import annotations

import numpy as np

from common.data import Split

NUDGE_LIMIT = 5000  # expand with pixel shifts only for small image sets; MNIST gets random shifts


def shiftable(split: Split) -> bool:
    """Images and signals can be shifted; a table's columns cannot."""
    return bool(split.image_shape or split.signal_length)


def nudge(x, y, shape):
    """The training images plus their eight one-pixel shifts (zero fill): nine times the data."""
    images = x.reshape(-1, *shape)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    h, w = shape
    views = [
        padded[:, 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    ]
    return np.concatenate(views).reshape(-1, h * w).astype(np.float32), np.tile(y, len(views))


def training_data(split: Split, augment: bool):
    """The training examples a model fits: nudged for a small image set, as they are otherwise."""
    if augment and split.image_shape and len(split.x_train) <= NUDGE_LIMIT:
        return nudge(split.x_train, split.y_train, split.image_shape)
    return split.x_train, split.y_train
