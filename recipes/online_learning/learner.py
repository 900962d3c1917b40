"""The Keras learner: an MLP and Adam whose predict-then-learn steps run as one compiled (XLA) loop
over a chunk of mini-batches, a replay memory, online input scaling, a learning-rate boost, and its
reaction to drift."""

from __future__ import annotations

import random
import weakref

import numpy as np
from river import base

from common.data import MAX_MAGNITUDE
from common.errors import Diverged
from common.training import reinitialize_weights, reset_optimizer

CHUNK = 64  # mini-batches per compiled call


class RunningScaler:
    """Online standardisation: the mean and variance of every item so far, updated with each
    mini-batch's inputs (known at prediction time) before that batch is scaled; nothing from later
    items is used. The sums are taken about the first item seen, so that a feature far from zero
    keeps its precision. A missing value (NaN) counts towards nothing and is scaled to 0, the mean."""

    def __init__(self, width: int):
        self.origin = None
        self.count = np.zeros(width, np.int64)  # values seen, per feature
        self.sum, self.sum_sq = np.zeros(width), np.zeros(width)

    def scale(self, x: np.ndarray, batch: int) -> np.ndarray:
        """`x` read as consecutive mini-batches of `batch` rows, each scaled by the mean and variance
        of every item up to the end of its batch."""
        present = ~np.isnan(x)
        if self.origin is None:
            self.origin = np.where(present[0], x[0], 0.0).astype(np.float64)
        d = np.where(present, x - self.origin, 0.0)
        ends = np.minimum(np.arange(batch, len(x) + batch, batch), len(x))
        counts = self.count + np.cumsum(present, axis=0)[ends - 1]
        sums = self.sum + np.cumsum(d, axis=0)[ends - 1]
        sums_sq = self.sum_sq + np.cumsum(d * d, axis=0)[ends - 1]
        self.count, self.sum, self.sum_sq = counts[-1], sums[-1], sums_sq[-1]
        means, stds = moments(counts, sums, sums_sq)
        rows = np.arange(len(x)) // batch
        return np.where(present, (d - means[rows]) / stds[rows], 0.0).astype(np.float32)

    @property
    def mean(self) -> np.ndarray:
        """The running mean (0 before any value)."""
        if self.origin is None:
            return np.zeros_like(self.sum)
        return np.where(self.count > 0, self.origin + moments(self.count, self.sum, self.sum_sq)[0], 0)

    def std(self) -> np.ndarray:
        """The running standard deviation, 1 where a feature has not varied."""
        return moments(self.count, self.sum, self.sum_sq)[1]

    def apply(self, x: np.ndarray) -> np.ndarray:
        """`x` scaled by the mean and variance as they stand (what the network reads)."""
        return np.nan_to_num((x - self.mean) / self.std(), nan=0.0).astype(np.float32)


def moments(count, sums, sums_sq) -> tuple[np.ndarray, np.ndarray]:
    """Mean (about the origin) and standard deviation (1 where a feature has not varied) of `count`
    items from their sums and sums of squares."""
    mean = sums / np.maximum(count, 1)
    std = np.sqrt(np.maximum(sums_sq / np.maximum(count, 1) - mean**2, 0.0))
    return mean, np.where(std > 1e-8, std, 1.0)


