"""The mlp_classifier recipe's own data sets, beside the shared ones of common/data.py (digits,
MNIST-1D, a user's table):

- `mnist`, `fashion_mnist`: `keras.datasets`, downloaded on first use; offline, a clear message says
  what to fetch and where to put it.
- `xor`: the four-point toy of the original tutorials.
- `csv:PATH` with a target column: a user's own table, in a stratified 60/20/20 split.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common.data import Split, carve_validation, load_csv_table, user_split
from common.errors import UsageError

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def keras_dataset_files(name: str) -> tuple[Path, list[str]]:
    """Where keras.datasets caches `name`, and the files it needs there."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    if name == "mnist":
        return home / "datasets", ["mnist.npz"]
    if name == "fashion_mnist":
        return home / "datasets" / "fashion-mnist", [
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        ]
    raise ValueError(f"not a keras.datasets image set: {name}")


def load_keras_images(name: str, val_fraction: float = 0.1, seed: int = 0) -> Split:
    """MNIST or Fashion-MNIST through keras.datasets (downloads on first use)."""
    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:  # network down, proxy, truncated file, bad hash
        folder, files = keras_dataset_files(name)
        urls = " ".join(KERAS_ORIGIN + f for f in files)
        raise UsageError(
            f"could not load {name} ({type(error).__name__}: {error}). This machine seems offline: "
            f"download {urls} and place {'them' if len(files) > 1 else 'it'} in {folder}/ "
            "(or use the offline data sets digits or mnist1d)"
        ) from None
    x_train = x_train.reshape(len(x_train), -1).astype(np.float32)
    x_test = x_test.reshape(len(x_test), -1).astype(np.float32)
    x_tr, y_tr, x_val, y_val = carve_validation(x_train, y_train.astype(np.int64), val_fraction, seed)
    names = [str(d) for d in range(10)]
    if name == "fashion_mnist":
        names = "T-shirt Trouser Pullover Dress Coat Sandal Shirt Bag Sneaker Boot".split()
    return Split(
        name, x_tr, y_tr, x_val, y_val, x_test, y_test.astype(np.int64), names, image_shape=(28, 28)
    )


def load_xor() -> Split:
    """The four XOR points; train, validation and test are the same four (it is a toy)."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return Split("xor", x, y, x, y, x, y, ["0", "1"])


def load_csv_split(spec: str, target: str | None, seed: int = 0) -> Split:
    """`csv:PATH`: a stratified 60/20/20 train / validation / test split of a user's table."""
    x, y, class_names, features, columns = load_csv_table(spec[len("csv:") :], target)
    info = {"feature_names": features, "columns": columns}
    return user_split("csv", spec, x, y, class_names, seed, **info)
