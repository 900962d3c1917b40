"""
Title: Activation functions compared
Description: Twelve activations: their shape and slope, how the same MLP trains with each, gradient flow.
Accelerator: none needed (a GPU is used when TensorFlow sees one)

What an activation function does to a network, in three parts. (1) f(x) and f'(x) on [-5, 5] for
linear (the control) and eleven non-linear activations, f' by autodiff on the Keras activation, beside
the NumPy closed forms of `common/numpy_reference.py`. (2) The same MLP trained with each activation
on digits and MNIST-1D over 3 seeds, the initialiser matched to the activation (Glorot for
sigmoid/tanh/softsign/linear, He for the ReLU family, LeCun normal for SELU; `--init glorot` for all),
trained as a practitioner would: random shifts, a cosine-decayed rate, early stopping with the best
weights restored (the same 5x64 net on both data sets). Trained without these, every network overfits
(training loss near 0, MNIST-1D test accuracy below the paper's MLP), and the table would rank how
each activation overfits; `--no-regularise` is that run, made by `all` beside the default. (3)
Gradient flow in a deeper net (`gradient_flow.py`): each hidden kernel's gradient norm at
initialisation and after one epoch, the dead and saturated units. `results.checks`: what a run is
expected to show.

    python -m recipes.activations                          # everything: 12 activations, 3 seeds
    python -m recipes.activations --activations relu,gelu  # a subset
    python -m recipes.activations --quick                  # smoke run: sigmoid, 1 epoch
    python -m recipes.activations --no-regularise --epochs 30 --batch-size 64 --learning-rate 3e-3

Writes metrics.json, curves.npz and the figures of `plots.py` to outputs/activations/. Reference:
Glorot & Bengio (2010), Table 1 (MNIST, 5x1000); the MNIST-1D paper (Greydanus & Kobak) for logistic
regression and an MLP.
"""

from __future__ import annotations

import argparse

import numpy as np

import common  # noqa: F401  (quiet TensorFlow's start-up logs)
from common import data, numpy_reference
from common.augment import random_shift
from common.cli import comma_list, positive_float, positive_int, recipe_parser
from common.distribute import steps_per_execution
from common.gradients import input_gradient, input_value
from common.harness import Harness, Recipe, run_main, seed_summary
from common.references import references
from common.results import save_arrays
from common.training import Timer, epoch_shuffled, reinitialize, seed_everything, steps_per_epoch
from recipes.activations.gradient_flow import after_one_epoch, at_initialisation, first_over_last
from recipes.activations.plots import plot
from recipes.activations.report import DEFAULT_RUNS, SUMMARY

NAME = "activations"

# -- Setup: the hyperparameters (each flag's default; --help lists them) -------------------------------

EPOCHS = 60  # at most: early stopping ends a fit earlier (--no-regularise: every epoch)
PATIENCE = 15  # epochs without a better validation loss before it stops
SEEDS = 3
LAYERS, UNITS = 5, 64  # the MLP each activation is trained in: 5 hidden layers of 64
DEPTH = 10  # hidden layers of the gradient-flow network
BATCH_SIZE = 128  # per replica
LEARNING_RATE = 5e-3  # Adam; with --regularise the peak of a cosine decay to 0
ACTIVATIONS = tuple(numpy_reference.ACTIVATIONS)  # linear, sigmoid, tanh, relu, ..., mish
DATASETS = ("digits", "mnist1d")
# --quick: every stage once: one activation (the loop over them runs the same code; sigmoid, whose
# vanishing gradient the gradient-flow check measures at initialisation), one data set, one epoch,
# one seed
QUICK = {"epochs": 1, "seeds": 1, "datasets": ["mnist1d"], "activations": ["sigmoid"]}


