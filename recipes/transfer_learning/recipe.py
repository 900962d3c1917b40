"""
Title: Transfer learning by copying weights layer by layer
Description: Pretrain, copy weights with get_weights/set_weights, fine-tune, measure when it pays.
Accelerator: none needed (a GPU is used when TensorFlow sees one)

A source network is pretrained, and its feature blocks are copied into a target network layer by layer
with `get_weights()` / `set_weights()`, matched by name (`models.transfer`; a mismatch names each layer
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
    python -m recipes.transfer_learning --quick            # smoke run: k in {1, 5, all}, 1 seed

Writes metrics.json, models/source.keras with models/source.json (reuse it with --pretrained PATH),
the scratch, frozen and fine-tuned target models at 5 labels per class, and the figures of `plots.py`
to outputs/transfer_learning/ (split: .../split/).
Reference: Yosinski, Clune, Bengio & Lipson (2014), NeurIPS (AnB-n, qualitatively); the source
network beside the MNIST-1D paper's CNN.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import common  # noqa: F401  (quiet TensorFlow's start-up logs)
from common.cli import recipe_parser
from common.harness import MODELS, DefaultRun, Harness, Headline, Recipe, run_main, seed_summary
from common.results import save_arrays
from common.training import make_dataset, seed_everything, standard_callbacks
from recipes.transfer_learning.flags import (
    FINETUNE_LR_FACTOR,
    LABEL_BUDGETS,
    add_recipe_flags,
    label_budgets,
    validate_args,
)
from recipes.transfer_learning.models import (
    BLOCKS,
    architecture_for,
    build_model,
    compile_model,
    transfer,
)
from recipes.transfer_learning.plots import example_arrays, plot
from recipes.transfer_learning.pretrained import SOURCE, load_pretrained, save_source
from recipes.transfer_learning.tasks import NUM_CLASSES, SHIFTED_MNIST1D, load_tasks, sample_per_class
from recipes.transfer_learning.trainer import accuracy, fit, target_steps

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
    add_recipe_flags(parser)  # scenario, classes, label budgets, --pretrained, training: flags.py
    return parser


# -- Prepare the data: tasks.py, the source and target of each scenario, k labelled examples per class
# -- Build the model: models.py, a small convnet of four feature blocks and a head, and `transfer`,
#    which copies the source's blocks into a fresh network with get_weights/set_weights

# -- Train the source model ---------------------------------------------------------------------------


def pretrain(harness: Harness, source: dict, arch: dict) -> dict:
    """Train the source model with early stopping on its validation split (saved at every epoch's
    end; on --resume, it goes on from the last one) and keep it as models/source.keras."""
    import keras

    args, start = harness.args, time.perf_counter()
    seed_everything(args.seed)
    model = build_model(arch)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    logs = harness.out_dir / "logs" / "pretrain" if args.tensorboard else None
    history = harness.fit(
        model, source["x_train"], source["y_train"], batch_size=args.batch_size, epochs=args.epochs,
        seed=args.seed, validation_data=make_dataset(source["x_val"], source["y_val"], 1024),
        callbacks=standard_callbacks(args.patience, tensorboard_dir=logs),
    )  # fmt: skip
    save_source(harness, model, arch, source["x_test"][:4])
    return {"epochs": len(history["loss"]), "seconds": time.perf_counter() - start}


# -- Train on the target: from k labelled examples per class, every way -------------------------------
# `fit` and `accuracy` (trainer.py): `model.fit` and `model.evaluate` in a compiled twin (see there)


def learn_target(source_model, arch, target, k: str, seed: int, args, modes, keep=None) -> dict:
    """Each mode's target test accuracy after training on k examples per class, the layers it copied
    from the source, and the gradient steps each training took. With `keep`, each trained model is
    handed to `keep(mode, model)` (to be saved)."""
    keep = keep or (lambda mode, model: None)
    x, y = sample_per_class(target["x_pool"], target["y_pool"], k, seed)
    steps = target_steps(len(x), args)
    test = target["x_test"], target["y_test"]
    lr = args.learning_rate
    seed_everything(seed)
    record = {"steps": steps, "copied": {}}

    # scratch: the same network from fresh weights
    model = compile_model(build_model(arch), lr)
    fit(model, x, y, steps, args.batch_size, seed)
    record["scratch"] = accuracy(model, *test)
    keep("scratch", model)

    # frozen: the source's feature blocks copied and frozen (trainable=False), a new head trained
    model, record["copied"]["frozen"] = transfer(source_model, arch, BLOCKS)
    compile_model(model, lr)
    fit(model, x, y, steps, args.batch_size, seed)
    record["frozen"] = accuracy(model, *test)
    keep("frozen", model)

    # finetune: then unfreeze the blocks and recompile (Keras reads `trainable` when it compiles) at a
    # 10x lower rate, so the copied features move only a little. BatchNorm stays trainable=False:
    # inference mode, with the source's statistics
    for block in range(1, BLOCKS + 1):
        model.get_layer(f"block_{block}").trainable = True
    compile_model(model, lr / FINETUNE_LR_FACTOR)
    fit(model, x, y, steps, args.batch_size, seed)
    record["finetune"] = accuracy(model, *test)
    keep("finetune", model)
    record["copied"]["finetune"] = record["copied"]["frozen"]

    if "full" in modes:  # the head too (same label set), then everything fine-tuned at the lower rate
        model, record["copied"]["full"] = transfer(
            source_model, arch, BLOCKS, copy_head=True, freeze=False
        )
        compile_model(model, lr / FINETUNE_LR_FACTOR)
        fit(model, x, y, steps, args.batch_size, seed)
        record["full"] = accuracy(model, *test)
        keep("full", model)
    return record


def anb(source_model, arch: dict, target: dict, n: int, seed: int, args) -> dict:
    """AnB-n: the first n feature blocks copied and frozen, the rest re-initialised and trained."""
    x, y = sample_per_class(target["x_pool"], target["y_pool"], args.anb_labels, seed)
    seed_everything(seed)
    model, copied = transfer(source_model, arch, n)
    compile_model(model, args.learning_rate)
    fit(model, x, y, target_steps(len(x), args), args.batch_size, seed)
    return {"test_accuracy": accuracy(model, target["x_test"], target["y_test"]), "copied": copied}


# -- Run: data, source model, target trainings, report ------------------------------------------------


def run(args) -> dict:
    harness = Harness(NAME, args)
    harness.quick(epochs=2, seeds=1, target_steps=50, target_epochs=1)
    if args.quick and args.labels_per_class == label_budgets(LABEL_BUDGETS):
        args.labels_per_class = ["1", "5", "all"]  # three budgets: a smoke run of the same path
    validate_args(args)  # bad flags fail here, before anything is written (flags.py)
    num_source_classes = NUM_CLASSES if args.scenario == "shift" else len(args.source_classes)
    arch = architecture_for(args.dataset, num_source_classes)
    harness.setup_device()  # before the first model is built
    if args.pretrained:  # a file that does not fit fails here too, still before anything is written
        source_model = load_pretrained(Path(args.pretrained), arch, args)

    # -- Prepare the data
    source, target = load_tasks(args)
    print(f"source: {source['description']}, {len(source['x_train'])} train / "
          f"{len(source['x_test'])} test", flush=True)  # fmt: skip
    print(f"target: {target['description']}, pool {len(target['x_pool'])} / "
          f"{len(target['x_test'])} test", flush=True)  # fmt: skip

    # -- Train the source model (or reuse a saved one) and evaluate it on its own test split
    if args.pretrained:
        print(f"reusing the pretrained source model {args.pretrained}", flush=True)
        pretrained = {"epochs": 0, "seconds": 0.0}
    else:  # a stage: trained once, then read back from models/source.keras, resumed or not
        pretrained = harness.stage("pretrain", lambda: pretrain(harness, source, arch))
        source_model = load_pretrained(harness.out_dir / MODELS / f"{SOURCE}.keras", arch, args)
    source_model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    source_accuracy = float(
        source_model.evaluate(source["x_test"], source["y_test"], batch_size=1024, verbose=0)[1]
    )
    print(f"source model: test accuracy {source_accuracy:.4f}", flush=True)

    # -- Transfer to the target, at every label budget k and over the seeds
    target_start = time.perf_counter()
    target_arch = dict(arch, classes=len(target["classes"]))
    same_labels = arch["classes"] == target_arch["classes"] and target["same_labels"]
    modes = [mode for mode in MODES if mode != "full" or same_labels]
    curves, steps = {mode: {} for mode in modes}, {}
    kept_k = KEPT_BUDGET if KEPT_BUDGET in args.labels_per_class else args.labels_per_class[0]

    def keep(k: str):  # each mode's model at one budget, first seed: models/target_<mode>_k<k>.keras
        return lambda mode, model: harness.save_model(
            model, f"target_{mode}_k{k}", seed=args.seed, labels_per_class=k,
            classes=target["classes"], example=target["x_test"][:4],
        )  # fmt: skip

    for k in args.labels_per_class:

        def train_one(seed: int, k=k) -> dict:
            kept = keep(k) if k == kept_k and seed == args.seed else None
            return learn_target(source_model, target_arch, target, k, seed, args, modes, kept)

        records = harness.over_seeds(
            train_one,
            stage=f"k={k}",
            describe=lambda record: ", ".join(f"{mode} {record[mode]:.3f}" for mode in modes),
        )
        for mode in modes:
            per_seed = [{"seed": r["seed"], "test_accuracy": r[mode]} for r in records]
            curves[mode][k] = seed_summary(per_seed, "test_accuracy")
        steps[k] = records[-1]["steps"]
    copied = records[-1]["copied"]

    anb_curve = {}
    for n in range(BLOCKS + 1):
        records = harness.over_seeds(
            lambda seed, n=n: anb(source_model, target_arch, target, n, seed, args),
            stage=f"AnB-{n} (k={args.anb_labels})",
            describe=lambda record: f"{record['test_accuracy']:.3f}",
        )
        per_seed = [{"seed": r["seed"], "test_accuracy": r["test_accuracy"]} for r in records]
        anb_curve[str(n)] = dict(
            seed_summary(per_seed, "test_accuracy"), copied_layers=records[-1]["copied"]
        )

    # -- Report
    counts = np.bincount(target["y_pool"])
    results = {
        "scenario": args.scenario,
        "dataset": args.dataset,
        "source": {key: source[key] for key in ("name", "description", "classes")}
        | {"train": len(source["x_train"]), "test": len(source["x_test"])},
        "target": {key: target[key] for key in ("name", "description", "classes")}
        | {"pool_per_class": counts.tolist(), "test": len(target["x_test"])},
        "source_test_accuracy": source_accuracy,
        "labels_per_class": list(args.labels_per_class),
        "all_per_class": float(counts.mean()),
        "curves": curves,
        "anb_labels_per_class": args.anb_labels,
        "anb": anb_curve,
        "copied_layers": copied,
        "pretrained": {"reused": bool(args.pretrained), "epochs": pretrained["epochs"]},
        "steps": steps,
        "pretrain_seconds": pretrained["seconds"],
        "target_seconds": time.perf_counter() - target_start,
    }
    references = []
    if same_labels:  # the shift scenario's own target (not --target-data)
        from common.references import references as published

        results["shift_parameters"] = dict(SHIFTED_MNIST1D, seed=args.target_seed)
        # the source model, unchanged, on the shifted target: what transfer costs with no labels
        results["zero_shot_target_accuracy"] = float(
            source_model.evaluate(target["x_test"], target["y_test"], batch_size=1024, verbose=0)[1]
        )
        print(f"zero-shot (source model on target): {results['zero_shot_target_accuracy']:.4f}")
        references = published("mnist1d_cnn")
    save_arrays(harness.out_dir, "examples", **example_arrays(source, target))
    return harness.finish(results, references, plot)


def _headlines(scenario: str) -> tuple[Headline, ...]:
    """Fine-tuned and frozen-feature accuracy at 5 labels per class, beside training from scratch."""
    return tuple(
        Headline(
            f"{scenario}: {label}, 5 labels per class",
            f"results.curves.{mode}.5.test_accuracy",
            beside_label="from scratch",
            beside_path="results.curves.scratch.5.test_accuracy",
        )
        for mode, label in (("finetune", "fine-tuned"), ("frozen", "frozen features"))
    )


RECIPE = Recipe(
    NAME,
    "Transfer learning",
    "weights copied layer by layer with set_weights, each mode measured against training from scratch",
    runs=(
        DefaultRun(headlines=_headlines("shift")),
        DefaultRun(flags=("--scenario", "split"), subdir="split", headlines=_headlines("split")),
    ),
)


def main(argv=None) -> int:
    return run_main(NAME, build_parser(), run, argv)
