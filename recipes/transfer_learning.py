"""
Title: Transfer learning by copying weights layer by layer
Description: Pretrain, copy weights with get_weights/set_weights, and measure when transfer pays.
Accelerator: none needed (a GPU is used when TensorFlow sees one)

What it shows: the right way to move what one network learned into another. The original tutorial
called `target.load_weights(source.get_weights())`, which is wrong twice over: `load_weights` reads a
file, not a list of arrays, and a list of arrays carries no layer names. Here `transfer(...)` builds the
target model, copies weights layer by layer with `get_weights()` / `set_weights()` matching layers by
name, and returns the names it copied; a mismatch raises an error naming each layer and both shapes.

The same target data is learned five ways, over `--seeds` seeds and k labelled examples per class:
`scratch` (fresh weights); `frozen` (copied feature layers with `trainable=False`, a new head trained);
`finetune` (the frozen model, then everything unfrozen and recompiled at a 10x lower learning rate);
`full` (the head copied too, then everything fine-tuned at the lower rate: only where the label sets
match); and `AnB-n` (Yosinski et al. 2014: the first n feature blocks copied and frozen, the rest
re-initialised and trained, for every n). Copied BatchNormalization layers stay `trainable=False`, which
in Keras 3 keeps them in inference mode, so fine-tuning on a handful of examples cannot overwrite the
source's statistics.

Scenarios (`--scenario`):
- `shift` (default): source MNIST-1D as published (4000 training sequences, 10 classes); target MNIST-1D
  regenerated with `--target-seed` 7 and shifted transformations (iid noise 0.04 instead of 0.02,
  correlated noise 0.35 instead of 0.25, shear 0.9 instead of 0.75, scale 0.5 instead of 0.4, maximum
  translation 60 instead of 48), evaluated on its full 1000-sequence test split. The source model is
  also applied to the target with no target labels at all (`zero_shot_target_accuracy`).
- `split`: Yosinski et al.'s setting on a small scale: disjoint classes of one data set (`--dataset
  digits` by default, or `mnist1d`), `--source-classes 0,1,2,3,4` and `--target-classes 5,6,7,8,9`. Here
  transfer can hurt: features learned on five digits are specific to them. It is reported as measured.

Run:
    python -m recipes.transfer_learning                     # shift, 3 seeds (about 3.5 min on 2 cores)
    python -m recipes.transfer_learning --scenario split    # digits 0-4 -> 5-9 (about 1.5 min)
    python -m recipes.transfer_learning --pretrained outputs/transfer_learning/pretrained.weights.h5
    python -m recipes.transfer_learning --quick             # smoke run, about 25 s: k in {1, 5, all},
                                                            # 1 seed, 50 steps, 1000 MNIST-1D sequences

Writes to outputs/transfer_learning/ (the split run to outputs/transfer_learning/split/): metrics.json,
pretrained.weights.h5 and pretrained.architecture.json (reuse them with --pretrained),
accuracy_vs_labels.png, anb_layers.png, source_vs_target_examples.png (drawn from examples.npz).

Measured (default runs, 3 seeds, 2-core CPU): shift at k=5, scratch 0.161, frozen 0.522, finetune
0.496, full 0.653, the source model with no target labels 0.666; split (digits) at k=5, scratch 0.828,
frozen 0.715, finetune 0.830, and AnB-4 0.792 against scratch 0.964 with every label.

Reference: Yosinski, Clune, Bengio & Lipson (2014), 'How transferable are features in deep neural
networks?', NeurIPS (the AnB-n experiment, qualitatively); the source network beside the MNIST-1D
paper's CNN, 0.94 (ours: 0.950).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import common  # noqa: F401  (quiet TensorFlow's start-up logs)
from common import data as D
from common.cli import (
    UsageError,
    non_negative_int,
    positive_float,
    positive_int,
    recipe_parser,
    run_main,
)
from common.results import (
    atomic_write_text,
    finish_run,
    load_arrays,
    mean_std,
    save_arrays,
)

NAME = "transfer_learning"
SCENARIOS = ("shift", "split")
DATASETS = ("digits", "mnist1d")
MODES = ("scratch", "frozen", "finetune", "full")
NUM_CLASSES = 10  # both data sets: digits 0-9
LABEL_BUDGETS = "1,2,5,10,20,50,all"
# the target of the `shift` scenario: MNIST-1D's generator with stronger transformations
SHIFT = {
    "iid_noise_scale": 0.04,
    "corr_noise_scale": 0.35,
    "shear_scale": 0.9,
    "scale_coeff": 0.5,
    "max_translation": 60,
}
BLOCKS = 4  # feature blocks: three convolutions and one dense layer, each with BatchNormalization
FINETUNE_LR_FACTOR = 10
STEPS_PER_EXECUTION = 50  # gradient steps per call into TensorFlow: tiny models, little Python overhead
WEIGHTS_FILE = "pretrained.weights.h5"
ARCHITECTURE_FILE = "pretrained.architecture.json"


class TransferError(ValueError):
    """Weights that do not fit the model they are copied into; the message names every bad layer."""


def class_list(text: str) -> list[int]:
    """An argparse type for `0,1,2`: distinct digit classes, at least two."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    classes = []
    for item in items:
        if not item.isdigit() or int(item) >= NUM_CLASSES:
            raise argparse.ArgumentTypeError(f"unknown class {item!r}; valid: 0-{NUM_CLASSES - 1}")
        classes.append(int(item))
    classes = list(dict.fromkeys(classes))
    if len(classes) < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 classes, got {len(classes)}")
    return classes