def at_least_two(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (first and last layer), got {value}")
    return value


def build_parser():
    parser = recipe_parser(
        NAME,
        "Compare activation functions: curves, training on digits and MNIST-1D, gradient flow.",
        default_epochs=EPOCHS,
        default_seeds=SEEDS,
    )
    own = parser.add_argument_group("activations flags")
    own.add_argument(
        "--activations",
        type=comma_list(ACTIVATIONS),
        default=None,
        help=f"comma-separated subset of: {', '.join(ACTIVATIONS)} (default: all)",
    )
    own.add_argument(
        "--datasets",
        type=comma_list(DATASETS),
        default=list(DATASETS),
        help="comma-separated data sets to train on",
    )
    own.add_argument("--layers", type=positive_int, default=LAYERS, help="hidden layers of the MLP")
    own.add_argument("--units", type=positive_int, default=UNITS, help="units per hidden layer")
    own.add_argument(
        "--depth", type=at_least_two, default=DEPTH, help="hidden layers of the gradient-flow net"
    )
    own.add_argument(
        "--init",
        choices=("matched", "glorot"),
        default="matched",
        help="matched: Glorot for sigmoid/tanh/softsign/linear, He for the ReLU family, LeCun normal "
        "for SELU; glorot: Glorot uniform for all",
    )
    own.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE, help="batch per replica")
    own.add_argument(
        "--learning-rate",
        type=positive_float,
        default=LEARNING_RATE,
        help="Adam step size (with --regularise, the peak of the cosine decay)",
    )
    own.add_argument(
        "--regularise",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train as a practitioner would (the default): random shifts of each training example "
        "(MNIST-1D: up to 4 of its 40 steps; digits: one pixel), the learning rate decayed to 0 on "
        "a cosine, early stopping on the validation split with the best weights restored. "
        "--no-regularise: a constant rate, every epoch, no shifts, the last epoch's weights (the "
        "second run of `all`: --no-regularise --epochs 30 --batch-size 64 --learning-rate 3e-3)",
    )
    own.add_argument(
        "--patience",
        type=positive_int,
        default=PATIENCE,
        help="with --regularise: epochs without a better validation loss before training stops",
    )
    parser.set_quick(QUICK, also="300 training examples")
    return parser


GLOROT_FAMILY = ("linear", "sigmoid", "tanh", "softsign")
MATCHED_INIT = {name: "glorot_uniform" if name in GLOROT_FAMILY else "he_normal" for name in ACTIVATIONS}
MATCHED_INIT["selu"] = "lecun_normal"
REFERENCE_KEYS = ("mnist1d_logistic", "mnist1d_mlp")  # and Glorot & Bengio's, for the gradient flow
REFERENCE_KEYS += ("glorot_sigmoid", "glorot_tanh", "glorot_tanh_normalized", "glorot_softsign")


# -- The initialiser matched to each activation --------------------------------------------------------


def initializer(name: str, scheme: str) -> str:
    return "glorot_uniform" if scheme == "glorot" else MATCHED_INIT[name]


# -- The curves: f and f' by autodiff, beside the NumPy closed forms of common/numpy_reference.py ----


def activation_curves(names) -> tuple[np.ndarray, dict, dict]:
    """f and f' on [-5, 5] from the Keras activation and the backend's autodiff (common/gradients.py);
    the largest deviation from the NumPy closed forms (f' off the kink at 0, where autodiff takes a
    one-sided slope by convention: TensorFlow the right one, JAX the left)."""
    import keras

    grid = np.linspace(-5, 5, 1001)  # float64
    curves, deviation, away = {}, {}, grid != 0
    for name in names:
        function = keras.activations.get(name)
        f = input_value(function, grid)
        df = input_gradient(lambda x, function=function: keras.ops.sum(function(x)), grid)
        curves[name] = np.stack([f, df])
        slope = np.abs(df - numpy_reference.derivative(name, grid))[away]
        deviation[name] = {
            "f": float(np.abs(f - numpy_reference.activation(name, grid)).max()),
            "df": float(slope.max()),
        }
    return grid, curves, deviation


# -- Prepare the data ---------------------------------------------------------------------------------


def load_data(name: str, args) -> data.Split:
    split = (data.load_digits_split if name == "digits" else data.load_mnist1d_split)(seed=args.seed)
    if args.quick:  # tiny data: a smoke run of the same code path
        split.x_train, split.y_train = data.subsample(split.x_train, split.y_train, 300, args.seed)
    return split


# -- Build the model ----------------------------------------------------------------------------------


def build_mlp(split: data.Split, activation: str, layers: int, units: int, init: str, lr, shift=False):
    """[random shift] -> Normalization -> [Dense -> Activation] x layers -> softmax; Dense and
    Activation kept apart so the pre-activations z can be read for the saturation count. `lr`: a
    rate or a schedule. `shift`: each training example shifted at random (common/augment.py)."""
    import keras

    inputs = keras.Input((split.num_features,), name="features")
    x = random_shift(split.image_shape, split.signal_length)(inputs) if shift else inputs
    scale = keras.layers.Normalization(axis=None if split.image_shape else -1, name="scale")
    scale.adapt(split.x_train)
    x = scale(x)
    for i in range(layers):
        x = keras.layers.Dense(units, kernel_initializer=init, name=f"dense_{i + 1}")(x)
        x = keras.layers.Activation(activation, name=f"{activation}_{i + 1}")(x)
    outputs = keras.layers.Dense(split.num_classes, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name=f"mlp_{activation}")
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        # the net is tiny: per-step Python overhead would dominate otherwise
        steps_per_execution=steps_per_execution(32),
    )
    return model


