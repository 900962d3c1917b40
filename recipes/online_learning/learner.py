"""The Keras learner: an MLP and Adam whose predict-then-learn steps run as one compiled (XLA) loop
over a chunk of mini-batches, a replay memory, online input scaling, a learning-rate boost, and its
reaction to drift."""

from __future__ import annotations

import numpy as np

from common.training import reinitialize_weights, reset_optimizer

CHUNK = 64  # mini-batches per compiled call


class RunningScaler:
    """Online standardisation: the mean and variance of every item so far, updated with each
    mini-batch's inputs (known at prediction time) before that batch is scaled; nothing from later
    items is used. The sums are taken about the first item seen, so that a feature far from zero
    keeps its precision."""

    def __init__(self, width: int):
        self.count, self.origin = 0, None
        self.sum, self.sum_sq = np.zeros(width), np.zeros(width)

    def scale(self, x: np.ndarray, batch: int) -> np.ndarray:
        """`x` read as consecutive mini-batches of `batch` rows, each scaled by the mean and variance
        of every item up to the end of its batch."""
        if self.origin is None:
            self.origin = x[0].astype(np.float64)
        d = x - self.origin
        ends = np.minimum(np.arange(batch, len(x) + batch, batch), len(x))
        counts = (self.count + ends)[:, None]
        sums = self.sum + np.cumsum(d, axis=0)[ends - 1]
        sums_sq = self.sum_sq + np.cumsum(d * d, axis=0)[ends - 1]
        self.count, self.sum, self.sum_sq = int(counts[-1, 0]), sums[-1], sums_sq[-1]
        means, stds = moments(counts, sums, sums_sq)
        rows = np.arange(len(x)) // batch
        return ((d - means[rows]) / stds[rows]).astype(np.float32)

    @property
    def mean(self) -> np.ndarray:
        """The running mean."""
        return self.origin + moments(self.count, self.sum, self.sum_sq)[0]

    def std(self) -> np.ndarray:
        """The running standard deviation, 1 where a feature has not varied."""
        return moments(self.count, self.sum, self.sum_sq)[1]

    def apply(self, x: np.ndarray) -> np.ndarray:
        """`x` scaled by the mean and variance as they stand (what the network reads)."""
        return ((x - self.mean) / self.std()).astype(np.float32)


def moments(count, sums, sums_sq) -> tuple[np.ndarray, np.ndarray]:
    """Mean (about the origin) and standard deviation (1 where a feature has not varied) of `count`
    items from their sums and sums of squares."""
    mean = sums / count
    std = np.sqrt(np.maximum(sums_sq / count - mean**2, 0.0))
    return mean, np.where(std > 1e-8, std, 1.0)


