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
from common.cli import positive_float, positive_int, recipe_parser
from common.data import Split
from common.errors import UsageError
from common.harness import MODELS, Harness, Recipe, run_main
from common.results import save_arrays
from common.training import epoch_shuffled, reinitialize, seed_everything, stop_on_divergence
from recipes.transfer_learning.flags import FINETUNE_LR_FACTOR, add_recipe_flags, validate_args
from recipes.transfer_learning.models import (
    BLOCKS,
    TransferError,
    compile_model,
    feature_layers,
    matching_layers,
    source_architecture,
    target_steps,
)
from recipes.transfer_learning.plots import example_arrays, plot
from recipes.transfer_learning.pretrained import SOURCE, read_saved, save_source, save_target
from recipes.transfer_learning.report import DEFAULT_RUNS, describe_anb, describe_modes, results_of
from recipes.transfer_learning.tasks import load_tasks, print_tasks, sample_per_class

NAME = "transfer_learning"
MODES = ("scratch", "frozen", "finetune", "full")
KEPT_BUDGET = "5"  # the headline budget: its target models are kept


# -- Setup: the hyperparameters (each flag's default; --help lists them) -------------------------------

EPOCHS = 60  # pretraining, at most: early stopping ends it
PATIENCE = 5  # pretraining: epochs without a better validation loss before it stops
SEEDS = 3  # each target training over these
BATCH_SIZE = 64  # per replica
LEARNING_RATE = 1e-3  # Adam; fine-tuning at a tenth of it (FINETUNE_LR_FACTOR)
TARGET_STEPS = 300  # gradient steps of each target training ...
TARGET_EPOCHS = 20  # ... and at least this many passes over its data (for large k)
# --quick: every stage once: one epoch of pretraining, one seed, two label budgets (the kept model's,
# and all: each sampled its own way), a few steps of each target training
QUICK = {
    "epochs": 1,
    "seeds": 1,
    "target_steps": 10,
    "target_epochs": 1,
    "labels_per_class": ["5", "all"],
    "anb_blocks": [0, BLOCKS],  # none copied (training from scratch) and all of them
}


def build_parser():
    about = "Pretrain a network, copy its weights layer by layer, and measure when transfer pays."
    parser = recipe_parser(NAME, about, default_epochs=EPOCHS, default_seeds=SEEDS, tensorboard=True)
    add_recipe_flags(parser)  # scenario, classes, label budgets, --pretrained (flags.py)
    own = parser.add_argument_group("training")
    own.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE, help="batch per replica")
    own.add_argument(
        "--learning-rate",
        type=positive_float,
        default=LEARNING_RATE,
        help=f"Adam step size (fine-tuning uses it / {FINETUNE_LR_FACTOR})",
    )
    own.add_argument(
        "--target-steps",
        type=positive_int,
        default=TARGET_STEPS,
        help="gradient steps per target training (at least --target-epochs passes over the data)",
    )
    own.add_argument(
        "--target-epochs",
        type=positive_int,
        default=TARGET_EPOCHS,
        help="minimum passes over the target data (matters for large k)",
    )
    own.add_argument(
        "--patience", type=positive_int, default=PATIENCE, help="pretraining early-stopping patience"
    )
    parser.set_quick(QUICK, also="1000 sequences a task")
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
    for name in feature_layers(frozen_blocks):
        model.get_layer(name).trainable = False
    for block in range(1, inference_blocks + 1):
        model.get_layer(f"block_{block}_bn").trainable = False
    return model


# -- Copy weights from one network into another, layer by layer ---------------------------------------


def copy_weights(source, target, names: list[str]) -> list[str]:
    """Copy layer `name`'s weights from `source` to `target` for each name, with get/set_weights. All
    or nothing: every layer is checked first (models.matching_layers); a TransferError names each
    missing layer and each shape mismatch (source and target shapes) before a weight is written."""
    pairs = matching_layers(source, target, names)
    for source_layer, target_layer in pairs:
        target_layer.set_weights(source_layer.get_weights())
    return [target_layer.name for _, target_layer in pairs]


def load_pretrained(path: Path, arch: dict, args):
    """A saved source model (pretrained.py: its task checked, loaded in safe mode), copied into this
    run's network layer by layer: UsageError, naming each layer, when it does not fit."""
    saved, model = read_saved(path, args), build_model(arch)
    try:
        copy_weights(saved, model, feature_layers(BLOCKS) + ["head"])  # every layer with weights
    except TransferError as error:
        raise UsageError(f"--pretrained: {path} does not fit this run's source model: {error}") from None
    return model