def label_budgets(text: str) -> list[str]:
    """An argparse type for `1,5,all`: labelled examples per class, `all` for the whole pool."""
    budgets = []
    for item in (item.strip() for item in text.split(",") if item.strip()):
        if item != "all" and not (item.isdigit() and int(item) >= 1):
            raise argparse.ArgumentTypeError(f"expected positive integers or 'all', got {item!r}")
        budgets.append(item)
    if not budgets:
        raise argparse.ArgumentTypeError("expected a comma-separated list, got nothing")
    return sorted(dict.fromkeys(budgets), key=lambda k: math.inf if k == "all" else int(k))


def build_parser():
    parser = recipe_parser(
        NAME,
        "Pretrain a network, copy its weights layer by layer, and measure when transfer pays.",
        default_epochs=60,
        default_seeds=3,
    )
    own = parser.add_argument_group("transfer_learning flags")
    own.add_argument("--scenario", choices=SCENARIOS, default="shift", help="which transfer task")
    own.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help="data set of the split scenario (default: digits); shift always uses mnist1d",
    )
    own.add_argument(
        "--source-classes",
        type=class_list,
        default="0,1,2,3,4",
        help="split scenario: classes the source model learns",
    )
    own.add_argument(
        "--target-classes",
        type=class_list,
        default="5,6,7,8,9",
        help="split scenario: classes of the target task (disjoint from the source's)",
    )
    own.add_argument(
        "--target-seed",
        type=non_negative_int,
        default=7,
        help="shift scenario: seed of the regenerated MNIST-1D target",
    )
    own.add_argument(
        "--labels-per-class",
        type=label_budgets,
        default=LABEL_BUDGETS,
        help="target training sizes k (labelled examples per class); 'all' is the whole pool",
    )
    own.add_argument(
        "--anb-labels",
        type=label_budgets,
        default="all",
        help="labelled examples per class for the AnB-n curve (one value)",
    )
    own.add_argument(
        "--pretrained",
        default=None,
        metavar="PATH",
        help=f"reuse a saved {WEIGHTS_FILE} (with its {ARCHITECTURE_FILE} beside it)",
    )
    own.add_argument("--batch-size", type=positive_int, default=64, help="mini-batch size")
    own.add_argument(
        "--learning-rate",
        type=positive_float,
        default=1e-3,
        help=f"Adam step size (fine-tuning uses it / {FINETUNE_LR_FACTOR})",
    )
    own.add_argument(
        "--target-steps",
        type=positive_int,
        default=300,
        help="gradient steps per target training (at least --target-epochs passes over the data)",
    )
    own.add_argument(
        "--target-epochs",
        type=positive_int,
        default=20,
        help="minimum passes over the target data (matters for large k)",
    )
    own.add_argument(
        "--patience", type=positive_int, default=5, help="pretraining early-stopping patience"
    )
    return parser


# -- Prepare the data ---------------------------------------------------------------------------------