class Engine:
    """What is compiled: the network, Adam, the replay memory, and one XLA-compiled loop that
    predicts then learns up to CHUNK mini-batches in a call. Compiling takes about a second, longer
    than a learner's whole run on a 20 000-item stream, so a process keeps one engine per shape
    (`engine_for`) and each new learner resets its variables (fresh weights from its seed, a fresh
    optimizer, an empty memory) instead of compiling again."""

    def __init__(self, width: int, num_classes: int, hidden, steps: int, replay: int, memory: int,
                 batch: int):  # fmt: skip
        import keras
        import tensorflow as tf

        inputs = keras.Input((width,), name="features")
        h = inputs
        for i, units in enumerate(hidden):
            h = keras.layers.Dense(units, activation="relu", name=f"hidden_{i + 1}")(h)
        logits = keras.layers.Dense(num_classes, name="logits")(h)
        self.model = keras.Model(inputs, logits, name="online_mlp")
        self.optimizer = keras.optimizers.Adam(1e-2)  # its rate is set for every batch
        self.optimizer.build(self.model.trainable_variables)
        self.steps, self.replay, self.batch = steps, replay, batch
        # replay memory: a ring of the last `memory` valid items, scaled as they arrived
        variable = lambda value, dtype=None: tf.Variable(value, dtype=dtype, trainable=False)  # noqa: E731
        self.memory_x = variable(tf.zeros((memory, width)))
        self.memory_y = variable(tf.zeros(memory, tf.int32))
        self.stored = variable(0, tf.int64)  # items ever stored
        self.since = variable(0, tf.int64)  # recall only items from here on
        self.seed = variable(0, tf.int64)  # keys the replay draws
        self.state = [*self.model.trainable_variables, *self.optimizer.variables,
                      self.memory_x, self.memory_y, self.stored, self.since]  # fmt: skip
        # the state as it was when the last chunk began: a drift found inside a chunk rolls back to it
        self.saved = [variable(tf.zeros(v.shape, v.dtype)) for v in self.state]
        spec = tf.TensorSpec
        signature = [spec((CHUNK, batch, width), tf.float32), spec((CHUNK, batch), tf.int32),
                     spec((CHUNK, batch), tf.float32), spec((CHUNK,), tf.float32),
                     spec((), tf.int32)]  # fmt: skip
        # concrete functions: traced and compiled once, called without re-checking their inputs;
        # no autograph (the Python control flow below depends on no tensor)
        compiled = tf.function(self._chunk, autograph=False, jit_compile=True)
        self.run = compiled.get_concrete_function(*signature)
        self.roll_back = tf.function(self._roll_back, autograph=False).get_concrete_function()
        self.clear = tf.function(self._clear, autograph=False).get_concrete_function(
            tf.TensorSpec((), tf.int64)
        )

    def reset(self, seed: int) -> None:
        """A fresh learner: weights drawn from `seed`, a fresh Adam, an empty memory."""
        reinitialize_weights(self.model, seed)
        self.clear(np.int64(seed))

    def _clear(self, seed):
        """Zero Adam's state (all but its rate) and the memory, key the replay draws by `seed`."""
        import tensorflow as tf

        reset_optimizer(self.optimizer)
        for v in (self.memory_x, self.memory_y, self.stored, self.since):
            v.assign(tf.zeros(v.shape, v.dtype))
        self.seed.assign(seed)

    def _chunk(self, xs, ys, ws, rates, count):
        """Save the state, then for each of the first `count` batches: set Adam's rate, predict the
        batch with the weights as they stand, learn from it. Returns the predictions."""
        import tensorflow as tf

        for saved, variable in zip(self.saved, self.state):
            saved.assign(variable)

        def body(k, predicted):
            self.optimizer.learning_rate.assign(rates[k])
            return k + 1, predicted.write(k, self._step(xs[k], ys[k], ws[k]))

        empty = tf.TensorArray(tf.int32, CHUNK, element_shape=(self.batch,))
        _, predicted = tf.while_loop(lambda k, _: k < count, body, (tf.constant(0), empty))
        return predicted.stack()

    def _roll_back(self):
        """The state as it was when the last chunk began."""
        for saved, variable in zip(self.saved, self.state):
            variable.assign(saved)

    def _step(self, x, y, weight):
        """Predict the new batch with the current weights; then take `steps` Adam steps, each on the new
        batch plus `replay` items recalled from memory; then remember the new batch."""
        import tensorflow as tf

        predicted = None
        for i in range(self.steps):
            xs, ys, ws = x, y, weight
            if self.replay:
                rx, ry, rw = self._recall(i)
                xs, ys, ws = tf.concat([x, rx], 0), tf.concat([y, ry], 0), tf.concat([weight, rw], 0)
            logits = self._learn(xs, ys, ws)
            if predicted is None:  # the first step's forward pass ran before any update
                predicted = tf.argmax(logits[: x.shape[0]], axis=1, output_type=tf.int32)
        self._remember(x, y, weight)
        return predicted

    def _learn(self, x, y, weight):
        """One Adam step on the weighted batch; returns the logits it computed before the update."""
        import keras
        import tensorflow as tf

        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            losses = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            loss = tf.reduce_sum(losses * weight) / tf.maximum(tf.reduce_sum(weight), 1.0)
        variables = self.model.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return logits

    def _recall(self, i: int):
        """`replay` items drawn uniformly, with replacement, from those remembered since the start or
        the last adaptation (zero weight while there are none); stateless draws keyed by (seed, items
        stored, step), so a rerun draws the same."""
        import tensorflow as tf

        size = self.memory_y.shape[0]
        held = tf.minimum(self.stored - self.since, size)
        key = tf.stack([self.seed, self.stored * self.steps + i])
        back = tf.random.stateless_uniform((self.replay,), key, 0, tf.maximum(held, 1), dtype=tf.int64)
        index = (self.stored - 1 - back) % size
        weight = tf.fill((self.replay,), tf.cast(held > 0, tf.float32))
        return tf.gather(self.memory_x, index), tf.gather(self.memory_y, index), weight

    def _remember(self, x, y, weight):
        """Write the batch's real rows over the oldest ones in memory; a padding row (zero weight, only
        in a ragged last batch) leaves its slot as it was."""
        import tensorflow as tf

        real = weight > 0
        slots = (self.stored + tf.range(self.batch, dtype=tf.int64)) % self.memory_y.shape[0]
        old_x, old_y = tf.gather(self.memory_x, slots), tf.gather(self.memory_y, slots)
        self.memory_x.scatter_nd_update(slots[:, None], tf.where(real[:, None], x, old_x))
        self.memory_y.scatter_nd_update(slots[:, None], tf.where(real, y, old_y))
        self.stored.assign_add(tf.reduce_sum(tf.cast(real, tf.int64)))


