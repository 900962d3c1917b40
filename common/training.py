"""Seeding and determinism, the training data a resumed fit repeats (`epoch_shuffled`), the one
callback of a run's fit, fresh weights and optimizer state, timing."""

from __future__ import annotations

import time

import numpy as np


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the backend through Keras, once, at the top of a run.

    With `deterministic`, the backend's deterministic ops are on too (TensorFlow's op determinism,
    PyTorch's deterministic algorithms): same seed, same machine, same numbers.
    """
    import keras

    keras.utils.set_random_seed(seed)
    if not deterministic:
        return
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)  # JAX's CPU ops are already


def check_network_fits(widths: list[int], what: str) -> None:
    """UsageError, before any weight is made, when a network of Dense layers of these widths (the
    inputs first) cannot be trained in this machine's memory: its weights, their gradients and
    Adam's two moments, float32 (16 bytes a parameter)."""
    from common.data import check_fits

    params = sum(a * b + b for a, b in zip(widths, widths[1:]))
    check_fits(16 * params, f"{what} ({params:,} parameters)")


def make_dataset(x, y, batch_size: int, shuffle: bool = False, seed: int = 0):
    """A cached, prefetched tf.data pipeline of `batch_size` batches (the global batch under a
    distribution strategy), sharded by data across workers; shuffled each epoch with a fixed seed
    when asked."""
    import tensorflow as tf

    from common.distribute import shard_by_data

    data = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return shard_by_data(data.batch(batch_size).prefetch(tf.data.AUTOTUNE))


_EPOCH_SHUFFLED = None  # the PyDataset class, made on first use (Keras is imported only then)


