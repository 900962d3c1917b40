"""The source and target tasks of each scenario, and k labelled examples per class of a target."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from common import data

NUM_CLASSES = 10  # both data sets: digits 0-9
# the target of the `shift` scenario: MNIST-1D's generator with stronger transformations than the
# published set's (iid noise 0.02, correlated noise 0.25, shear 0.75, scale 0.4, translation 48)
SHIFTED_MNIST1D = {
    "iid_noise_scale": 0.04,
    "corr_noise_scale": 0.35,
    "shear_scale": 0.9,
    "scale_coeff": 0.5,
    "max_translation": 60,
}


@dataclass
class TargetTask:
    """The target: a labelled pool that k examples per class are drawn from, a test split, and what
    it is; `same_labels`: its classes are the source's (the source's head can be copied as it is)."""

    name: str
    description: str
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    same_labels: bool = False


def select(x, y, classes):
    """The examples of `classes`, relabelled 0..len(classes)-1 in that order."""
    keep = np.isin(y, classes)
    relabel = {c: i for i, c in enumerate(classes)}
    return x[keep], np.array([relabel[int(c)] for c in y[keep]], dtype=np.int64)


def load_tasks(args) -> tuple[data.Split, TargetTask]:
    """(source, target): the source's train / validation / test split, the target's pool and test.

    The target's `x_pool` is the labelled training data k examples per class are drawn from. With
    --target-data, the target is the user's (`user_target`).
    """
    source, target = scenario_tasks(args)
    # the shift scenario's classes are the source's digits: its head can be copied as it is
    target.same_labels = args.scenario == "shift"
    if args.target_data:  # the user's labels: nothing says they are the source's
        target = user_target(args.target_data, args.target_column, source.x_train.shape[1], args)
    return source, target


def print_tasks(source: data.Split, target: TargetTask) -> None:
    """One line for each task: what it is and how many examples it has."""
    train, test = len(source.x_train), len(source.x_test)
    print(f"source: {source.description}, {train} train / {test} test", flush=True)
    pool, test = len(target.x_pool), len(target.x_test)
    print(f"target: {target.description}, pool {pool} / {test} test", flush=True)


def user_target(spec: str, column: str | None, width: int, args) -> TargetTask:
    """A user's target task: a CSV's rows or an .npz's `x` rows, each `width` numbers (what the
    source network reads), with their labels; a stratified 80% pool and 20% test set."""
    from pathlib import Path

    from common.errors import UsageError

    if spec.startswith("csv:"):
        x, y, classes, *_ = data.load_csv_table(spec[len("csv:") :], column)
    else:
        x, y, classes = data.read_labelled_npz(spec)
        x = x.reshape(len(x), -1)
    if x.shape[1] != width:
        raise UsageError(
            f"{spec}: {x.shape[1]} numbers per example; the source network reads {width} "
            f"(--scenario {args.scenario}, {args.dataset})"
        )
    x_pool, y_pool, x_test, y_test = data.hold_out_test(spec, x, y, args.seed, stratify_from=2)
    unseen = sorted(set(y_test.tolist()) - set(y_pool.tolist()))
    if unseen:  # tested on classes with no example to learn from: a 0.000 that says nothing
        names = ", ".join(repr(classes[c]) for c in unseen[:5]) + (", ..." if len(unseen) > 5 else "")
        raise UsageError(
            f"{spec}: class(es) {names} have no example left to learn from once 20% is held out for "
            "testing: give each class at least 2 examples"
        )
    name = Path(spec.split(":", 1)[1]).name
    names = [str(c) for c in classes]
    return TargetTask(name, f"your data: {spec}", x_pool, y_pool, x_test, y_test, names)


def scenario_tasks(args) -> tuple[data.Split, TargetTask]:
    """The scenario's own source and target."""
    if args.scenario == "shift":
        return shifted_mnist1d_tasks(args)
    split = data.load_digits_split(seed=args.seed) if args.dataset == "digits" else None
    split = split or data.load_mnist1d_split(seed=args.seed)
    if args.quick:
        split.x_train, split.y_train = data.subsample(split.x_train, split.y_train, 1000, args.seed)
    a, b = args.source_classes, args.target_classes
    name = f"{split.name} {','.join(map(str, a))}"
    source = data.Split(
        name,
        *select(split.x_train, split.y_train, a),
        *select(split.x_val, split.y_val, a),
        *select(split.x_test, split.y_test, a),
        class_names=[str(c) for c in a],
        description=name,
    )
    pool_x = np.concatenate([split.x_train, split.x_val])
    pool_y = np.concatenate([split.y_train, split.y_val])
    name = f"{split.name} {','.join(map(str, b))}"
    pool, test = select(pool_x, pool_y, b), select(split.x_test, split.y_test, b)
    return source, TargetTask(name, name, *pool, *test, [str(c) for c in b])


def shifted_mnist1d_tasks(args) -> tuple[data.Split, TargetTask]:
    """MNIST-1D as published -> MNIST-1D regenerated with --target-seed and SHIFTED_MNIST1D."""
    overrides = {"num_samples": 1000} if args.quick else {}  # --quick: smoke data only
    published = data.load_mnist1d_split(seed=args.seed, **overrides)
    source = replace(published, name="MNIST-1D", description="MNIST-1D as published")
    shifted = data.mnist1d_dataset(seed=args.target_seed, **SHIFTED_MNIST1D, **overrides)
    target = TargetTask(
        name=f"shifted MNIST-1D (seed {args.target_seed})",
        description=f"MNIST-1D regenerated with seed {args.target_seed} and "
        + ", ".join(f"{k} {v}" for k, v in SHIFTED_MNIST1D.items()),
        x_pool=shifted["x"].astype(np.float32),
        y_pool=shifted["y"].astype(np.int64),
        x_test=shifted["x_test"].astype(np.float32),
        y_test=shifted["y_test"].astype(np.int64),
        class_names=source.class_names,
    )
    return source, target


def sample_per_class(x, y, k: str, seed: int):
    """k labelled examples of each class (all of them for 'all', or when a class has fewer)."""
    if k == "all":
        return x, y
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(y == c))[: int(k)] for c in np.unique(y)]
    order = np.sort(np.concatenate(chosen))
    return x[order], y[order]
