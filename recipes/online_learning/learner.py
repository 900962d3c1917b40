"""The Keras learner: an MLP and Adam behind one compiled predict-then-learn call per mini-batch, a
replay memory, online input scaling, a learning-rate boost, and its reaction to drift."""

from __future__ import annotations

import numpy as np

from common.training import reset_optimizer, seed_everything


class RunningScaler:
    """Online standardisation: Welford's running mean and variance, updated with each batch's inputs
    (known at prediction time) before they are scaled; nothing from later items is used."""

    def __init__(self, width: int):
        self.count, self.mean, self.m2 = 0, np.zeros(width), np.zeros(width)

    def scale(self, x: np.ndarray) -> np.ndarray:
        m = len(x)
        batch_mean = x.mean(axis=0)
        delta = batch_mean - self.mean
        total = self.count + m
        self.mean = self.mean + delta * (m / total)
        self.m2 = self.m2 + ((x - batch_mean) ** 2).sum(axis=0) + delta**2 * (self.count * m / total)
        self.count = total
        return self.apply(x)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """`x` scaled by the mean and variance as they stand (what the network reads)."""
        return ((x - self.mean) / self.std()).astype(np.float32)

    def std(self) -> np.ndarray:
        """The running standard deviation, 1 where a feature has not varied."""
        std = np.sqrt(self.m2 / max(self.count, 1))
        return np.where(std > 1e-8, std, 1.0)


class KerasLearner:
    """MLP + Adam, one compiled predict-then-learn step per mini-batch, replay memory, online scaler,
    ADWIN on its errors."""

    def __init__(self, width: int, num_classes: int, args, seed: int):
        import keras
        import tensorflow as tf
        from river import drift

        seed_everything(seed)
        inputs = keras.Input((width,), name="features")
        h = inputs
        for i, units in enumerate(args.hidden):
            h = keras.layers.Dense(units, activation="relu", name=f"hidden_{i + 1}")(h)
        logits = keras.layers.Dense(num_classes, name="logits")(h)
        self.model = keras.Model(inputs, logits, name="online_mlp")
        self.optimizer = keras.optimizers.Adam(args.learning_rate)
        self.optimizer.build(self.model.trainable_variables)
        self.base_lr, self.boost, self.boost_items = args.learning_rate, args.boost, args.boost_items
        # a new stream is a new concept: start boosted, as right after a drift
        self.adapt, self.boost_left, self.lr = args.adapt, args.boost_items, args.learning_rate
        self.scaler = RunningScaler(width)
        self.detector = drift.ADWIN()
        # replay memory: a ring of the last `memory` valid items, scaled as they arrived
        self.steps, self.replay, self.seed = args.steps_per_batch, args.replay, seed
        self.memory_x = tf.Variable(tf.zeros((args.memory, width)), trainable=False)
        self.memory_y = tf.Variable(tf.zeros(args.memory, tf.int32), trainable=False)
        self.stored = tf.Variable(0, dtype=tf.int64, trainable=False)  # items ever stored
        self.since = tf.Variable(0, dtype=tf.int64, trainable=False)  # recall only items from here on
        self.batch_size = b = args.batch_size
        self.full = np.ones(b, dtype=np.float32)
        signature = [
            tf.TensorSpec((b, width), tf.float32),
            tf.TensorSpec((b,), tf.int32),
            tf.TensorSpec((b,), tf.float32),
        ]
        # a concrete function: traced once here, and called without re-checking its inputs' types;
        # no autograph: the step's Python control flow depends on no tensor, and converting its
        # source cost the first learner in a process 0.2 s (a fifth of its time on SEA)
        self.step = tf.function(self._step, autograph=False).get_concrete_function(*signature)

    def predict_then_learn(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The classes predicted for a mini-batch of raw items by the weights as they stand, then
        learned from: scale online, pad a ragged last batch, one compiled call."""
        b, m = self.batch_size, len(x)
        xb, yb, weight = self.scaler.scale(x), y.astype(np.int32), self.full
        if m < b:  # ragged last batch: pad with zero-weight rows, same shape, one trace
            xb = np.concatenate([xb, np.zeros((b - m, xb.shape[1]), np.float32)])
            yb = np.concatenate([yb, np.zeros(b - m, np.int32)])
            weight = (np.arange(b) < m).astype(np.float32)
        self.set_learning_rate(m)
        return self.step(xb, yb, weight).numpy()[:m]

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
        stored, step), so a resumed run draws the same."""
        import tensorflow as tf

        size = self.memory_y.shape[0]
        held = tf.minimum(self.stored - self.since, size)
        key = tf.stack([tf.constant(self.seed, tf.int64), self.stored * self.steps + i])
        back = tf.random.stateless_uniform((self.replay,), key, 0, tf.maximum(held, 1), dtype=tf.int64)
        index = (self.stored - 1 - back) % size
        weight = tf.fill((self.replay,), tf.cast(held > 0, tf.float32))
        return tf.gather(self.memory_x, index), tf.gather(self.memory_y, index), weight

    def _remember(self, x, y, weight):
        """Write the batch's real rows (not the zero-weight padding) over the oldest ones in memory."""
        import tensorflow as tf

        real = weight > 0
        new_x, new_y = tf.boolean_mask(x, real), tf.boolean_mask(y, real)
        count = tf.shape(new_y, out_type=tf.int64)[0]
        slots = ((self.stored + tf.range(count)) % self.memory_y.shape[0])[:, None]
        self.memory_x.scatter_nd_update(slots, new_x)
        self.memory_y.scatter_nd_update(slots, new_y)
        self.stored.assign_add(count)

    def adapt_to_drift(self) -> None:
        """The error rate rose (with --adapt): forget Adam's moment estimates and the remembered items
        of the old concept, and boost the learning rate again."""
        if self.adapt:
            reset_optimizer(self.optimizer)
            self.boost_left = self.boost_items
            self.since.assign(self.stored)

    def set_learning_rate(self, items: int) -> None:
        """Boost decays linearly back to the base rate over `boost_items` items after the start of the
        stream or a drift."""
        lr = self.base_lr * (1 + (self.boost - 1) * self.boost_left / self.boost_items)
        if lr != self.lr:
            self.optimizer.learning_rate.assign(lr)
            self.lr = lr
        self.boost_left = max(0, self.boost_left - items)

    def _memory(self) -> tuple:
        return self.memory_x, self.memory_y, self.stored, self.since

    def _memory(self) -> tuple:
        return self.memory_x, self.memory_y, self.stored, self.since

    def state(self) -> dict:
        return {
            "weights": self.model.get_weights(),
            "optimizer": [v.numpy() for v in self.optimizer.variables],
            "scaler": vars(self.scaler).copy(),  # plain arrays: the pickle names no class of ours
            "detector": self.detector,
            "boost_left": self.boost_left,
            "lr": self.lr,
            "memory": [v.numpy() for v in self._memory()],
        }

    def load_state(self, state: dict) -> None:
        self.model.set_weights(state["weights"])
        for variable, value in zip(self.optimizer.variables, state["optimizer"]):
            variable.assign(value)
        vars(self.scaler).update(state["scaler"])
        self.detector = state["detector"]
        self.boost_left, self.lr = state["boost_left"], state["lr"]
        for variable, value in zip(self._memory(), state["memory"]):
            variable.assign(value)
