"""Training a compiled target model for a number of gradient steps, and scoring it, in a compiled twin.

`train_in_twin(model, ...)` and `twin_accuracy(model, ...)` give what `model.fit` and `model.evaluate`
would, but run in a compiled twin: tracing a fresh model's train and test steps costs about two
seconds on 2 cores, more than most of these trainings take, and the recipe trains hundreds of models
of a handful of configurations. So each configuration (layers, `trainable` flags, compile settings
with the learning rate) is compiled and traced once per process; a training copies the model's
weights into its twin, resets the optimizer to a fresh one's state, trains the twin, and copies the
trained weights back into the model. The numbers are those of a freshly compiled model
(tests/test_transfer_learning.py checks this).
"""

from __future__ import annotations

import json
import math
import random

from common.distribute import global_batch, shard_by_data
from common.training import reset_optimizer, stop_on_divergence
from recipes.transfer_learning.models import STEPS_PER_EXECUTION

_TWINS: dict[tuple[str, str], object] = {}  # (model config, compile settings) -> its twin


def compiled_twin(model):
    """The compiled twin of `model` (compiled with models.compile_model), holding `model`'s weights
    and a fresh optimizer state."""
    import keras

    settings = model.get_compile_config()
    # without the optimizer's name (adam, adam_1, ...), which tells otherwise equal settings apart
    optimizer = dict(settings["optimizer"], config=dict(settings["optimizer"]["config"], name=None))
    unnamed = dict(settings, optimizer=optimizer)
    key = (json.dumps(model.get_config(), sort_keys=True), json.dumps(unnamed, sort_keys=True))
    twin = _TWINS.get(key)
    if twin is None:
        # Keras seeds every new initialiser from Python's random module: building the twin must not
        # move the draws of the models the run builds after it
        state = random.getstate()
        twin = keras.Model.from_config(model.get_config())
        twin.compile_from_config(settings)
        random.setstate(state)
        _TWINS[key] = twin
    twin.set_weights(model.get_weights())  # the same config: the same weights, in the same order
    reset_optimizer(twin.optimizer)
    return twin


def stream(x, y, batch_size: int, seed: int):
    """(x, y) reshuffled every pass, repeated without end, in batches of `batch_size` per replica."""
    import tensorflow as tf

    return shard_by_data(
        tf.data.Dataset.from_tensor_slices((x, y))
        .cache()
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(min(global_batch(batch_size), len(x)))
        .prefetch(tf.data.AUTOTUNE)
    )


def train_in_twin(model, x, y, steps: int, batch_size: int, seed: int) -> None:
    """`steps` gradient steps of `model`'s compiled twin on (x, y), from a fresh optimizer state; the
    trained weights are copied back into `model`, as if `model.fit` had trained it."""
    twin = compiled_twin(model)
    twin.fit(
        stream(x, y, batch_size, seed),
        epochs=1,
        steps_per_epoch=steps,
        shuffle=False,
        verbose=0,
        callbacks=[stop_on_divergence(1, steps)],  # a NaN loss stops the run, naming the stage
    )
    model.set_weights(twin.get_weights())


def twin_accuracy(model, x, y) -> float:
    """`model`'s accuracy on (x, y), evaluated by its compiled twin."""
    return float(compiled_twin(model).evaluate(x, y, batch_size=1024, verbose=0)[1])


def accuracy_on(model, task) -> float:
    """`model`'s accuracy on the task's test split (`model.evaluate`, the model itself: no twin)."""
    return float(model.evaluate(task.x_test, task.y_test, batch_size=1024, verbose=0)[1])


def target_steps(n: int, args) -> int:
    """At least --target-steps and --target-epochs passes, rounded up to whole executions."""
    passes = math.ceil(args.target_epochs * n / min(global_batch(args.batch_size), n))
    steps = max(args.target_steps, passes)
    return STEPS_PER_EXECUTION * math.ceil(steps / STEPS_PER_EXECUTION)