def validate(args) -> None:
    """Everything that can be wrong with the flags, found before anything is written."""
    if args.scenario == "shift":
        if args.dataset not in (None, "mnist1d"):
            raise UsageError(
                "the shift scenario uses mnist1d (--dataset digits is for --scenario split)"
            )
        args.dataset = "mnist1d"
    else:
        args.dataset = args.dataset or "digits"
        if isinstance(args.source_classes, str):  # argparse leaves string defaults to the type
            args.source_classes = class_list(args.source_classes)
        if isinstance(args.target_classes, str):
            args.target_classes = class_list(args.target_classes)
        overlap = sorted(set(args.source_classes) & set(args.target_classes))
        if overlap:
            raise UsageError(
                "--source-classes and --target-classes must be disjoint; both contain "
                + ",".join(map(str, overlap))
            )
    for name in ("labels_per_class", "anb_labels"):
        if isinstance(getattr(args, name), str):
            setattr(args, name, label_budgets(getattr(args, name)))
    if len(args.anb_labels) != 1:
        raise UsageError(f"--anb-labels takes one value, got {','.join(args.anb_labels)}")
    args.anb_labels = args.anb_labels[0]
    if args.pretrained is not None:
        path = Path(args.pretrained)
        if not path.is_file():
            raise UsageError(f"--pretrained: no such file: {path}")
        if not path.name.endswith(".weights.h5"):
            raise UsageError(f"--pretrained: expected a .weights.h5 file, got {path.name}")
        if not architecture_path(path).is_file():
            raise UsageError(f"--pretrained: no {architecture_path(path).name} beside {path}")


def select(x, y, classes):
    """The examples of `classes`, relabelled 0..len(classes)-1 in that order."""
    keep = np.isin(y, classes)
    relabel = {c: i for i, c in enumerate(classes)}
    return x[keep], np.array([relabel[int(c)] for c in y[keep]], dtype=np.int64)


def load_tasks(args) -> tuple[dict, dict]:
    """(source, target): each with x/y train (source also val), test, class names, a description.

    The target's `x_pool` is the labelled training data k examples per class are drawn from.
    """
    if args.scenario == "shift":
        overrides = {"num_samples": 1000} if args.quick else {}  # --quick: smoke data only
        published = D.mnist1d_dataset(**overrides)
        x, y = published["x"].astype(np.float32), published["y"].astype(np.int64)
        x_tr, y_tr, x_val, y_val = D.carve_validation(x, y, 0.1, args.seed)
        shifted = D.mnist1d_dataset(seed=args.target_seed, **SHIFT, **overrides)
        names = [str(d) for d in range(NUM_CLASSES)]
        source = {
            "x_train": x_tr,
            "y_train": y_tr,
            "x_val": x_val,
            "y_val": y_val,
            "x_test": published["x_test"].astype(np.float32),
            "y_test": published["y_test"].astype(np.int64),
            "classes": names,
            "description": "MNIST-1D as published",
            "name": "MNIST-1D",
        }
        target = {
            "x_pool": shifted["x"].astype(np.float32),
            "y_pool": shifted["y"].astype(np.int64),
            "x_test": shifted["x_test"].astype(np.float32),
            "y_test": shifted["y_test"].astype(np.int64),
            "classes": names,
            "description": f"MNIST-1D regenerated with seed {args.target_seed} and "
            + ", ".join(f"{k} {v}" for k, v in SHIFT.items()),
            "name": f"shifted MNIST-1D (seed {args.target_seed})",
        }
        return source, target

    split = D.load_digits_split(seed=args.seed) if args.dataset == "digits" else None
    split = split or D.load_mnist1d_split(seed=args.seed)
    if args.quick:
        split.x_train, split.y_train = D.subsample(split.x_train, split.y_train, 1000, args.seed)
    a, b = args.source_classes, args.target_classes
    source = dict(zip(("x_train", "y_train"), select(split.x_train, split.y_train, a)))
    source.update(zip(("x_val", "y_val"), select(split.x_val, split.y_val, a)))
    source.update(zip(("x_test", "y_test"), select(split.x_test, split.y_test, a)))
    source["classes"] = [str(c) for c in a]
    source["description"] = source["name"] = f"{split.name} {','.join(map(str, a))}"
    pool_x = np.concatenate([split.x_train, split.x_val])
    pool_y = np.concatenate([split.y_train, split.y_val])
    target = dict(zip(("x_pool", "y_pool"), select(pool_x, pool_y, b)))
    target.update(zip(("x_test", "y_test"), select(split.x_test, split.y_test, b)))
    target["classes"] = [str(c) for c in b]
    target["description"] = target["name"] = f"{split.name} {','.join(map(str, b))}"
    return source, target


