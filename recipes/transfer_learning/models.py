"""The network, and moving weights from one network into another layer by layer."""

from __future__ import annotations

from common.distribute import steps_per_execution

BLOCKS = 4  # feature blocks: three convolutions and one dense layer, each with BatchNormalization
STEPS_PER_EXECUTION = 50  # gradient steps per call into TensorFlow: tiny models, little Python overhead


class TransferError(ValueError):
    """Weights that do not fit the model they are copied into; the message names every bad layer."""


def architecture_for(dataset: str, num_classes: int) -> dict:
    """A small convolutional network: 1D over MNIST-1D sequences, 2D over 8x8 digit images."""
    if dataset == "mnist1d":
        return {"kind": "conv1d", "input": [40], "shape": [40, 1], "scale": 1.0,
                "filters": [32, 32, 32], "kernel": 5, "dense": 64, "classes": num_classes}  # fmt: skip
    return {"kind": "conv2d", "input": [64], "shape": [8, 8, 1], "scale": 1 / 16,
            "filters": [16, 32, 32], "kernel": 3, "dense": 64, "classes": num_classes}  # fmt: skip


def block_layer_names(block: int) -> list[str]:
    """The layers with weights in feature block `block` (1-based): the conv or dense, its BatchNorm."""
    return [f"block_{block}", f"block_{block}_bn"]


def weighted_layer_names(model) -> list[str]:
    return [layer.name for layer in model.layers if layer.weights]


def build_model(arch: dict, frozen_blocks: int = 0, inference_blocks: int = 0):
    """Input -> [conv -> BatchNorm -> ReLU] x 3 -> Flatten -> [dense -> BatchNorm -> ReLU] -> head.

    The first `frozen_blocks` blocks get `trainable=False`. The BatchNorm of the first
    `inference_blocks` blocks gets `trainable=False` too, which in Keras 3 means it runs in inference
    mode: it keeps the statistics it was given (the source's) even while its block is fine-tuned.
    (Calling it with `training=False` is not enough in a Keras 3 functional model: `fit` passes
    `training=True` down to every layer and overrides it; tests/test_transfer_learning.py checks this.)
    """
    import keras

    conv = keras.layers.Conv1D if arch["kind"] == "conv1d" else keras.layers.Conv2D
    inputs = keras.Input(tuple(arch["input"]), name="inputs")
    x = keras.layers.Reshape(tuple(arch["shape"]), name="reshape")(inputs)
    x = keras.layers.Rescaling(arch["scale"], name="scale")(x)
    # BatchNorm momentum 0.9, not 0.99: with ~60 steps an epoch the slow default leaves the moving
    # statistics unsettled for several epochs, and early stopping then keeps a poor first epoch
    for i, filters in enumerate(arch["filters"], start=1):
        x = conv(filters, arch["kernel"], strides=1 if i == 1 else 2, padding="same",
                 use_bias=False, name=f"block_{i}")(x)  # fmt: skip
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"block_{i}_bn")(x)
        x = keras.layers.ReLU(name=f"block_{i}_relu")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    i = len(arch["filters"]) + 1
    x = keras.layers.Dense(arch["dense"], use_bias=False, name=f"block_{i}")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"block_{i}_bn")(x)
    x = keras.layers.ReLU(name=f"block_{i}_relu")(x)
    outputs = keras.layers.Dense(arch["classes"], activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name=f"{arch['kind']}_net")
    for block in range(1, frozen_blocks + 1):
        for name in block_layer_names(block):
            model.get_layer(name).trainable = False
    for block in range(1, inference_blocks + 1):
        model.get_layer(f"block_{block}_bn").trainable = False
    return model


def compile_model(model, learning_rate: float):
    """Compile (again) after changing `trainable`: Keras reads the flags when it compiles."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution(STEPS_PER_EXECUTION),
    )
    return model


def copy_weights(source, target, names: list[str]) -> list[str]:
    """Copy layer `name`'s weights from `source` to `target` for each name, with get/set_weights.

    All or nothing: every layer is checked first, and a TransferError names each missing layer and
    each shape mismatch (source and target shapes) before a single weight is written.
    """
    problems, pairs = [], []
    for name in names:
        layers = []
        for role, model in (("source", source), ("target", target)):
            try:
                layers.append(model.get_layer(name))
            except ValueError:
                problems.append(f"layer {name!r} is not in the {role} model")
        if len(layers) < 2:
            continue
        weights = layers[0].get_weights()
        have = [tuple(w.shape) for w in weights]
        want = [tuple(w.shape) for w in layers[1].get_weights()]
        if have != want:
            problems.append(f"layer {name!r}: source shapes {have} vs target shapes {want}")
        else:
            pairs.append((layers[1], weights))
    if problems:
        raise TransferError("cannot copy weights: " + "; ".join(problems))
    for layer, weights in pairs:
        layer.set_weights(weights)
    return [layer.name for layer, _ in pairs]


def transfer(source, arch: dict, blocks: int, copy_head: bool = False, freeze: bool = True):
    """The target model, with the source's first `blocks` feature blocks copied layer by layer.

    Copied blocks are frozen when `freeze`, and their BatchNorm runs in inference mode either way; the
    other blocks keep their fresh initialisation. The head is copied too when `copy_head` (only
    meaningful when source and target share a label set). Returns (model, names of copied layers).
    """
    target = build_model(arch, frozen_blocks=blocks if freeze else 0, inference_blocks=blocks)
    names = [name for block in range(1, blocks + 1) for name in block_layer_names(block)]
    copied = copy_weights(source, target, names + (["head"] if copy_head else []))
    return target, copied