# -- Train the source model ---------------------------------------------------------------------------


def pretrain(harness: Harness, source: Split, arch: dict) -> dict:
    """Train the source model with early stopping on its validation split (saved at every epoch's
    end; on --resume, it goes on from the last one) and keep it as models/source.keras."""
    import keras

    args, start = harness.args, time.perf_counter()
    seed_everything(args.seed)
    model = compile_model(build_model(arch), args.learning_rate, steps=1)  # Keras's default: 1
    train = epoch_shuffled(source.x_train, source.y_train, args.batch_size, args.seed)
    stop_early = keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True)
    callbacks = [stop_early]
    if args.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(harness.folder / "logs" / "pretrain"))
    fitted = model.fit(
        train,
        epochs=args.epochs,
        shuffle=False,  # `train` draws each epoch's order itself, from (seed, epoch)
        validation_data=(source.x_val, source.y_val),
        validation_batch_size=1024,
        callbacks=[*callbacks, harness.callback(train, stop_early)],  # saved at each epoch's end
        verbose=0,
    )
    history = fitted.history  # every epoch's, those before a kill included (--resume)
    save_source(harness, model, arch, source.x_test[:4])
    return {"epochs": len(history["loss"]), "seconds": time.perf_counter() - start}


# -- Train on the target: from k labelled examples per class, every way -------------------------------


def target_models(arch: dict, anb_blocks: list[int], learning_rate: float) -> dict:
    """Every target network of the run, built and compiled once (compile reads `trainable`): tracing a
    new model's `fit` takes longer than most of these trainings. AnB-0 is `scratch`, AnB-4 `frozen`."""
    lr = learning_rate
    anb = {n: build_model(arch, frozen_blocks=n, inference_blocks=n) for n in {0, BLOCKS, *anb_blocks}}
    return {
        **{f"AnB-{n}": compile_model(model, lr) for n, model in sorted(anb.items())},
        "scratch": anb[0],
        "frozen": anb[BLOCKS],  # the copied feature blocks trainable=False: only the head learns
        # the frozen network with its blocks unfrozen (BatchNorm stays in inference mode, keeping the
        # source's statistics), compiled at a 10x lower rate so the copied features move only a little
        "finetune": compile_model(build_model(arch, inference_blocks=BLOCKS), lr / FINETUNE_LR_FACTOR),
    }


def learn_target(seed: int, harness, models, source_model, target, k: str, modes, keep_k) -> dict:
    """Each mode's target test accuracy after training on k examples per class, the layers it copied
    and the steps each training took; at k = `keep_k` the first seed's models are kept (models/)."""
    args = harness.args
    x, y = sample_per_class(target.x_pool, target.y_pool, k, seed)
    steps = target_steps(len(x), args)

    def train(model) -> float:
        """`steps` gradient steps on the k examples a class, the same batches for every mode; the
        target test accuracy."""
        model.fit(
            epoch_shuffled(x, y, args.batch_size, seed, steps=steps),
            epochs=1,
            shuffle=False,  # the batches come in the order drawn from the seed
            callbacks=[stop_on_divergence(1, steps)],  # a NaN loss stops the run, naming the stage
            verbose=0,
        )
        return float(model.evaluate(target.x_test, target.y_test, batch_size=1024, verbose=0)[1])

    features = feature_layers(BLOCKS)
    accuracy, copied, trained = {}, {}, {}
    seed_everything(seed)  # the fresh weights below are drawn from it, and the data's shuffling

    # scratch: the network from fresh weights and a fresh optimizer state (`reinitialize`)
    model = trained["scratch"] = models["scratch"]
    reinitialize(model)
    accuracy["scratch"] = train(model)

    # frozen: the source's feature blocks copied in (set_weights), trainable=False: the new head learns
    model = trained["frozen"] = models["frozen"]
    reinitialize(model)
    copied["frozen"] = copy_weights(source_model, model, features)
    accuracy["frozen"] = train(model)

    # finetune: keras-io's second step, the frozen model's trained weights unfrozen and trained at the
    # lower rate. `finetune` is that network recompiled: the weights are copied in, layer by layer
    model = trained["finetune"] = models["finetune"]
    reinitialize(model)
    copy_weights(models["frozen"], model, features + ["head"])
    accuracy["finetune"] = train(model)
    copied["finetune"] = copied["frozen"]
    if keep := (k == keep_k and seed == args.seed):  # now, before `full` trains `finetune` again
        for mode, model in trained.items():
            save_target(harness, model, mode, k, target)

    if "full" in modes:  # the head copied too (same label set), everything fine-tuned at the lower rate
        model = models["finetune"]
        reinitialize(model)
        copied["full"] = copy_weights(source_model, model, features + ["head"])
        accuracy["full"] = train(model)
        if keep:
            save_target(harness, model, "full", k, target)
    return {"steps": steps, "copied": copied, "test_accuracy": accuracy}