def learning_rate(split: data.Split, args):
    """--regularise: the rate decayed to 0 on a cosine over the run's epochs; else constant."""
    import keras

    if not args.regularise:
        return args.learning_rate
    steps = args.epochs * steps_per_epoch(len(split.x_train), args.batch_size)
    return keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)


# -- Train --------------------------------------------------------------------------------------------


def epochs_to_fraction_of_best(curve, fraction: float = 0.9) -> int:
    """The first epoch (1-based) whose validation accuracy reaches `fraction` of the best one."""
    curve = np.asarray(curve)
    return int(np.argmax(curve >= fraction * curve.max()) + 1)


def train_one_seed(seed: int, harness: Harness, model, split: data.Split) -> dict:
    """Train `model` from fresh weights drawn for `seed` (one model per activation serves every seed;
    with --regularise, stopped early, its best weights restored): the seed's record, with its loss and
    validation-accuracy curves. The first seed's model is kept."""
    import keras

    args = harness.args
    seed_everything(seed)
    reinitialize(model)
    train = epoch_shuffled(split.x_train, split.y_train, args.batch_size, seed)
    stop_early = keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True)
    callbacks = [stop_early] if args.regularise else []
    with Timer() as timer:
        fitted = model.fit(
            train,
            epochs=args.epochs,
            shuffle=False,  # `train` draws each epoch's order itself, from (seed, epoch)
            validation_data=(split.x_val, split.y_val),
            validation_batch_size=1024,
            callbacks=[*callbacks, harness.callback(train, *callbacks)],  # saved at each epoch's end
            verbose=0,
        )
    history = fitted.history  # every epoch's, those before a kill included (--resume)
    epochs = len(history["loss"])  # fewer than --epochs where early stopping ended the training
    _, accuracy = model.evaluate(split.x_test, split.y_test, batch_size=1024, verbose=0)
    if seed == args.seed:
        name, classes = f"{split.name}_{model.name.removeprefix('mlp_')}", split.class_names
        harness.save_model(model, name, seed=seed, classes=classes, example=split.x_test[:4])
    return {
        "test_accuracy": float(accuracy),
        "final_train_loss": history["loss"][-1],
        "epochs_to_90pct_best": epochs_to_fraction_of_best(history["val_accuracy"]),
        "epochs": epochs,
        "seconds_per_epoch": timer.seconds / epochs,
        "loss": history["loss"],
        "val_accuracy": history["val_accuracy"],
    }


def compare_on(harness: Harness, split: data.Split, names) -> dict:
    """One MLP per activation, trained over the run's seeds: the mean and spread of each measure."""
    args, results = harness.args, {}
    for name in names:
        init, lr = initializer(name, args.init), learning_rate(split, args)
        model = build_mlp(split, name, args.layers, args.units, init, lr, shift=args.regularise)
        stage = f"{split.name}/{name}"
        seeds = harness.seeds(stage)  # one stage each, read back on --resume
        for seed in seeds:
            seeds.record(train_one_seed(seed, harness, model, split))
        per_seed = seeds.records
        history = {key: [r.pop(key) for r in per_seed] for key in ("loss", "val_accuracy")}
        means = {
            key: float(np.mean([r[key] for r in per_seed]))
            for key in ("final_train_loss", "epochs", "epochs_to_90pct_best", "seconds_per_epoch")
        }
        summary = seed_summary(per_seed, "test_accuracy")
        results[name] = {"initializer": init, **summary, **means, "history": history}
        print(
            f"  {split.name:8s} {name:11s} test accuracy {results[name]['test_accuracy']:.4f} ± "
            f"{results[name]['test_accuracy_std']:.4f}, final loss {means['final_train_loss']:.3f}, "
            f"{means['seconds_per_epoch']:.3f} s/epoch",
            flush=True,
        )
    return results


# -- Evaluate -----------------------------------------------------------------------------------------


def gaps_over_linear(mnist1d: dict) -> dict:
    """Each non-linear activation's test accuracy minus the linear network's ({} without both)."""
    if "linear" not in mnist1d or len(mnist1d) < 2:
        return {}
    linear = mnist1d["linear"]["test_accuracy"]
    return {k: v["test_accuracy"] - linear for k, v in mnist1d.items() if k != "linear"}