def epoch_shuffled(x, y, batch_size: int, seed: int, steps: int | None = None):
    """(x, y) as a `keras.utils.PyDataset` of batches of `batch_size` (per replica of the strategy in
    scope; at most all of x), in an order drawn afresh at the start of every epoch from (`seed`, the
    epoch) alone: the data itself says which order an epoch sees, so a fit resumed at epoch k sees
    the orders an uninterrupted one would (the run's callback tells it where it starts:
    `Harness.callback`). Give `model.fit` `shuffle=False` with it: Keras would otherwise shuffle the
    batches again, from its own generator. With `steps`, an epoch is that many batches, taken from
    passes over the data one after the other, each pass in an order of its own. NumPy in, NumPy out:
    it feeds `model.fit` on every Keras backend."""
    global _EPOCH_SHUFFLED
    if _EPOCH_SHUFFLED is None:
        import keras

        class EpochShuffled(keras.utils.PyDataset):
            """Batches of (x, y), reshuffled at each epoch's start from (seed, epoch)."""

            def __init__(self, x, y, batch_size: int, seed: int, steps: int | None):
                super().__init__()
                self.x, self.y, self.batch_size, self.seed = x, y, min(batch_size, len(x)), seed
                self.steps = steps
                self.epoch = 0  # the epoch the next `on_epoch_begin` starts
                self.order = self.order_of(0)

            def order_of(self, epoch: int) -> np.ndarray:
                if self.steps is None:
                    return np.random.default_rng([self.seed, epoch]).permutation(len(self.x))
                passes = -(-self.steps * self.batch_size // len(self.x))
                orders = [
                    np.random.default_rng([self.seed, epoch, p]).permutation(len(self.x))
                    for p in range(passes)
                ]
                return np.concatenate(orders)[: self.steps * self.batch_size]

            def __len__(self) -> int:
                return self.steps or -(-len(self.x) // self.batch_size)

            def __getitem__(self, index: int):
                rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
                return self.x[rows], self.y[rows]

            def on_epoch_begin(self) -> None:  # Keras calls it before each epoch's first batch
                self.order = self.order_of(self.epoch)
                self.epoch += 1

            def tf_dataset(self):
                """The same batches as a tf.data pipeline, for TensorFlow: each pass over it asks
                for its epoch's order once (a Python call an epoch, not one a batch), then gathers
                the batches in TensorFlow."""
                import tensorflow as tf

                x, y = tf.constant(self.x), tf.constant(self.y)

                def order():
                    self.on_epoch_begin()
                    return self.order.astype(np.int64)

                orders = tf.data.Dataset.from_tensors(0).map(
                    lambda _: tf.ensure_shape(tf.numpy_function(order, [], tf.int64), (None,))
                )
                batches = orders.flat_map(tf.data.Dataset.from_tensor_slices).batch(self.batch_size)
                # an epoch's length said, as a PyDataset's is: Keras then ends each epoch at its
                # last batch (unknown, it warns that the input "ran out of data" each first epoch)
                batches = batches.apply(tf.data.experimental.assert_cardinality(len(self)))
                return batches.map(lambda rows: (tf.gather(x, rows), tf.gather(y, rows)))

        _EPOCH_SHUFFLED = EpochShuffled
    import keras

    from common.distribute import global_batch, shard_by_data

    shuffled = _EPOCH_SHUFFLED(x, y, global_batch(batch_size), seed, steps)
    if keras.config.backend() != "tensorflow":
        return shuffled
    import tensorflow as tf

    data = shard_by_data(shuffled.tf_dataset().prefetch(tf.data.AUTOTUNE))
    data.shuffled = shuffled  # where the epoch's order comes from (`start_at`)
    return data


def start_at(train, epoch: int) -> None:
    """Make an `epoch_shuffled` dataset's next epoch `epoch` (a fit resumed there)."""
    getattr(train, "shuffled", train).epoch = epoch


def steps_per_epoch(examples: int, batch_size: int) -> int:
    """Training steps in one pass over `examples`, with `batch_size` per replica of the strategy in
    scope (common.distribute.global_batch)."""
    from common.distribute import global_batch

    return -(-examples // global_batch(batch_size))


_SAID: set = set()  # the kinds of train step this process has said it runs


def say_train_step(model) -> None:
    """Print, once a process for each kind, whether Keras compiles the model's train step (XLA on
    TensorFlow and JAX, torch.compile on PyTorch) or runs it eagerly: a layer that cannot be
    compiled (Keras's RandomTranslation) makes `jit_compile="auto"` fall back, several times slower."""
    import keras

    jit, backend = bool(getattr(model, "jit_compile", False)), keras.config.backend()
    how = {  # (compiled, eager): what Keras makes of the train step on each backend
        "tensorflow": ("XLA-compiled", "a tf.function graph, not XLA ({})"),
        "jax": ("XLA-compiled (jax.jit)", "eager: a layer cannot be compiled"),
        "torch": ("torch.compile", "eager (PyTorch's default)"),
    }.get(backend, ("compiled", "eager"))
    step = how[0] if jit else how[1].format(why_not_xla() if backend == "tensorflow" else "")
    line = f"train step on {backend}: {step}"
    if line not in _SAID:
        _SAID.add(line)
        print(line, flush=True)


def why_not_xla() -> str:
    """Why Keras left a TensorFlow train step out of XLA (its `jit_compile="auto"`)."""
    import tensorflow as tf
    from tensorflow.python.framework import config  # op determinism's switch has no public reader

    if not [d for d in tf.config.list_physical_devices() if d.device_type != "CPU"]:
        return "Keras's choice on a CPU"
    if config.is_op_determinism_enabled():
        return "Keras's choice while op determinism is on"
    return "a layer cannot be compiled, or Keras's choice under a distribution strategy"


def run_callback(checkpoint, train, kept: list, progress: bool = True):
    """One Keras callback with what a resumable fit needs (`Harness.callback` says what): resume and
    save through `checkpoint` (a common.checkpoint.FitCheckpoint), keeping `kept` callbacks' state
    (early stopping's); the dataset `train` started at the resumed epoch; the history before a kill
    put into the History `model.fit` returns; stop on divergence; progress lines."""
    import copy

    import keras

    from common.errors import check_terminated

    diverged, lines = stop_on_divergence(0), epoch_lines(0) if progress else None

    class RunCallback(keras.callbacks.Callback):
        def set_model(self, model):
            super().set_model(model)
            for other in (diverged, lines):
                if other is not None:
                    other.set_model(model)

        def on_train_begin(self, logs=None):
            say_train_step(self.model)
            epochs = self.params["epochs"]
            diverged.epochs = epochs
            if lines is not None:
                lines.epochs = epochs
                lines.on_train_begin(logs)
            start = checkpoint.resume(self.model, kept)  # 0 for a fit not begun before
            checkpoint.restore_callbacks(kept)  # after their own on_train_begin reset them
            if checkpoint.stopped:  # early stopping had ended it: the best weights, no epoch more
                start = epochs
            if start:
                self.model._initial_epoch = start  # as keras.callbacks.BackupAndRestore does
                history = getattr(self.model, "history", None)
                if history is not None:  # the epochs before the kill, in the History fit returns
                    history.history = copy.deepcopy(checkpoint.history)
            if train is not None:
                start_at(train, start)

        def on_epoch_end(self, epoch, logs=None):
            checkpoint.save(self.model, kept, epoch, logs)
            diverged.on_epoch_end(epoch, logs)
            if lines is not None:
                lines.on_epoch_end(epoch, logs)
            check_terminated()  # the epoch is saved: a safe point to stop at

        def on_train_end(self, logs=None):
            self.model._initial_epoch = None  # the next fit of this model starts at its own epoch

    return RunCallback()


PROGRESS_EVERY_S = 10.0  # long work prints a line at the first step end after this many seconds


def elapsed_and_left(done: int, total: int, seconds: float) -> str:
    """`41 s, about 1.0 min left`: the time a loop of known length has taken, and what is left at
    the pace so far (nothing left to say once it is done)."""
    from common.results import fmt_duration

    left = f", about {fmt_duration(seconds / done * (total - done))} left" if 0 < done < total else ""
    return fmt_duration(seconds) + left


def progress_line(label: str, done: int, total: int, unit: str, seconds: float) -> str:
    """`    sea/river_arf: 40,000/100,000 items, 41 s, about 1.0 min left`."""
    return f"    {label}: {done:,}/{total:,} {unit}, {elapsed_and_left(done, total, seconds)}"


class Progress:
    """Where a long loop of `total` steps is. On a terminal a tqdm bar; anywhere else (a log, a pipe:
    `python -m recipes all` reads each recipe's output so) one clean line every PROGRESS_EVERY_S
    seconds (`progress_line`), never a bar's half-drawn states. `show=False`: nothing."""

    def __init__(self, total: int, label: str, unit: str, show: bool = True):
        import sys

        self.total, self.label, self.unit, self.done = total, label, unit, 0
        self.started = self.last = time.perf_counter()
        self.bar, self.lines = None, show and not sys.stderr.isatty()
        if show and not self.lines:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                desc=f"{label} ",
                unit=f" {unit}",
                mininterval=0.5,
                leave=False,
                dynamic_ncols=True,
            )

    def update(self, steps: int, note: str | None = None) -> None:
        """`steps` more done; `note` (e.g. a rolling accuracy) beside the bar, when there is one."""
        self.done += steps
        if self.bar is not None:
            self.bar.update(steps)
            if note is not None:
                self.bar.set_postfix_str(note, refresh=False)
        elif self.lines and (now := time.perf_counter()) - self.last >= PROGRESS_EVERY_S:
            self.last = now
            line = progress_line(self.label, self.done, self.total, self.unit, now - self.started)
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def stop_on_divergence(epochs: int, steps: int | None = None):
    """A Keras callback raising common.errors.Diverged at the end of the first epoch whose training
    loss is NaN or infinite: nothing is evaluated, kept or reported from a diverged model. (`steps`:
    a fit of one epoch of that many steps, so named in the message.)"""
    import math

    import keras

    from common.errors import Diverged

    class StopOnDivergence(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(loss):
                when = f"after {steps} steps" if steps else f"at epoch {epoch + 1} of {self.epochs}"
                raise Diverged(
                    f"the training loss is {loss} {when}: the training diverged (a lower "
                    "--learning-rate, or scaled inputs, may help)"
                )

    callback = StopOnDivergence()
    callback.epochs = epochs
    return callback


def epoch_lines(epochs: int):
    """A Keras callback printing `    epoch 12/30, 41 s, about 1.0 min left: loss 0.4120, ...` at the end
    of an epoch when PROGRESS_EVERY_S seconds have passed since the fit began or its last line: a
    long fit is never silent for long, a short one prints nothing."""
    import keras

    class EpochLines(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.started = self.last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            if now - self.last < PROGRESS_EVERY_S:
                return
            self.last = now
            numbers = ", ".join(f"{key} {value:.4f}" for key, value in (logs or {}).items())
            where = elapsed_and_left(epoch + 1, self.epochs, now - self.started)
            print(f"    epoch {epoch + 1}/{self.epochs}, {where}: {numbers}", flush=True)

    callback = EpochLines()
    callback.epochs = epochs
    return callback


def reinitialize(model, seed: int | None = None) -> None:
    """Fresh weights from each layer's initialiser (drawn from the current seed, or from `seed`: see
    `reinitialize_weights`) and a fresh optimizer state, keeping the model's traced train and test
    functions: on a small network, building a new model per seed spends as long tracing them again
    as training."""
    reinitialize_weights(model, seed)
    reset_optimizer(model.optimizer)


# the weights a layer draws from an initialiser named `<weight>_initializer`: Dense, Conv, BatchNorm
INITIALISED = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "embeddings")


def reinitialize_weights(model, seed: int | None = None) -> None:
    """Fresh weights from each layer's initialiser, drawn from the current seed; or, with `seed`, the
    weights `seed_everything(seed)` would give, drawn without setting the global seed (which clears
    TensorFlow's caches of traced functions: each then costs milliseconds to set up again).

    A Keras 3 initialiser constructed with a seed repeats its values, so each is rebuilt from its
    config with a new seed: the next integer from Python's generator, as Keras draws one for an
    initialiser made without a seed (from the global generator `seed_everything` just reset, or from
    one seeded with `seed`; a test checks that both give a freshly built model's weights).
    """
    import random

    draw = (random.Random(seed) if seed is not None else random).randint
    for layer in model.layers:
        for weight in INITIALISED:  # in the order a layer makes its initialisers (and draws seeds)
            variable, init = getattr(layer, weight, None), getattr(layer, f"{weight}_initializer", None)
            if variable is None or init is None:
                continue
            config = init.get_config()
            if "seed" in config:
                config["seed"] = draw(1, int(1e9))
            variable.assign(type(init).from_config(config)(variable.shape, variable.dtype))
    for variable in model.variables:  # a random layer's generator (shifts, dropout): a fresh seed
        if variable.path.endswith("seed_generator_state"):
            variable.assign(np.array([draw(1, int(1e9)), 0], variable.dtype))


def reset_optimizer(optimizer) -> None:
    """Zero the optimizer's step count and moment estimates, keeping its learning rate: the state of
    a freshly built optimizer, without tracing its update step again."""
    for variable in optimizer.variables:
        if variable.name != "learning_rate":
            variable.assign(np.zeros(variable.shape, variable.dtype))


class Timer:
    """`with Timer() as t: ...` then `t.seconds`."""

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False
