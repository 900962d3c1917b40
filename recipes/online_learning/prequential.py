"""The machinery of test-then-train evaluation: the tracker of every scored item (with ADWIN and a
progress bar), rolling accuracy and recovery after a drift, the river and scikit-learn baselines on
the same stream. A (stream, learner, seed) run is one stage of the run's checkpoint (common/harness):
a killed run resumed with --resume reads the finished ones back and runs the unfinished one again."""

from __future__ import annotations

import gc
import math
import time

import numpy as np

from common.training import Progress
from recipes.online_learning.learner import adwin_fired

WINDOW = 500  # rolling-accuracy window (items)
SAMPLES = 200  # rolling-accuracy points kept per learner
BASELINES = ("river_lr", "river_hatc", "river_arf", "sklearn_sgd")


# -- Scoring ------------------------------------------------------------------------------------------


class Tracker:
    """Correctness of every scored item, ADWIN on the errors, the learner's clock and its progress."""

    def __init__(self, n: int, label: str, show: bool):
        from river import drift

        self.started = time.perf_counter()
        self.correct = np.zeros(n, dtype=bool)
        self.detector, self.drift_points, self.seen, self.seconds = drift.ADWIN(), [], 0, 0.0
        self.bar = Progress(n, label, "items", show)  # a bar on a terminal, else a line now and then

    def score(self, hits: np.ndarray, fired: list[int] | None = None) -> None:
        """Record a batch of hits, and where in it ADWIN fired: `fired` from the learner's own ADWIN,
        or (None) from this tracker's, fed the batch's errors."""
        start = self.seen
        self.correct[start : start + len(hits)] = hits
        if fired is None:
            fired = adwin_fired(self.detector, hits)
        self.drift_points += [start + i for i in fired]
        self.seen += len(hits)
        note = None
        if self.seen % 1024 < len(hits):
            window = self.correct[max(0, self.seen - WINDOW) : self.seen]
            note = f"rolling accuracy {window.mean():.3f}"
        self.bar.update(len(hits), note)

    def score_one(self, hit: bool) -> None:
        """One item (the per-item baselines): the same bookkeeping without array overhead."""
        self.correct[self.seen] = hit
        self.detector.update(0 if hit else 1)
        if self.detector.drift_detected:
            self.drift_points.append(self.seen)
        self.seen += 1
        note = None
        if self.seen % 1024 == 0:
            window = self.correct[self.seen - WINDOW : self.seen]
            note = f"rolling accuracy {window.mean():.3f}"
        self.bar.update(1, note)

    def elapsed(self) -> float:
        """Seconds the learner has run."""
        return self.seconds + time.perf_counter() - self.started

    def lap(self) -> None:
        """Bring `seconds` up to now."""
        now = time.perf_counter()
        self.seconds += now - self.started
        self.started = now

    def close(self) -> None:
        self.bar.close()
        self.lap()


# -- Evaluate -----------------------------------------------------------------------------------------


def rolling(correct: np.ndarray, positions) -> list[float]:
    """Accuracy over the last WINDOW items (fewer at the start) at each position."""
    cs = np.concatenate([[0], np.cumsum(correct)])
    return [float((cs[t] - cs[max(0, t - WINDOW)]) / min(t, WINDOW)) for t in positions]


def rolling_positions(n: int) -> list[int]:
    step = max(1, n // SAMPLES)
    return list(range(step, n + 1, step))


def recovery_samples(correct: np.ndarray, drift: int | None):
    """Items after the known drift until rolling accuracy, once it has fallen more than 2 points below
    its level over the WINDOW items before the drift, is back within 2 points (0: it never fell;
    None: no known drift, or it never came back)."""
    if drift is None or len(correct) <= drift or drift < WINDOW:
        return None
    level = correct[drift - WINDOW : drift].mean() - 0.02
    after = np.array(rolling(correct, range(drift + 1, len(correct) + 1)))
    low = np.flatnonzero(after < level)
    if not len(low):
        return 0
    back = np.flatnonzero(after[low[0] :] >= level)
    return int(low[0] + back[0] + 1) if len(back) else None


def learner_summary(tracker: Tracker, seen: int) -> dict:
    """One learner's run on a stream: accuracy over the items it scored, speed, rolling accuracy,
    ADWIN's drift points; `_correct` (every hit) until recovery is measured."""
    correct = tracker.correct[:seen]
    positions = rolling_positions(len(tracker.correct))
    return {
        "accuracy": float(correct.mean()) if seen else 0.0,
        "items_seen": int(seen),
        "items_per_second": seen / max(tracker.seconds, 1e-9),
        "seconds": tracker.seconds,
        "rolling_accuracy": rolling(correct, [t for t in positions if t <= seen]),
        "drift_points": [int(p) for p in tracker.drift_points],
        "_correct": correct,
    }


# -- Baselines: river's per-item learners and scikit-learn's mini-batch SGD ---------------------------


def make_baseline(name: str, num_classes: int, seed: int):
    from river import forest, linear_model, multiclass, preprocessing, tree

    if name == "river_lr":
        lr = linear_model.LogisticRegression()
        return preprocessing.StandardScaler() | (
            lr if num_classes == 2 else multiclass.OneVsRestClassifier(lr)
        )
    if name == "river_hatc":
        return tree.HoeffdingAdaptiveTreeClassifier(seed=seed)
    if name == "river_arf":
        return forest.ARFClassifier(seed=seed)
    from sklearn.linear_model import SGDClassifier
    from sklearn.preprocessing import StandardScaler

    return {"scaler": StandardScaler(), "model": SGDClassifier(random_state=seed), "fitted": False}


def baseline_on_stream(name, x, y, num_classes, args, key) -> dict:
    """One baseline, test-then-train over the stream (ARF stops, unfinished, past --arf-budget)."""
    n = len(x)
    gc.collect()  # the last learner's garbage, so that no timed run pays for another's
    tracker = Tracker(n, key, not args.quiet)
    model = make_baseline(name, num_classes, args.seed)
    budget = args.arf_budget if name == "river_arf" else math.inf
    finished = True
    if name == "sklearn_sgd":
        classes = np.arange(num_classes)
        for s in range(tracker.seen, n, args.batch_size):
            xb, yb = x[s : s + args.batch_size], y[s : s + args.batch_size]
            scaler = model["scaler"].partial_fit(xb)
            xs = scaler.transform(xb)
            # before its first update the model cannot predict: score it as predicting class 0
            predicted = model["model"].predict(xs) if model["fitted"] else np.zeros(len(yb), int)
            tracker.score(predicted == yb)
            model["model"].partial_fit(xs, yb, classes=classes)
            model["fitted"] = True
    else:
        names = [str(j) for j in range(x.shape[1])]
        for i in range(tracker.seen, n):
            features, label = dict(zip(names, x[i].tolist())), int(y[i])
            predicted = model.predict_one(features)
            tracker.score_one(predicted is not None and int(predicted) == label)
            model.learn_one(features, label)
            if i % 256 == 255 and tracker.elapsed() > budget:
                finished = False
                break
    tracker.close()
    result = learner_summary(tracker, tracker.seen)
    result["finished"] = finished
    return result