def check_expectations(harness: Harness, results: dict, first_over_last: dict) -> None:
    """What a run is expected to show, where it has what a check needs. Trained as by default (not
    --quick): ReLU above the MNIST-1D paper's MLP (at least 0.70), the best at least 0.74, linear
    within 0.03 of logistic regression's 0.32, sigmoid behind every other activation.
    --no-regularise: every non-linearity still 5 points above a linear network on MNIST-1D. At Glorot
    init, sigmoid's gradient vanishing towards the input (first/last layer below 0.01), relu's and
    tanh's within a factor of 10."""
    args, gaps = harness.args, results.get("mnist1d_gap_over_linear", {})
    accuracy = {name: r["test_accuracy"] for name, r in results.get("mnist1d", {}).items()}
    if gaps and not args.regularise:
        harness.check("mnist1d_min_gap_over_linear", min(gaps.values()), at_least=0.05)
    full = args.regularise and not args.quick
    if full and {"relu", "linear", "sigmoid"} <= set(accuracy):
        others = [v for n, v in accuracy.items() if n not in ("linear", "sigmoid")]
        harness.check("mnist1d_relu_test_accuracy", accuracy["relu"], at_least=0.70)
        harness.check("mnist1d_best_test_accuracy", max(others), at_least=0.74)
        harness.check("mnist1d_linear_near_logistic", accuracy["linear"], between=(0.29, 0.35))
        behind = accuracy["sigmoid"] - min(others)
        harness.check("mnist1d_sigmoid_trails_the_others", behind, below=0)
    if "sigmoid" in first_over_last:
        harness.check("sigmoid_vanishes", first_over_last["sigmoid"], below=0.01)
    for name in ("relu", "tanh"):
        if name in first_over_last:
            harness.check(f"{name}_within_10x", first_over_last[name], between=(0.1, 10))


def run(args) -> dict:
    # -- Setup, and the curves of every activation
    harness = Harness(NAME, args)
    if args.activations is None:
        args.activations = list(ACTIVATIONS)
    names = args.activations
    harness.setup_device()  # before any op runs

    print("curves: f and f' by autodiff on the Keras activations", flush=True)
    grid, curves, deviation = activation_curves(names)
    results = {"curves_max_abs_deviation_from_numpy": deviation}

    # -- Prepare the data, then train the same MLP with each activation, over the seeds
    splits = {name: load_data(name, args) for name in args.datasets}
    training = "shifts, cosine decay, early stopping" if args.regularise else "unregularised"
    for name, split in splits.items():
        print(
            f"{name}: {len(split.x_train)} train / {len(split.x_val)} validation / "
            f"{len(split.x_test)} test; {args.layers}x{args.units} MLP, {args.epochs} epochs, "
            f"{args.seeds} seed(s), init {args.init}; {training}",
            flush=True,
        )
        results[name] = compare_on(harness, split, names)

    # -- Gradient flow: a deep network per activation, at initialisation and after one epoch
    flow_split = splits["mnist1d"] if "mnist1d" in splits else next(iter(splits.values()))
    print(f"gradient flow: {args.depth} hidden layers of {args.units} on {flow_split.name}", flush=True)
    results["gradient_flow"] = {}
    deep, flow = (args.depth, args.units), (flow_split.x_train, flow_split.y_train)
    for name in names:  # a deep net per activation, with Glorot and with the run's initialiser
        stage, init = harness.stage(f"gradient_flow/{name}"), initializer(name, args.init)
        if not stage.done:
            seed_everything(args.seed)
            glorot = build_mlp(flow_split, name, *deep, "glorot_uniform", args.learning_rate)
            seed_everything(args.seed)
            model = build_mlp(flow_split, name, *deep, init, args.learning_rate)
            before = at_initialisation(glorot, model, flow_split)  # gradient norms, dead units
            batches = epoch_shuffled(*flow, args.batch_size, args.seed)
            model.fit(batches, epochs=1, shuffle=False, verbose=0)  # then one epoch
            stage.record(after_one_epoch(model, flow_split, before, init))
        results["gradient_flow"][name] = stage.result
    results["gradient_flow_dataset"] = flow_split.name

    # -- Evaluate
    if gaps := gaps_over_linear(results.get("mnist1d", {})):
        results["mnist1d_gap_over_linear"] = gaps
    results["gradient_flow_first_over_last"] = first_over_last(results["gradient_flow"])
    check_expectations(harness, results, results["gradient_flow_first_over_last"])

    # -- Report: metrics.json, then the figures from it
    values = np.stack([curves[n] for n in names])
    save_arrays(harness.out_dir, "curves", x=grid, names=np.array(names), values=values)
    with harness.finish(results, references(*REFERENCE_KEYS)) as metrics:  # the numbers first
        plot(metrics, harness.out_dir)  # then every figure, from metrics.json (and curves.npz) alone
    return metrics


RECIPE = Recipe(NAME, "Activation functions", SUMMARY, runs=DEFAULT_RUNS)


def main(argv=None) -> int:
    return run_main(NAME, build_parser(), run, argv)