def sample_per_class(x, y, k: str, seed: int):
    """k labelled examples of each class (all of them for 'all', or when a class has fewer)."""
    if k == "all":
        return x, y
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(y == c))[: int(k)] for c in np.unique(y)]
    order = np.sort(np.concatenate(chosen))
    return x[order], y[order]


# -- Build the model ----------------------------------------------------------------------------------


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
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


# -- Transfer -----------------------------------------------------------------------------------------


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


# -- Train --------------------------------------------------------------------------------------------


class Trainer:
    """One compiled model per training configuration, reused across seeds and label budgets.

    Compiling and tracing a fresh Keras model costs about two seconds on 2 cores, more than most of
    these trainings take, so each configuration (which blocks are frozen, which BatchNorms run in
    inference mode, which learning rate) is compiled once. A run starts by copying its starting
    weights in, by name, and zeroing the optimizer's state: the same start as a fresh model.
    """

    def __init__(self, model, learning_rate: float):
        self.model = compile_model(model, learning_rate)

    def fit(self, start, x, y, steps: int, batch_size: int, seed: int) -> None:
        import tensorflow as tf

        copy_weights(start, self.model, weighted_layer_names(start))
        for variable in self.model.optimizer.variables:
            if "learning_rate" not in variable.path:
                variable.assign(np.zeros(variable.shape, variable.dtype))
        data = (
            tf.data.Dataset.from_tensor_slices((x, y))
            .cache()
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(min(batch_size, len(x)))
            .prefetch(tf.data.AUTOTUNE)
        )
        self.model.fit(data, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)

    def accuracy(self, x, y) -> float:
        return float(self.model.evaluate(x, y, batch_size=1024, verbose=0)[1])


def target_steps(n: int, args) -> int:
    """At least --target-steps and --target-epochs passes, rounded up to whole executions."""
    passes = math.ceil(args.target_epochs * n / min(args.batch_size, n))
    steps = max(args.target_steps, passes)
    return STEPS_PER_EXECUTION * math.ceil(steps / STEPS_PER_EXECUTION)


def pretrain(source: dict, arch: dict, args):
    """Train the source model with early stopping on its validation split."""
    import keras

    from common.training import make_dataset, seed_everything, standard_callbacks

    seed_everything(args.seed)
    model = build_model(arch)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    train = make_dataset(source["x_train"], source["y_train"], args.batch_size, True, args.seed)
    val = make_dataset(source["x_val"], source["y_val"], 1024)
    history = model.fit(
        train,
        validation_data=val,
        epochs=args.epochs,
        shuffle=False,  # the tf.data pipeline already reshuffles every epoch, seeded
        verbose=0,
        callbacks=standard_callbacks(
            args.patience,
            tensorboard_dir=Path(args.output_dir) / "logs" / "pretrain" if args.tensorboard else None,
        ),
    )
    return model, len(history.history["loss"])


def architecture_path(weights_path: Path) -> Path:
    return weights_path.with_name(weights_path.name[: -len(".weights.h5")] + ".architecture.json")


def source_task(args) -> dict:
    """What the source model was trained on; a reused model must have learned the same task."""
    task = {"scenario": args.scenario, "dataset": args.dataset}
    if args.scenario == "split":
        task["source_classes"] = list(args.source_classes)
    return task


def load_pretrained(path: Path, arch: dict, args):
    """A saved source model, checked against the one this run needs; UsageError when it does not fit."""
    try:
        saved = json.loads(architecture_path(path).read_text(encoding="utf-8"))
        saved_arch, saved_task = saved["architecture"], saved["task"]
        model = build_model(saved_arch)
    except Exception as error:  # not JSON, missing keys, an architecture we cannot build
        raise UsageError(
            f"--pretrained: cannot read {architecture_path(path)} ({type(error).__name__}: {error})"
        ) from None
    try:
        model.load_weights(path)
    except Exception as error:  # not HDF5, truncated, another model's weights
        message = " ".join(str(error).split())[:300]
        raise UsageError(
            f"--pretrained: cannot load {path} ({type(error).__name__}: {message})"
        ) from None
    if saved_task != source_task(args):
        raise UsageError(f"--pretrained: {path} was trained for {saved_task}, this run needs "
                         f"{source_task(args)}")  # fmt: skip
    expected = build_model(arch)
    try:
        copy_weights(model, expected, weighted_layer_names(expected))
    except TransferError as error:
        raise UsageError(f"--pretrained: {path} does not fit this run's source model: {error}") from None
    return expected


