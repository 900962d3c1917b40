"""
Title: Transfer learning by copying weights layer by layer
Description: Pretrain, copy weights with get_weights/set_weights, fine-tune, measure when it pays.
Accelerator: none needed (a GPU is used when TensorFlow sees one)

A source network is pretrained, and its feature blocks are copied into a target network layer by layer
with `get_weights()` / `set_weights()`, matched by name (`copy_weights`; a mismatch names each layer
and both shapes). The target task is then learned from k labelled examples per class, over `--seeds`
seeds: `scratch` (fresh weights); `frozen` (copied blocks `trainable=False`, a new head); `finetune`
(keras-io's recipe: freeze, compile, fit, then unfreeze, recompile at a 10x lower rate, fit); `full`
(the head copied too, all fine-tuned: only where the label sets match); and `AnB-n` (Yosinski et al.
2014: the first n blocks copied and frozen, the rest trained afresh). Copied BatchNormalization layers
stay `trainable=False`: in inference mode, a handful of examples cannot overwrite their statistics.
`--scenario shift` (default): MNIST-1D -> MNIST-1D regenerated with stronger transformations
(`tasks.SHIFTED_MNIST1D`); `--scenario split`: disjoint digit classes, 0-4 -> 5-9, where the features
may be too specific to the source classes to help: the run measures whether they do.

    python -m recipes.transfer_learning                    # shift, 3 seeds
    python -m recipes.transfer_learning --scenario split   # digits 0-4 -> 5-9
    python -m recipes.transfer_learning --quick            # smoke run: k in {5, all}, 1 epoch

Writes metrics.json, models/source.keras with models/source.json (reuse it with --pretrained PATH),
the scratch, frozen and fine-tuned target models at 5 labels per class, and the figures of `plots.py`
to outputs/transfer_learning/ (split: .../split/).
Reference: Yosinski, Clune, Bengio & Lipson (2014), NeurIPS (AnB-n, qualitatively); the source
network beside the MNIST-1D paper's CNN.
"""

from __future__ import annotations

import time
from pathlib import Path

import common  # noqa: F401  (quiet TensorFlow's start-up logs)
from common.cli import recipe_parser
from common.data import Split
from common.errors import UsageError
from common.harness import MODELS, Harness, Recipe, run_main
from common.results import save_arrays
from common.training import make_dataset, seed_everything, standard_callbacks
from recipes.transfer_learning.flags import FINETUNE_LR_FACTOR, add_recipe_flags, validate_args
from recipes.transfer_learning.models import (
    BLOCKS,
    TransferError,
    block_layer_names,
    compile_model,
    matching_layers,
    source_architecture,
    weighted_layer_names,
)
from recipes.transfer_learning.plots import example_arrays, plot
from recipes.transfer_learning.pretrained import SOURCE, read_saved, save_source, save_target
from recipes.transfer_learning.report import DEFAULT_RUNS, describe_anb, describe_modes, results_of
from recipes.transfer_learning.tasks import TargetTask, load_tasks, print_tasks, sample_per_class
from recipes.transfer_learning.trainer import accuracy_on, target_steps, train_in_twin, twin_accuracy

NAME = "transfer_learning"
MODES = ("scratch", "frozen", "finetune", "full")
KEPT_BUDGET = "5"  # the headline budget: its target models are kept


# -- Setup --------------------------------------------------------------------------------------------


def build_parser():
    parser = recipe_parser(
        NAME,
        "Pretrain a network, copy its weights layer by layer, and measure when transfer pays.",
        default_epochs=60,
        default_seeds=3,
        tensorboard=True,
    )
    add_recipe_flags(parser)  # scenario, classes, label budgets, --pretrained, training, --quick
    return parser


# -- Prepare the data: tasks.py, the source and target of each scenario, k labelled examples per class

# -- Build the model: four feature blocks and a head --------------------------------------------------


def build_model(arch: dict, frozen_blocks: int = 0, inference_blocks: int = 0):
    """Input -> [conv -> BatchNorm -> ReLU] x 3 -> Flatten -> [dense -> BatchNorm -> ReLU] -> head.

    The first `frozen_blocks` blocks get `trainable=False`, and so does the BatchNorm of the first
    `inference_blocks`: in Keras 3 it then runs in inference mode, keeping the statistics it was given
    (the source's) while its block is fine-tuned. (`training=False` is not enough: `fit` overrides it.)
    """
    import keras

    conv = keras.layers.Conv1D if arch["kind"] == "conv1d" else keras.layers.Conv2D
    inputs = keras.Input(tuple(arch["input"]), name="inputs")
    x = keras.layers.Reshape(tuple(arch["shape"]), name="reshape")(inputs)
    x = keras.layers.Rescaling(arch["scale"], name="scale")(x)
    # BatchNorm momentum 0.9, not 0.99: with ~60 steps an epoch the slow default leaves the moving
    # statistics unsettled for several epochs, and early stopping then keeps a poor first epoch
    for i, filters in enumerate(arch["filters"], start=1):
        stride = 1 if i == 1 else 2  # the first block keeps the resolution, the others halve it
        x = conv(filters, arch["kernel"], stride, padding="same", use_bias=False, name=f"block_{i}")(x)
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