class Engine:
    """What is compiled: the network, Adam, the replay memory, and one XLA-compiled loop that
    predicts then learns up to CHUNK mini-batches in a call. Compiling takes about a second, longer
    than a learner's whole run on a 20 000-item stream, so a process keeps one engine per shape
    (`engine_for`) and each new learner resets its variables (fresh weights from its seed, a fresh
    optimizer, an empty memory) instead of compiling again."""

    def __init__(
        self, width: int, outputs: int, hidden, steps: int, replay: int, memory: int, batch: int
    ):
        from common.device import backend, import_tensorflow

        if backend() != "tensorflow":  # a river user on JAX or PyTorch: one clear line
            raise RuntimeError(
                f"KerasOnlineClassifier compiles its learning with TensorFlow (tf.function, XLA); "
                f"Keras runs on {backend()} here: set KERAS_BACKEND=tensorflow to use it"
            )
        import_tensorflow()  # without its C++ start-up log, for a river user too
        import keras
        import tensorflow as tf

        inputs = keras.Input((width,), name="features")
        h = inputs
        for i, units in enumerate(hidden):
            h = keras.layers.Dense(units, activation="relu", name=f"hidden_{i + 1}")(h)
        logits = keras.layers.Dense(outputs, name="logits")(h)
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
        self.state = [
            *self.model.trainable_variables,
            *self.optimizer.variables,
            self.memory_x,
            self.memory_y,
            self.stored,
            self.since,
        ]
        # the state as it was when the last chunk began: a drift found inside a chunk rolls back to it
        self.saved = [variable(tf.zeros(v.shape, v.dtype)) for v in self.state]
        spec = tf.TensorSpec
        signature = [
            spec((CHUNK, batch, width), tf.float32),
            spec((CHUNK, batch), tf.int32),
            spec((CHUNK, batch), tf.float32),
            spec((CHUNK,), tf.float32),
            spec((CHUNK,), tf.int32),
            spec((), tf.int32),
        ]
        # concrete functions: traced and compiled once, called without re-checking their inputs;
        # no autograph (the Python control flow below depends on no tensor)
        compiled = tf.function(self._chunk, autograph=False, jit_compile=True)
        self.run = compiled.get_concrete_function(*signature)
        self.roll_back = tf.function(self._roll_back, autograph=False).get_concrete_function()
        self.clear = tf.function(self._clear, autograph=False).get_concrete_function(
            tf.TensorSpec((), tf.int64)
        )
        self.owner = None  # a weak reference to the learner whose state the variables hold

    def reset(self, seed: int) -> None:
        """A fresh learner: weights drawn from `seed`, a fresh Adam, an empty memory."""
        reinitialize_weights(self.model, seed)
        self.clear(np.int64(seed))

    def holder(self):
        """The learner whose state the variables hold (None: none, or one no longer alive)."""
        return self.owner() if self.owner is not None else None

    def snapshot(self) -> list[np.ndarray]:
        """A learner's whole state, as arrays."""
        return [v.numpy() for v in (*self.state, self.seed)]

    def load(self, arrays: list[np.ndarray]) -> None:
        for variable, value in zip((*self.state, self.seed), arrays):
            variable.assign(value)

    def _clear(self, seed):
        """Zero Adam's state (all but its rate) and the memory, key the replay draws by `seed`."""
        import tensorflow as tf

        reset_optimizer(self.optimizer)
        for v in (self.memory_x, self.memory_y, self.stored, self.since):
            v.assign(tf.zeros(v.shape, v.dtype))
        self.seed.assign(seed)

    def _mask(self, known):
        """Added to the logits: 0 for the first `known` outputs, those given a label so far; -1e9
        (no probability, no gradient) for the others."""
        import tensorflow as tf

        outputs = self.model.output_shape[-1]
        return tf.where(tf.range(outputs) < known, 0.0, -1e9)

    def _chunk(self, xs, ys, ws, rates, known, count):
        """Save the state, then for each of the first `count` batches: set Adam's rate, predict the
        batch with the weights as they stand, learn from it. Returns the predictions."""
        import tensorflow as tf

        for saved, variable in zip(self.saved, self.state):
            saved.assign(variable)

        def body(k, predicted):
            self.optimizer.learning_rate.assign(rates[k])
            return k + 1, predicted.write(k, self._step(xs[k], ys[k], ws[k], self._mask(known[k])))

        empty = tf.TensorArray(tf.int32, CHUNK, element_shape=(self.batch,))
        _, predicted = tf.while_loop(lambda k, _: k < count, body, (tf.constant(0), empty))
        return predicted.stack()

    def _roll_back(self):
        """The state as it was when the last chunk began."""
        for saved, variable in zip(self.saved, self.state):
            variable.assign(saved)

    def _step(self, x, y, weight, mask):
        """Predict the new batch with the current weights; then take `steps` Adam steps, each on the new
        batch plus `replay` items recalled from memory; then remember the new batch."""
        import tensorflow as tf

        predicted = None
        for i in range(self.steps):
            xs, ys, ws = x, y, weight
            if self.replay:
                rx, ry, rw = self._recall(i)
                xs, ys, ws = tf.concat([x, rx], 0), tf.concat([y, ry], 0), tf.concat([weight, rw], 0)
            logits = self._learn(xs, ys, ws, mask)
            if predicted is None:  # the first step's forward pass ran before any update
                predicted = tf.argmax(logits[: x.shape[0]], axis=1, output_type=tf.int32)
        self._remember(x, y, weight)
        return predicted

    def _learn(self, x, y, weight, mask):
        """One Adam step on the weighted batch; returns the logits it computed before the update."""
        import keras
        import tensorflow as tf

        with tf.GradientTape() as tape:
            logits = self.model(x, training=True) + mask
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