_ENGINES: dict[tuple, Engine] = {}


def engine_for(width: int, num_classes: int, args) -> Engine:
    """This process's engine for a learner of this shape, compiled on first use."""
    key = (width, num_classes, tuple(args.hidden), args.steps_per_batch, args.replay, args.memory,
           args.batch_size)  # fmt: skip
    if key not in _ENGINES:
        _ENGINES[key] = Engine(*key)
    return _ENGINES[key]


class KerasLearner:
    """MLP + Adam behind one compiled predict-then-learn loop per chunk of mini-batches, replay
    memory, online scaler, ADWIN on its errors."""

    def __init__(self, width: int, num_classes: int, args, seed: int):
        from river import drift

        self.engine = engine = engine_for(width, num_classes, args)
        engine.reset(seed)
        self.model, self.batch_size = engine.model, args.batch_size
        self.chunk_items = CHUNK * args.batch_size
        self.base_lr, self.boost, self.boost_items = args.learning_rate, args.boost, args.boost_items
        # a new stream is a new concept: start boosted, as right after a drift
        self.adapt, self.boost_left = args.adapt, args.boost_items
        self.scaler = RunningScaler(width)
        self.detector = drift.ADWIN()
        self.last = None  # the last chunk, as it was given, for a roll-back

    def predict_then_learn(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """The classes predicted for each mini-batch of (x, y) (at most `chunk_items` raw items), each
        by the weights as they stood before that batch was learned; all of it learned from, in one
        compiled call."""
        self.last = (x, y, self.boost_left, dict(vars(self.scaler)))
        return self._run(x, y)

    def _run(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        b, n = self.batch_size, len(x)
        batches = -(-n // b)
        xs = np.zeros((CHUNK * b, x.shape[1]), np.float32)
        ys = np.zeros(CHUNK * b, np.int32)
        xs[:n], ys[:n] = self.scaler.scale(x, b), y
        weights = (np.arange(CHUNK * b) < n).astype(np.float32)  # a ragged last batch: zero-weight rows
        sizes = np.minimum(b, n - b * np.arange(batches))
        rates = np.zeros(CHUNK, np.float32)
        rates[:batches] = self.learning_rates(sizes)
        inputs = xs.reshape(CHUNK, b, -1), ys.reshape(CHUNK, b), weights.reshape(CHUNK, b)
        predicted = self.engine.run(*inputs, rates, np.int32(batches)).numpy()
        return [predicted[k, :m] for k, m in enumerate(sizes)]

    def adapt_to_drift(self, learned: int) -> bool:
        """The error rate rose in the `learned`-th batch of the last chunk. With --adapt: take back
        the batches after it, which were learned under the old concept, then forget Adam's moment
        estimates and the remembered items of the old concept, and boost the learning rate again.
        Whether it adapted (and so has learned nothing past that batch)."""
        if not self.adapt:
            return False
        x, y, self.boost_left, scaler = self.last
        if learned * self.batch_size < len(x):  # relearn up to that batch from the chunk's start
            self.engine.roll_back()
            vars(self.scaler).update(scaler)
            self._run(x[: learned * self.batch_size], y[: learned * self.batch_size])
        reset_optimizer(self.engine.optimizer)
        self.boost_left = self.boost_items
        self.engine.since.assign(self.engine.stored)
        return True

    def learning_rates(self, sizes: np.ndarray) -> np.ndarray:
        """Adam's rate for each of these batches: the boost decays linearly back to the base rate over
        `boost_items` items after the start of the stream or a drift."""
        left = np.maximum(0, self.boost_left - np.concatenate([[0], np.cumsum(sizes)[:-1]]))
        self.boost_left = max(0, self.boost_left - int(sizes.sum()))
        return self.base_lr * (1 + (self.boost - 1) * left / self.boost_items)