# -- Copy weights from one network into another, layer by layer ---------------------------------------


def copy_weights(source, target, names: list[str]) -> list[str]:
    """Copy layer `name`'s weights from `source` to `target` for each name, with get/set_weights.

    All or nothing: every layer is checked first (models.matching_layers), and a TransferError names
    each missing layer and each shape mismatch (source and target shapes) before a weight is written.
    """
    pairs = matching_layers(source, target, names)
    for source_layer, target_layer in pairs:
        target_layer.set_weights(source_layer.get_weights())
    return [target_layer.name for _, target_layer in pairs]


def transfer(source, arch: dict, blocks: int, copy_head: bool = False, freeze: bool = True):
    """The target model, with the source's first `blocks` feature blocks copied layer by layer.

    Copied blocks are frozen when `freeze`, and their BatchNorm runs in inference mode either way; the
    other blocks keep their fresh initialisation. The head is copied too when `copy_head` (only
    meaningful when source and target share a label set). Returns (model, names of copied layers).
    """
    target = build_model(arch, frozen_blocks=blocks if freeze else 0, inference_blocks=blocks)
    names = [name for block in range(1, blocks + 1) for name in block_layer_names(block)]
    return target, copy_weights(source, target, names + (["head"] if copy_head else []))


def load_pretrained(path: Path, arch: dict, args):
    """A saved source model (pretrained.py: its task checked, loaded in safe mode), copied into this
    run's network layer by layer: UsageError, naming each layer, when it does not fit."""
    saved, model = read_saved(path, args), build_model(arch)
    try:
        copy_weights(saved, model, weighted_layer_names(model))
    except TransferError as error:
        raise UsageError(f"--pretrained: {path} does not fit this run's source model: {error}") from None
    return model


# -- Train the source model ---------------------------------------------------------------------------


def pretrain(harness: Harness, source: Split, arch: dict) -> dict:
    """Train the source model with early stopping on its validation split (saved at every epoch's
    end; on --resume, it goes on from the last one) and keep it as models/source.keras."""
    args, start = harness.args, time.perf_counter()
    seed_everything(args.seed)
    model = compile_model(build_model(arch), args.learning_rate, steps=1)  # Keras's default: 1
    logs = harness.out_dir / "logs" / "pretrain" if args.tensorboard else None
    fit = harness.fit_arguments(  # dataset, epochs, initial_epoch (--resume), callbacks
        model, source.x_train, source.y_train, batch_size=args.batch_size, epochs=args.epochs,
        seed=args.seed, callbacks=standard_callbacks(args.patience, tensorboard_dir=logs),
    )  # fmt: skip
    val = make_dataset(source.x_val, source.y_val, 1024)
    history = harness.history(model.fit(**fit, validation_data=val))
    save_source(harness, model, arch, source.x_test[:4])
    return {"epochs": len(history["loss"]), "seconds": time.perf_counter() - start}


# -- Train on the target: from k labelled examples per class, every way -------------------------------
# `train_in_twin` and `twin_accuracy` (trainer.py): `model.fit` and `model.evaluate` in a compiled twin


def learn_target(seed: int, harness, source_model, arch, target, k: str, modes, keep_k: str) -> dict:
    """Each mode's target test accuracy after training on k examples per class, the layers it copied
    and the steps each training took; at k = `keep_k` the first seed's models are kept (models/)."""
    args = harness.args
    keep = k == keep_k and seed == args.seed
    x, y = sample_per_class(target.x_pool, target.y_pool, k, seed)
    steps = target_steps(len(x), args)
    test = target.x_test, target.y_test
    lr = args.learning_rate
    seed_everything(seed)
    accuracy, copied = {}, {}

    # scratch: the same network from fresh weights
    model = compile_model(build_model(arch), lr)
    train_in_twin(model, x, y, steps, args.batch_size, seed)
    accuracy["scratch"] = twin_accuracy(model, *test)
    if keep:
        save_target(harness, model, "scratch", k, target)

    # frozen: the source's feature blocks copied and frozen (trainable=False), a new head trained
    model, copied["frozen"] = transfer(source_model, arch, BLOCKS)
    compile_model(model, lr)
    train_in_twin(model, x, y, steps, args.batch_size, seed)
    accuracy["frozen"] = twin_accuracy(model, *test)
    if keep:
        save_target(harness, model, "frozen", k, target)

    # finetune: then unfreeze the blocks and recompile (Keras reads `trainable` when it compiles) at a
    # 10x lower rate, so the copied features move only a little. BatchNorm stays trainable=False:
    # inference mode, with the source's statistics
    for block in range(1, BLOCKS + 1):
        model.get_layer(f"block_{block}").trainable = True
    compile_model(model, lr / FINETUNE_LR_FACTOR)
    train_in_twin(model, x, y, steps, args.batch_size, seed)
    accuracy["finetune"] = twin_accuracy(model, *test)
    if keep:
        save_target(harness, model, "finetune", k, target)
    copied["finetune"] = copied["frozen"]

    if "full" in modes:  # the head too (same label set), then everything fine-tuned at the lower rate
        model, copied["full"] = transfer(source_model, arch, BLOCKS, copy_head=True, freeze=False)
        compile_model(model, lr / FINETUNE_LR_FACTOR)
        train_in_twin(model, x, y, steps, args.batch_size, seed)
        accuracy["full"] = twin_accuracy(model, *test)
        if keep:
            save_target(harness, model, "full", k, target)
    return {"steps": steps, "copied": copied, "test_accuracy": accuracy}