def save_pretrained(model, arch: dict, args, out_dir: Path) -> None:
    """pretrained.weights.h5 and its architecture, each through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".pretrained.", suffix=".weights.h5")
    os.close(fd)
    try:
        model.save_weights(tmp, overwrite=True)
        os.replace(tmp, out_dir / WEIGHTS_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    text = json.dumps({"architecture": arch, "task": source_task(args)}, indent=2) + "\n"
    atomic_write_text(out_dir / ARCHITECTURE_FILE, text)


def summarize(values: list[float], seeds: list[int]) -> dict:
    mean, std = mean_std(values)
    return {
        "test_accuracy": mean,
        "test_accuracy_std": std,
        "per_seed": [{"seed": s, "test_accuracy": v} for s, v in zip(seeds, values)],
    }


def run_target(source_model, source_arch, target: dict, args, seeds):
    """Every mode at every k over every seed, and the AnB-n curve.

    Returns (curves, anb, copied layer names per mode, gradient steps per k).
    """
    from common.training import seed_everything

    arch = dict(source_arch, classes=len(target["classes"]))
    same_labels = source_arch["classes"] == arch["classes"] and args.scenario == "shift"
    modes = [m for m in MODES if m != "full" or same_labels]
    lr, low_lr = args.learning_rate, args.learning_rate / FINETUNE_LR_FACTOR
    trainers = {
        "scratch": Trainer(build_model(arch), lr),
        "frozen": Trainer(build_model(arch, frozen_blocks=BLOCKS, inference_blocks=BLOCKS), lr),
        # finetune's second phase and `full`: everything trainable, at the lower rate
        "unfrozen": Trainer(build_model(arch, inference_blocks=BLOCKS), low_lr),
    }
    x_test, y_test = target["x_test"], target["y_test"]
    scores = {mode: {k: [] for k in args.labels_per_class} for mode in modes}
    copied, steps_per_k = {}, {}
    for k in args.labels_per_class:
        for seed in seeds:
            x, y = sample_per_class(target["x_pool"], target["y_pool"], k, seed)
            steps = steps_per_k[k] = target_steps(len(x), args)
            fit = dict(steps=steps, batch_size=args.batch_size, seed=seed)
            seed_everything(seed)
            fresh = build_model(arch)
            trainers["scratch"].fit(fresh, x, y, **fit)
            scores["scratch"][k].append(trainers["scratch"].accuracy(x_test, y_test))

            start, copied["frozen"] = transfer(source_model, arch, BLOCKS)
            trainers["frozen"].fit(start, x, y, **fit)
            scores["frozen"][k].append(trainers["frozen"].accuracy(x_test, y_test))
            # finetune: the trained frozen model, unfrozen, recompiled (once) at a 10x lower rate
            trainers["unfrozen"].fit(trainers["frozen"].model, x, y, **fit)
            scores["finetune"][k].append(trainers["unfrozen"].accuracy(x_test, y_test))
            copied["finetune"] = copied["frozen"]

            if "full" in modes:
                start, copied["full"] = transfer(
                    source_model, arch, BLOCKS, copy_head=True, freeze=False
                )
                trainers["unfrozen"].fit(start, x, y, **fit)
                scores["full"][k].append(trainers["unfrozen"].accuracy(x_test, y_test))
        line = ", ".join(f"{m} {np.mean(scores[m][k]):.3f}" for m in modes)
        print(f"k={k:>3} ({len(x)} examples, {steps} steps): {line}", flush=True)
    curves = {m: {k: summarize(v, seeds) for k, v in per_k.items()} for m, per_k in scores.items()}

    anb, k = {}, args.anb_labels
    for n in range(BLOCKS + 1):
        trainer = Trainer(build_model(arch, frozen_blocks=n, inference_blocks=n), lr)
        values = []
        for seed in seeds:
            x, y = sample_per_class(target["x_pool"], target["y_pool"], k, seed)
            seed_everything(seed)
            start, names = transfer(source_model, arch, n)
            trainer.fit(start, x, y, target_steps(len(x), args), args.batch_size, seed)
            values.append(trainer.accuracy(x_test, y_test))
        anb[str(n)] = dict(summarize(values, seeds), copied_layers=names)
        print(f"AnB-{n} (k={k}): {anb[str(n)]['test_accuracy']:.3f}", flush=True)
    return curves, anb, copied, steps_per_k


# -- Evaluate -----------------------------------------------------------------------------------------


def run(args) -> dict:
    start_time = time.perf_counter()
    out_dir = Path(args.output_dir)
    if args.quick:  # a smoke run of the same code path: three budgets, one seed, few steps
        args.epochs, args.seeds, args.target_steps = min(args.epochs, 2), 1, 50
        args.target_epochs = 1
        if args.labels_per_class == label_budgets(LABEL_BUDGETS):
            args.labels_per_class = ["1", "5", "all"]
    validate(args)  # bad flags fail here, before anything is written
    num_source_classes = NUM_CLASSES if args.scenario == "shift" else len(args.source_classes)
    arch = architecture_for(args.dataset, num_source_classes)
    pretrain_epochs = 0
    if args.pretrained:  # a file that does not fit fails here too, still before anything is written
        source_model = load_pretrained(Path(args.pretrained), arch, args)
    source, target = load_tasks(args)

    from common.device import setup_device
    from common.training import seeds_for

    device = setup_device()
    print(f"source: {source['description']}, {len(source['x_train'])} train / "
          f"{len(source['x_test'])} test", flush=True)  # fmt: skip
    print(f"target: {target['description']}, pool {len(target['x_pool'])} / "
          f"{len(target['x_test'])} test", flush=True)  # fmt: skip
    pretrain_start = time.perf_counter()
    if args.pretrained:
        print(f"reusing the pretrained source model {args.pretrained}", flush=True)
    else:
        source_model, pretrain_epochs = pretrain(source, arch, args)
    pretrain_seconds = time.perf_counter() - pretrain_start
    source_model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    source_accuracy = float(
        source_model.evaluate(source["x_test"], source["y_test"], batch_size=1024, verbose=0)[1]
    )
    print(f"source model: test accuracy {source_accuracy:.4f}", flush=True)

    seeds = seeds_for(args)
    target_start = time.perf_counter()
    curves, anb, copied, steps = run_target(source_model, arch, target, args, seeds)
    counts = np.bincount(target["y_pool"])
    results = {
        "scenario": args.scenario,
        "dataset": args.dataset,
        "source": {
            "name": source["name"],
            "description": source["description"],
            "classes": source["classes"],
            "train": len(source["x_train"]),
            "test": len(source["x_test"]),
        },  # fmt: skip
        "target": {
            "name": target["name"],
            "description": target["description"],
            "classes": target["classes"],
            "pool_per_class": counts.tolist(),
            "test": len(target["x_test"]),
        },  # fmt: skip
        "source_test_accuracy": source_accuracy,
        "labels_per_class": list(args.labels_per_class),
        "all_per_class": float(counts.mean()),
        "curves": curves,
        "anb_labels_per_class": args.anb_labels,
        "anb": anb,
        "copied_layers": copied,
        "pretrained": {"reused": bool(args.pretrained), "epochs": pretrain_epochs},
        "steps": steps,
        "pretrain_seconds": pretrain_seconds,
        "target_seconds": time.perf_counter() - target_start,
    }
    if args.scenario == "shift":
        results["shift_parameters"] = dict(SHIFT, seed=args.target_seed)
        # the source model, unchanged, on the shifted target: what transfer costs with no labels
        results["zero_shot_target_accuracy"] = float(
            source_model.evaluate(target["x_test"], target["y_test"], batch_size=1024, verbose=0)[1]
        )
        print(f"zero-shot (source model on target): {results['zero_shot_target_accuracy']:.4f}")

    out_dir.mkdir(parents=True, exist_ok=True)
    save_pretrained(source_model, arch, args, out_dir)
    save_arrays(out_dir, "examples", **examples(source, target))
    references = []
    if args.scenario == "shift":
        from common.references import references as quote

        references = quote("mnist1d_cnn")
    return finish_run(NAME, args, results, references, start_time, device, out_dir, plot)


def examples(source: dict, target: dict, per_task: int = 5) -> dict:
    """The first example of each of the first few classes of each task, for the figure."""

    def first_of_each(x, y):
        classes = np.unique(y)[:per_task]
        return x[[np.flatnonzero(y == c)[0] for c in classes]], classes

    source_x, source_y = first_of_each(source["x_test"], source["y_test"])
    target_x, target_y = first_of_each(target["x_test"], target["y_test"])
    return {"source_x": source_x, "source_y": source_y, "target_x": target_x, "target_y": target_y}


# -- Report -------------------------------------------------------------------------------------------


def plot(metrics: dict, out_dir) -> None:
    """Every figure from metrics.json (and examples.npz beside it)."""
    import matplotlib.pyplot as plt

    from common.plotting import color, save_figure

    out_dir = Path(out_dir)
    results = metrics["results"]
    scenario = results["scenario"]
    budgets = results["labels_per_class"]
    x = [results["all_per_class"] if k == "all" else float(k) for k in budgets]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (mode, per_k) in enumerate(results["curves"].items()):
        mean = np.array([per_k[k]["test_accuracy"] for k in budgets])
        std = np.array([per_k[k]["test_accuracy_std"] for k in budgets])
        ax.plot(x, mean, marker="o", color=color(i), label=mode)
        ax.fill_between(x, mean - std, mean + std, color=color(i), alpha=0.2, linewidth=0)
    if "zero_shot_target_accuracy" in results:
        ax.axhline(results["zero_shot_target_accuracy"], color="#666666", linestyle="--",
                   label="source model, no target labels")  # fmt: skip
    ax.axhline(1 / len(results["target"]["classes"]), color="#aaaaaa", linestyle=":", label="chance")
    ax.set_xscale("log")
    ax.set_xticks(x, [f"all\n({v:.0f})" if k == "all" else k for k, v in zip(budgets, x)])
    ax.minorticks_off()
    ax.set_xlabel("labelled target examples per class")
    ax.set_ylabel("target test accuracy")
    ax.set_ylim(0, 1.02)
    seeds = len(next(iter(results["curves"].values()))[budgets[0]]["per_seed"])
    ax.set_title(f"{scenario}: {results['source']['name']} -> {results['target']['name']}\n"
                 f"mean and spread over {seeds} seed(s)")  # fmt: skip
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    save_figure(fig, out_dir / "accuracy_vs_labels.png")

    anb = results["anb"]
    n = [int(key) for key in anb]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(n, [anb[str(i)]["test_accuracy"] for i in n],
                yerr=[anb[str(i)]["test_accuracy_std"] for i in n],
                marker="o", capsize=4, color=color(0), label="AnB-n")  # fmt: skip
    for i, (mode, per_k) in enumerate(results["curves"].items()):
        k = results["anb_labels_per_class"]
        if mode in ("scratch", "finetune") and k in per_k:
            ax.axhline(per_k[k]["test_accuracy"], color=color(i), linestyle="--", label=mode)
    ax.set_xticks(n)
    ax.set_xlabel("n: feature blocks copied from the source and frozen (the rest re-initialised)")
    ax.set_ylabel("target test accuracy")
    ax.set_title(f"AnB-n ({scenario}), {results['anb_labels_per_class']} labels per class")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    save_figure(fig, out_dir / "anb_layers.png")

    arrays = load_arrays(out_dir, "examples")
    tasks = [("source", results["source"]), ("target", results["target"])]
    cols = len(arrays["source_x"])
    fig, axes = plt.subplots(2, cols, figsize=(2.0 * cols, 4.2), squeeze=False)
    for row, (role, task) in enumerate(tasks):
        for col, (xs, ys) in enumerate(zip(arrays[f"{role}_x"], arrays[f"{role}_y"])):
            ax = axes[row, col]
            if results["dataset"] == "digits":
                ax.imshow(xs.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
                ax.axis("off")
            else:
                ax.plot(xs, np.arange(len(xs)), color=color(row))
                ax.set_xticks([])
                ax.set_yticks([])
            ax.set_title(f"{role}: {task['classes'][int(ys)]}", fontsize=8)
    fig.suptitle(f"source: {results['source']['description']}\n"
                 f"target: {results['target']['description']}", fontsize=8)  # fmt: skip
    save_figure(fig, out_dir / "source_vs_target_examples.png")


def main(argv=None) -> int:
    return run_main(NAME, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