def adwin_fired(detector, hits: np.ndarray) -> list[int]:
    """Feed a batch's errors to an ADWIN detector: the positions in the batch where it fired."""
    fired = []
    for i, hit in enumerate(hits.tolist()):
        detector.update(0 if hit else 1)
        if detector.drift_detected:
            fired.append(i)
    return fired


_ENGINES: dict[tuple, Engine] = {}


def engine_for(key: tuple) -> Engine:
    """This process's engine for a learner of this shape, compiled on first use."""
    if key not in _ENGINES:
        _ENGINES[key] = Engine(*key)
    return _ENGINES[key]


class KerasOnlineClassifier(base.MiniBatchClassifier):
    """A Keras MLP that learns online, as a river classifier.

    Items are learned in mini-batches of `batch_size`: `learn_one` and `learn_many` gather items
    until a batch is full. Each batch is first predicted by the weights as they stand (ADWIN watches
    those errors), then learned: `steps_per_batch` Adam steps, each on the batch plus `replay` items
    recalled from a memory of the last `memory` ones. The inputs are standardised online. The rate
    starts boosted by `boost`, decaying over `boost_items` items; when ADWIN sees the error rate rise
    (with `adapt`) the learner forgets Adam's moments and the remembered items and boosts its rate
    again. Up to 64 batches are predicted and learned in one XLA-compiled call; a drift inside them
    takes back the batches after it, so that the result is that of one batch at a time.

    The features are `features` or, by default, those of the first item learned (in sorted order);
    a feature outside them is ignored, and a missing one reads as its running mean. The labels are
    `classes` or, by default, those seen so far (at most `max_classes`). `predict_proba_one` uses
    the weights and the scaling as they stand: items gathered for a batch not yet full are not in
    them.

    Parameters
    ----------
    hidden
        Hidden layer sizes (ReLU).
    learning_rate
        Adam's step size, before the boost.
    batch_size
        Items per mini-batch.
    steps_per_batch
        Adam steps taken on each mini-batch.
    replay
        Items recalled from memory and learned with the batch at each step (0: none).
    memory
        The replay memory: the last `memory` items learned.
    adapt
        React to a rise in the error rate (see above).
    boost
        The rate's factor at the start and right after a drift.
    boost_items
        Items over which the boost decays back to 1.
    classes
        The labels, if known up front (in the order of the network's outputs).
    max_classes
        Outputs of the network when `classes` is not given.
    features
        The feature names, in the order the network reads them, if known up front.
    seed
        Seeds the initial weights and the replay draws (None: a random seed).

    Examples
    --------
    >>> from river import datasets, evaluate, metrics
    >>> from recipes.online_learning import KerasOnlineClassifier
    >>> model = KerasOnlineClassifier(seed=0)
    >>> score = evaluate.progressive_val_score(datasets.Phishing(), model, metrics.Accuracy())
    """

    def __init__(
        self,
        hidden: tuple = (64, 64),
        learning_rate: float = 1e-2,
        batch_size: int = 32,
        steps_per_batch: int = 2,
        replay: int = 128,
        memory: int = 2000,
        adapt: bool = True,
        boost: float = 2.0,
        boost_items: int = 1000,
        classes: tuple | None = None,
        max_classes: int = 16,
        features: tuple | None = None,
        seed: int | None = None,
    ):
        from river import drift

        self.hidden, self.learning_rate, self.batch_size = hidden, learning_rate, batch_size
        self.steps_per_batch, self.replay, self.memory = steps_per_batch, replay, memory
        self.adapt, self.boost, self.boost_items = adapt, boost, boost_items
        self.classes, self.max_classes, self.features, self.seed = classes, max_classes, features, seed
        positive = {
            "batch_size": batch_size,
            "steps_per_batch": steps_per_batch,
            "boost_items": boost_items,
            "max_classes": max_classes,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if memory < batch_size:  # a batch must fit in memory, or its rows overwrite each other
            raise ValueError(f"memory ({memory}) must be at least batch_size ({batch_size})")
        if not (learning_rate > 0 and boost > 0 and replay >= 0 and all(u >= 1 for u in hidden)):
            raise ValueError("learning_rate and boost must be positive, replay >= 0, hidden units >= 1")
        if classes is not None and len(set(classes)) < 2:
            raise ValueError(f"classes needs at least two distinct labels, not {classes!r}")
        self._seed = seed if seed is not None else random.randrange(2**31)
        self._labels = list(classes) if classes is not None else []
        self._index = {label: i for i, label in enumerate(self._labels)}
        self._features = tuple(features) if features is not None else None
        self._scaler = RunningScaler(len(features)) if features is not None else None
        self._detector = drift.ADWIN()
        self._boost_left = boost_items  # a new stream is a new concept: start boosted
        self._pending_x, self._pending_y = [], []  # items gathered for the next batch
        self._known = 0  # labels among the items learned
        self._layers = None  # the network's (kernel, bias) pairs as arrays, while they hold
        self._state = None  # the network, Adam and memory as arrays, while the engine holds another's
        self._chunk = CHUNK  # mini-batches per compiled call

    @classmethod
    def from_flags(cls, args, classes, features, seed: int) -> KerasOnlineClassifier:
        """The learner the recipe's flags describe."""
        return cls(
            hidden=tuple(args.hidden),
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            steps_per_batch=args.steps_per_batch,
            replay=args.replay,
            memory=args.memory,
            adapt=args.adapt,
            boost=args.boost,
            boost_items=args.boost_items,
            classes=tuple(classes),
            features=tuple(features),
            seed=seed,
        )

    @property
    def _multiclass(self) -> bool:
        return True

    # -- The compiled engine, shared by every learner of a shape in this process ----------------------

    def _engine(self) -> Engine:
        """The engine, holding this learner's state (the last holder's state is put aside first)."""
        engine = engine_for(self._key())
        holder = engine.holder()
        if holder is not self:
            if holder is not None:
                holder._state = engine.snapshot()
            if self._state is None:
                engine.reset(self._seed)
            else:
                engine.load(self._state)
            engine.owner, self._state = weakref.ref(self), None
        return engine

    @property
    def model(self):
        """The Keras network, with this learner's weights."""
        if self._features is None:
            raise ValueError("the network is built at the first item learned: nothing learned yet")
        return self._engine().model

    @property
    def scaler(self) -> RunningScaler:
        return self._scaler

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        engine = _ENGINES.get(self._key()) if self._features is not None else None
        if engine is not None and engine.holder() is self:
            state["_state"] = engine.snapshot()
        state["_layers"] = None  # read again from the state
        return state

    def _outputs(self) -> int:
        return len(self.classes) if self.classes is not None else self.max_classes

    def _key(self) -> tuple:
        return (
            len(self._features),
            self._outputs(),
            tuple(self.hidden),
            self.steps_per_batch,
            self.replay,
            self.memory,
            self.batch_size,
        )

    # -- Test-then-train over arrays: the recipe's loop, and learn_one / learn_many underneath -------

    def test_then_train(self, x: np.ndarray, y: np.ndarray):
        """Over (x, y) (features in `features` order, NaN for missing; class indices), one
        mini-batch at a time, the last one possibly short: yields the classes predicted for the
        batch by the weights as they stood before it was learned, and where in it ADWIN fired. Up to
        64 batches run in one compiled call; a drift inside them takes back those after it."""
        if self._features is None:
            self._set_features(tuple(range(x.shape[1])))
        if x.shape[1] != len(self._features):
            raise ValueError(f"x has {x.shape[1]} features, the learner reads {len(self._features)}")
        b, n, start = self.batch_size, len(x), 0
        while start < n:
            first = start
            xc, yc = x[start : start + self._chunk * b], y[start : start + self._chunk * b]
            before = (self._boost_left, dict(vars(self._scaler)))
            for k, predicted in enumerate(self._run(xc, yc)):
                fired, drift = self._watch(predicted == y[start : start + len(predicted)])
                yield predicted, fired
                start += len(predicted)
                if drift and self.adapt:  # the next chunk starts right after this batch
                    self._adapt(xc, yc, k + 1, before)
                    break
            self._known = max(self._known, int(y[first:start].max()) + 1)
            if not all(np.isfinite(w).all() for w in self.model.get_weights()):
                raise Diverged(  # a NaN network predicts class 0 for ever: nothing to report
                    f"the learner's weights became NaN or infinite by item {start:,}: the training "
                    "diverged (a lower --learning-rate, or scaled inputs, may help)"
                )

    def _run(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """Predict then learn x's mini-batches in one compiled call; the predictions."""
        engine, b, n = self._engine(), self.batch_size, len(x)
        batches = -(-n // b)
        xs = np.zeros((CHUNK * b, x.shape[1]), np.float32)
        ys = np.zeros(CHUNK * b, np.int32)
        xs[:n], ys[:n] = self._scaler.scale(x, b), y
        weights = (np.arange(CHUNK * b) < n).astype(np.float32)  # a ragged last batch: zero-weight rows
        sizes = np.minimum(b, n - b * np.arange(batches))
        rates = np.zeros(CHUNK, np.float32)
        rates[:batches] = self._learning_rates(sizes)
        # outputs given a label by the end of each batch: those of the items learned before, and
        # of this chunk's up to that batch (labels are numbered as they first come)
        known = np.full(CHUNK, self._outputs(), np.int32)
        if self.classes is None:
            ends = np.minimum(b * np.arange(1, batches + 1), n) - 1
            known[:batches] = np.maximum(self._known, np.maximum.accumulate(y)[ends] + 1)
        inputs = xs.reshape(CHUNK, b, -1), ys.reshape(CHUNK, b), weights.reshape(CHUNK, b)
        predicted = engine.run(*inputs, rates, known, np.int32(batches)).numpy()
        self._layers = None
        return [predicted[k, :m] for k, m in enumerate(sizes)]

    def _watch(self, hits: np.ndarray) -> tuple[list[int], bool]:
        """ADWIN on a batch's errors: where in the batch it fired, and whether it saw a change with
        the error rate up (it also changes, down, while the model learns: that is no drift)."""
        error_before = self._detector.estimation
        fired = adwin_fired(self._detector, hits)
        return fired, bool(fired) and self._detector.estimation > error_before

    def _adapt(self, x: np.ndarray, y: np.ndarray, learned: int, before) -> None:
        """A drift in the `learned`-th batch of the chunk (x, y): take back the batches after it
        (learned under the old concept), then forget Adam's moment estimates and the remembered
        items of the old concept, and boost the learning rate again."""
        engine, cut = self._engine(), learned * self.batch_size
        self._boost_left, scaler = before
        if cut < len(x):  # relearn up to that batch from the chunk's start
            engine.roll_back()
            vars(self._scaler).update(scaler)
            self._run(x[:cut], y[:cut])
        reset_optimizer(engine.optimizer)
        self._boost_left, self._layers = self.boost_items, None
        engine.since.assign(engine.stored)

    def _learning_rates(self, sizes: np.ndarray) -> np.ndarray:
        """Adam's rate for each of these batches: the boost decays linearly back to the base rate over
        `boost_items` items after the start of the stream or a drift."""
        left = np.maximum(0, self._boost_left - np.concatenate([[0], np.cumsum(sizes)[:-1]]))
        self._boost_left = max(0, self._boost_left - int(sizes.sum()))
        return self.learning_rate * (1 + (self.boost - 1) * left / self.boost_items)

    # -- river's interface ------------------------------------------------------------------------------

    def learn_one(self, x: dict, y, **kwargs) -> None:
        if self._features is None:
            self._set_features(tuple(sorted(x, key=repr)))
        row, (label,) = self._row(x), self._label_indices([y])  # both checked before either is queued
        self._pending_x.append(row)
        self._pending_y.append(label)
        if len(self._pending_y) == self.batch_size:
            self._learn_pending(np.empty((0, len(self._features))), [])

    def learn_many(self, X, y, **kwargs) -> None:
        """Learn a frame of items (and the ones gathered before them), a full mini-batch at a time."""
        if self._features is None:
            self._set_features(tuple(sorted(X.columns, key=repr)))
        labels = list(y)
        if len(labels) != len(X):
            raise ValueError(f"{len(X)} items and {len(labels)} labels: one label per item")
        rows = self._rows(X)
        self._learn_pending(rows, self._label_indices(labels))

    def predict_proba_one(self, x: dict, **kwargs) -> dict:
        if not self._labels or self._features is None:
            return {}  # nothing learned yet
        return self._probabilities(self._row(x)[None])[0]

    def predict_proba_many(self, X):
        import pandas as pd

        if not self._labels or self._features is None:
            return pd.DataFrame(index=X.index)
        rows = self._probabilities(self._rows(X))
        return pd.DataFrame(rows, index=X.index, columns=self._labels)

    def _probabilities(self, rows: np.ndarray) -> list[dict]:
        """Each row's probability of each known label, by the weights and scaling as they stand: the
        network's forward pass in NumPy, as a compiled call costs half a millisecond per item."""
        if self._layers is None:  # read once after each learning call
            weights = self.model.get_weights()
            self._layers = list(zip(weights[::2], weights[1::2]))
        h = self._scaler.apply(rows)
        for kernel, bias in self._layers[:-1]:
            h = np.maximum(h @ kernel + bias, 0.0)  # Dense + ReLU
        kernel, bias = self._layers[-1]
        logits = (h @ kernel + bias)[:, : len(self._labels)].astype(np.float64)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))  # softmax over the known labels
        p /= p.sum(axis=1, keepdims=True)
        return [dict(zip(self._labels, row.tolist())) for row in p]

    def _learn_pending(self, rows: np.ndarray, labels: list[int]) -> None:
        x = np.concatenate([np.reshape(self._pending_x, (-1, len(self._features))), rows])
        y = np.asarray(self._pending_y + labels, np.int64)
        full = len(y) // self.batch_size * self.batch_size
        for _ in self.test_then_train(x[:full], y[:full]):
            pass
        self._pending_x, self._pending_y = list(x[full:]), y[full:].tolist()

    def _set_features(self, features: tuple) -> None:
        """The features every item is read by: the first item's (or frame's), or `features=`."""
        if not features:  # a network of no inputs: refused here, not deep inside Keras
            raise ValueError("the first item has no features; pass features= or start with a full item")
        self._features, self._scaler = features, RunningScaler(len(features))

    def _row(self, x: dict) -> np.ndarray:
        """An item's values in feature order: NaN for a missing (or non-finite) one."""
        try:
            row = np.array([x.get(name, np.nan) for name in self._features], np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"features must be numbers (one-hot encode the others): {x!r}") from None
        return self._checked(row[None])[0]

    def _rows(self, X) -> np.ndarray:
        try:
            rows = X.reindex(columns=list(self._features)).to_numpy(np.float64)
        except (TypeError, ValueError):
            raise ValueError("features must be numbers (one-hot encode the others)") from None
        return self._checked(rows)

    def _checked(self, rows: np.ndarray) -> np.ndarray:
        """NaN for a missing (or non-finite) value; ValueError for a finite one beyond what float32
        training can hold (one 1e300 once turned every weight, and every later probability, NaN)."""
        large = np.isfinite(rows) & (np.abs(rows) > MAX_MAGNITUDE)
        if large.any():
            i, j = np.argwhere(large)[0]
            raise ValueError(
                f"feature {self._features[j]!r} is {rows[i, j]:.3g}, beyond ±{MAX_MAGNITUDE:.0e}: "
                "too large to learn from in float32; rescale it"
            )
        return np.where(np.isfinite(rows), rows, np.nan)

    def _label_indices(self, labels: list) -> list[int]:
        """Each label's class index, every label checked (hashable, one of `classes`, at most
        `max_classes` in all) before a new one is recorded: a rejected label changes nothing, so
        the labels that follow it stay paired with their own items."""
        new: dict = {}  # labels first seen here -> their index, recorded only once all passed
        for label in labels:
            if label is None or (isinstance(label, (float, np.floating)) and np.isnan(label)):
                raise ValueError(f"label {label!r} is missing: an item is learned with its label")
            try:
                known = label in self._index or label in new
            except TypeError:
                raise ValueError(f"label {label!r} is not hashable") from None
            if known:
                continue
            if self.classes is not None:
                raise ValueError(f"label {label!r} is not one of classes={self.classes!r}")
            if len(self._labels) + len(new) == self.max_classes:
                raise ValueError(f"label {label!r}: more than max_classes={self.max_classes} labels")
            new[label] = len(self._labels) + len(new)
        self._index.update(new)
        self._labels.extend(new)
        return [self._index[label] for label in labels]