def anb(seed: int, source_model, arch: dict, target: TargetTask, n: int, args) -> dict:
    """AnB-n: the first n feature blocks copied and frozen, the rest re-initialised and trained."""
    x, y = sample_per_class(target.x_pool, target.y_pool, args.anb_labels, seed)
    seed_everything(seed)
    model, copied = transfer(source_model, arch, n)
    compile_model(model, args.learning_rate)
    train_in_twin(model, x, y, target_steps(len(x), args), args.batch_size, seed)
    return {"test_accuracy": twin_accuracy(model, target.x_test, target.y_test), "copied": copied}


# -- Run: data, source model, target trainings, evaluation, report -----------------------------------


def run(args) -> dict:
    harness = Harness(NAME, args)
    validate_args(args)  # bad flags fail here, before anything is written (flags.py)
    arch = source_architecture(args)
    harness.setup_device()  # before the first model is built
    if args.pretrained:  # a file that does not fit fails here too, still before anything is written
        source_model = load_pretrained(Path(args.pretrained), arch, args)

    # -- Prepare the data
    source, target = load_tasks(args)
    print_tasks(source, target)

    # -- Train the source model (or reuse a saved one) and evaluate it on its own test split
    if args.pretrained:
        print(f"reusing the pretrained source model {args.pretrained}", flush=True)
        pretrained = {"epochs": 0, "seconds": 0.0}
    else:  # a stage: trained once, then read back from models/source.keras, resumed or not
        pretrained = harness.stage("pretrain", pretrain, harness, source, arch)
        source_model = load_pretrained(harness.out_dir / MODELS / f"{SOURCE}.keras", arch, args)
    source_model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    source_accuracy = accuracy_on(source_model, source)
    print(f"source model: test accuracy {source_accuracy:.4f}", flush=True)

    # -- Transfer to the target, at every label budget k and over the seeds
    target_start = time.perf_counter()
    target_arch = dict(arch, classes=len(target.class_names))
    same_labels = arch["classes"] == target_arch["classes"] and target.same_labels
    modes = [mode for mode in MODES if mode != "full" or same_labels]
    keep_k = KEPT_BUDGET if KEPT_BUDGET in args.labels_per_class else args.labels_per_class[0]
    learned, anb_runs = {}, {}  # label budget k -> its seeds' records; n -> AnB-n's
    for k in args.labels_per_class:
        given = (harness, source_model, target_arch, target, k, modes, keep_k)  # learn_target(seed, ...)
        learned[k] = harness.over_seeds(learn_target, *given, stage=f"k={k}", describe=describe_modes)
    for n in args.anb_blocks:
        given, stage = (source_model, target_arch, target, n, args), f"AnB-{n} (k={args.anb_labels})"
        anb_runs[n] = harness.over_seeds(anb, *given, stage=stage, describe=describe_anb)
    target_seconds = time.perf_counter() - target_start

    # -- Evaluate the source model, unchanged, on the shifted target: what transfer gives with no labels
    zero_shot, references = None, []
    if same_labels:  # the shift scenario's own target (not --target-data)
        from common.references import references as published

        zero_shot = accuracy_on(source_model, target)
        print(f"zero-shot (source model on target): {zero_shot:.4f}")
        references = published("mnist1d_cnn")

    # -- Report: metrics.json's results (what was measured, beside the tasks: report.py), the figures
    results = results_of(
        args, source, target, pretrained, source_accuracy, learned, anb_runs, target_seconds, zero_shot
    )
    save_arrays(harness.out_dir, "examples", **example_arrays(source, target))
    metrics = harness.finish(results, references)  # the numbers first, then the figures from them
    plot(metrics, harness.out_dir)
    return metrics


RECIPE = Recipe(
    NAME,
    "Transfer learning",
    "weights copied layer by layer with set_weights, each mode measured against training from scratch",
    runs=DEFAULT_RUNS,
)


def main(argv=None) -> int:
    return run_main(NAME, build_parser(), run, argv)