def anb(seed: int, models, source_model, target, n: int, args) -> dict:
    """AnB-n: the first n feature blocks copied and frozen, the rest fresh weights, trained."""
    x, y = sample_per_class(target.x_pool, target.y_pool, args.anb_labels, seed)
    model, steps = models[f"AnB-{n}"], target_steps(len(x), args)
    seed_everything(seed)
    reinitialize(model)
    copied = copy_weights(source_model, model, feature_layers(n))
    batches = epoch_shuffled(x, y, args.batch_size, seed, steps=steps)
    model.fit(batches, epochs=1, shuffle=False, verbose=0)
    accuracy = model.evaluate(target.x_test, target.y_test, batch_size=1024, verbose=0)[1]
    return {"test_accuracy": float(accuracy), "copied": copied}


# -- Run: data, source model, target trainings, evaluation, report -----------------------------------


def run(args) -> dict:
    # -- Setup: the flags checked, the source architecture, a pretrained model if one is given
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
    else:  # a stage: trained once (read back on --resume), then loaded from models/source.keras
        stage = harness.stage("pretrain")
        pretrained = stage.result if stage.done else stage.record(pretrain(harness, source, arch))
        source_model = load_pretrained(harness.out_dir / MODELS / f"{SOURCE}.keras", arch, args)
    source_model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    source_accuracy = float(source_model.evaluate(source.x_test, source.y_test, verbose=0)[1])
    print(f"source model: test accuracy {source_accuracy:.4f}", flush=True)

    # -- Transfer to the target, at every label budget k and over the seeds
    target_start = time.perf_counter()
    target_arch = dict(arch, classes=len(target.class_names))
    same_labels = arch["classes"] == target_arch["classes"] and target.same_labels
    modes = [mode for mode in MODES if mode != "full" or same_labels]
    keep_k = KEPT_BUDGET if KEPT_BUDGET in args.labels_per_class else args.labels_per_class[0]
    models = target_models(target_arch, args.anb_blocks, args.learning_rate)
    learned, anb_runs = {}, {}  # label budget k -> its seeds' records; n -> AnB-n's
    for k in args.labels_per_class:
        seeds = harness.seeds(f"k={k}", describe=describe_modes)  # one stage each, read back on --resume
        for seed in seeds:
            seeds.record(learn_target(seed, harness, models, source_model, target, k, modes, keep_k))
        learned[k] = seeds.records
    for n in args.anb_blocks:
        seeds = harness.seeds(f"AnB-{n} (k={args.anb_labels})", describe=describe_anb)
        for seed in seeds:
            seeds.record(anb(seed, models, source_model, target, n, args))
        anb_runs[n] = seeds.records
    target_seconds = time.perf_counter() - target_start

    # -- Evaluate the source model, unchanged, on the shifted target: what transfer gives with no labels
    zero_shot, references = None, []
    if same_labels:  # the shift scenario's own target (not --target-data)
        from common.references import references as published

        zero_shot = float(source_model.evaluate(target.x_test, target.y_test, verbose=0)[1])
        print(f"zero-shot (source model on target): {zero_shot:.4f}")
        references = published("mnist1d_cnn")

    # -- Report: metrics.json's results (what was measured, beside the tasks: report.py), the figures
    results = results_of(
        args, source, target, pretrained, source_accuracy, learned, anb_runs, target_seconds, zero_shot
    )
    save_arrays(harness.out_dir, "examples", **example_arrays(source, target))
    with harness.finish(results, references) as metrics:  # the numbers first, then the figures
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
