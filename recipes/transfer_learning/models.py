"""The network's shape (one architecture per data set: four feature blocks and a head), the names of
its layers, its compile settings, the gradient steps of a target training, and the check that one
network's weights fit another's; recipe.py builds the network (`build_model`) and copies weights
between two (`copy_weights`)."""

from __future__ import annotations

import math

from common.distribute import global_batch, steps_per_execution
from recipes.transfer_learning.tasks import NUM_CLASSES

BLOCKS = 4  # feature blocks: three convolutions and one dense layer, each with BatchNormalization
STEPS_PER_EXECUTION = 50  # gradient steps per call into TensorFlow: tiny models, little Python overhead


class TransferError(ValueError):
    """Weights that do not fit the model they are copied into; the message names every bad layer."""


def architecture_for(dataset: str, num_classes: int) -> dict:
    """A small convolutional network: 1D over MNIST-1D sequences, 2D over 8x8 digit images."""
    if dataset == "mnist1d":
        return {
            "kind": "conv1d",
            "input": [40],
            "shape": [40, 1],
            "scale": 1.0,
            "filters": [32, 32, 32],
            "kernel": 5,
            "dense": 64,
            "classes": num_classes,
        }
    return {
        "kind": "conv2d",
        "input": [64],
        "shape": [8, 8, 1],
        "scale": 1 / 16,
        "filters": [16, 32, 32],
        "kernel": 3,
        "dense": 64,
        "classes": num_classes,
    }


def source_architecture(args) -> dict:
    """The run's source network: its data set's, with a head for the source task's classes."""
    classes = NUM_CLASSES if args.scenario == "shift" else len(args.source_classes)
    return architecture_for(args.dataset, classes)


def block_layer_names(block: int) -> list[str]:
    """The layers with weights in feature block `block` (1-based): the conv or dense, its BatchNorm."""
    return [f"block_{block}", f"block_{block}_bn"]


def feature_layers(blocks: int) -> list[str]:
    """The layers with weights of the first `blocks` feature blocks: what a transfer copies."""
    return [name for block in range(1, blocks + 1) for name in block_layer_names(block)]


def compile_model(model, learning_rate: float, steps: int = STEPS_PER_EXECUTION):
    """Compile (again) after changing `trainable`: Keras reads the flags when it compiles. Adam,
    `steps` gradient steps per call into TensorFlow."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution(steps),
    )
    return model


def target_steps(n: int, args) -> int:
    """Gradient steps of one target training on n examples: at least --target-steps and
    --target-epochs passes, rounded up to whole executions."""
    passes = math.ceil(args.target_epochs * n / min(global_batch(args.batch_size), n))
    steps = max(args.target_steps, passes)
    return STEPS_PER_EXECUTION * math.ceil(steps / STEPS_PER_EXECUTION)


def matching_layers(source, target, names: list[str]) -> list[tuple]:
    """(source layer, target layer) for each name, when every named layer is in both models with
    weights of the same shapes; else a TransferError naming each missing layer and each mismatch
    (the source's and the target's shapes)."""
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
        have = [tuple(w.shape) for w in layers[0].get_weights()]
        want = [tuple(w.shape) for w in layers[1].get_weights()]
        if have != want:
            problems.append(f"layer {name!r}: source shapes {have} vs target shapes {want}")
        else:
            pairs.append((layers[0], layers[1]))
    if problems:
        raise TransferError("cannot copy weights: " + "; ".join(problems))
    return pairs
