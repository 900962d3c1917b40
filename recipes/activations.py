"""
Title: Activation functions compared
Description: Twelve activations: their shape and slope, how the same MLP trains with each, gradient flow.
Accelerator: none needed (a GPU is used when TensorFlow sees one)

What it shows: what an activation function does to a network. (1) f(x) and f'(x) over [-5, 5] for
linear (the control), sigmoid, tanh, relu, leaky_relu, elu, selu, gelu, silu, softplus, softsign and
mish, f' by autodiff on the Keras activation, checked against the NumPy closed forms of
`common/numpy_reference.py`. (2) The same MLP (5 hidden layers of 64) trained with each activation on
digits and on MNIST-1D over 3 seeds, with the initialiser matched to the activation (Glorot for
sigmoid/tanh/softsign/linear, He for the ReLU family, LeCun normal for SELU; `--init glorot` uses Glorot
for all): test accuracy, final training loss, epochs to reach 90% of the best validation accuracy,
seconds per epoch. (3) Gradient flow in a 10-hidden-layer net: the norm of each hidden kernel's gradient
at initialisation (with the run's initialiser, and with Glorot for every activation, the setting of
Glorot & Bengio) and after one epoch; the fraction of dead units (zero output on the whole validation
set) and of saturated units (|f'(z)| < 0.01 on more than half of the validation inputs; for ReLU this
counts units that are off on most inputs).

Run:
    python -m recipes.activations                          # everything (about 3.5 minutes, 2 cores)
    python -m recipes.activations --activations relu,gelu  # a subset
    python -m recipes.activations --init glorot            # one initialiser for every activation
    python -m recipes.activations --quick                  # smoke: relu and sigmoid, 1 seed, 2 epochs

Writes to outputs/activations/: metrics.json, curves.npz, activation_curves.png,
learning_curves_digits.png, learning_curves_mnist1d.png, final_accuracy.png, gradient_flow.png.

Reference: Glorot & Bengio (2010), Table 1 (MNIST, 5x1000: sigmoid 2.21% error, tanh 1.76%, tanh with
normalized init 1.64%, softsign 1.64%); MNIST-1D paper (Greydanus & Kobak): logistic 0.32, MLP 0.68.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import common  # noqa: F401  (quiet TensorFlow's start-up logs)
from common import data as D
from common import numpy_reference as ref
from common.cli import comma_list, positive_float, positive_int, recipe_parser, run_main
from common.device import setup_device
from common.plotting import color, plot_band, plt, save_figure
from common.references import references
from common.results import (
    finish_run,
    load_arrays,
    mean_std,
    save_arrays,
)
from common.training import Timer, make_dataset, reinitialize, seed_everything, seeds_for

NAME = "activations"
ACTIVATIONS = tuple(ref.ACTIVATIONS)  # linear, sigmoid, tanh, relu, ..., mish
DATASETS = ("digits", "mnist1d")
QUICK_ACTIVATIONS = ("relu", "sigmoid")
GLOROT_FAMILY = ("linear", "sigmoid", "tanh", "softsign")
MATCHED_INIT = {name: "glorot_uniform" if name in GLOROT_FAMILY else "he_normal" for name in ACTIVATIONS}
MATCHED_INIT["selu"] = "lecun_normal"
SATURATED_SLOPE = 0.01
REFERENCE_KEYS = (
    "mnist1d_logistic",
    "mnist1d_mlp",
    "glorot_sigmoid",
    "glorot_tanh",
    "glorot_tanh_normalized",
    "glorot_softsign",
)


def at_least_two(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (first and last layer), got {value}")
    return value


def build_parser():
    parser = recipe_parser(
        NAME,
        "Compare activation functions: curves, training on digits and MNIST-1D, gradient flow.",
        default_epochs=30,
        default_seeds=3,
    )
    own = parser.add_argument_group("activations flags")
    own.add_argument(
        "--activations",
        type=comma_list(ACTIVATIONS),
        default=None,
        help="comma-separated subset of: "
        + ", ".join(ACTIVATIONS)
        + " (default: all; --quick: "
        + ",".join(QUICK_ACTIVATIONS)
        + ")",
    )
    own.add_argument(
        "--datasets",
        type=comma_list(DATASETS),
        default=list(DATASETS),
        help="comma-separated data sets to train on",
    )
    own.add_argument("--layers", type=positive_int, default=5, help="hidden layers of the MLP")
    own.add_argument("--units", type=positive_int, default=64, help="units per hidden layer")
    own.add_argument(
        "--depth", type=at_least_two, default=10, help="hidden layers of the gradient-flow net"
    )
    own.add_argument(
        "--init",
        choices=("matched", "glorot"),
        default="matched",
        help="matched: Glorot for sigmoid/tanh/softsign/linear, He for the ReLU family, LeCun normal "
        "for SELU; glorot: Glorot uniform for all",
    )
    own.add_argument("--batch-size", type=positive_int, default=64, help="mini-batch size")
    own.add_argument("--learning-rate", type=positive_float, default=3e-3, help="Adam step size")
    return parser


def initializer(name: str, scheme: str) -> str:
    return "glorot_uniform" if scheme == "glorot" else MATCHED_INIT[name]


# -- Curves: f and f' by autodiff, beside the NumPy closed forms ------------------------------------


def activation_curves(names) -> tuple[np.ndarray, dict, dict]:
    """f and f' on [-5, 5] from the Keras activation and GradientTape; max deviation from NumPy."""
    import keras
    import tensorflow as tf

    grid = np.linspace(-5, 5, 1001)
    x = tf.constant(grid, dtype=tf.float64)
    curves, deviation = {}, {}
    for name in names:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = keras.activations.get(name)(x)
        f, df = y.numpy(), tape.gradient(y, x).numpy()
        curves[name] = np.stack([f, df])
        deviation[name] = {
            "f": float(np.abs(f - ref.activation(name, grid)).max()),
            "df": float(np.abs(df - ref.derivative(name, grid)).max()),
        }
    return grid, curves, deviation


# -- Prepare the data -----------------------------------------------------------------------------


def load_data(name: str, args) -> D.Split:
    split = (
        D.load_digits_split(seed=args.seed) if name == "digits" else D.load_mnist1d_split(seed=args.seed)
    )
    if args.quick:  # tiny data: a smoke run of the same code path
        split.x_train, split.y_train = D.subsample(split.x_train, split.y_train, 600, args.seed)
    return split


# -- Build the model ------------------------------------------------------------------------------


def build_mlp(split: D.Split, activation: str, layers: int, units: int, init: str, lr: float):
    """Normalization -> [Dense -> Activation] x layers -> softmax; Dense and Activation kept apart so
    the pre-activations z can be read for the saturation count."""
    import keras

    inputs = keras.Input((split.num_features,), name="features")
    scale = keras.layers.Normalization(axis=None if split.image_shape else -1, name="scale")
    scale.adapt(split.x_train)
    x = scale(inputs)
    for i in range(layers):
        x = keras.layers.Dense(units, kernel_initializer=init, name=f"dense_{i + 1}")(x)
        x = keras.layers.Activation(activation, name=f"{activation}_{i + 1}")(x)
    outputs = keras.layers.Dense(split.num_classes, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name=f"mlp_{activation}")
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=32,  # the net is tiny: per-step Python overhead would dominate otherwise
    )
    return model


# -- Train ----------------------------------------------------------------------------------------


def epochs_to_fraction_of_best(curve, fraction: float = 0.9) -> int:
    """The first epoch (1-based) whose validation accuracy reaches `fraction` of the best one."""
    curve = np.asarray(curve)
    return int(np.argmax(curve >= fraction * curve.max()) + 1)


def train_one(model, split: D.Split, seed: int, args) -> dict:
    """Train `model` from fresh weights drawn for `seed` (one model per activation serves every seed)."""
    seed_everything(seed)
    reinitialize(model)
    train = make_dataset(split.x_train, split.y_train, args.batch_size, shuffle=True, seed=seed)
    val = make_dataset(split.x_val, split.y_val, 1024)
    with Timer() as timer:
        history = model.fit(train, validation_data=val, epochs=args.epochs, shuffle=False, verbose=0)
    _, accuracy = model.evaluate(split.x_test, split.y_test, batch_size=1024, verbose=0)
    val_accuracy = [float(v) for v in history.history["val_accuracy"]]
    return {
        "seed": seed,
        "test_accuracy": float(accuracy),
        "final_train_loss": float(history.history["loss"][-1]),
        "epochs_to_90pct_best": epochs_to_fraction_of_best(val_accuracy),
        "seconds_per_epoch": timer.seconds / args.epochs,
        "loss": [float(v) for v in history.history["loss"]],
        "val_accuracy": val_accuracy,
    }


def compare_on(split: D.Split, names, args) -> dict:
    results = {}
    for name in names:
        init = initializer(name, args.init)
        model = build_mlp(split, name, args.layers, args.units, init, args.learning_rate)
        runs = [train_one(model, split, seed, args) for seed in seeds_for(args)]
        accuracy, accuracy_std = mean_std([r["test_accuracy"] for r in runs])
        results[name] = {
            "initializer": initializer(name, args.init),
            "test_accuracy": accuracy,
            "test_accuracy_std": accuracy_std,
            "per_seed": [r["test_accuracy"] for r in runs],
            "final_train_loss": float(np.mean([r["final_train_loss"] for r in runs])),
            "epochs_to_90pct_best": float(np.mean([r["epochs_to_90pct_best"] for r in runs])),
            "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"] for r in runs])),
            "runs": [{k: v for k, v in r.items() if k not in ("loss", "val_accuracy")} for r in runs],
            "history": {
                "loss": [r["loss"] for r in runs],
                "val_accuracy": [r["val_accuracy"] for r in runs],
            },
        }
        print(
            f"  {split.name:8s} {name:11s} test accuracy {accuracy:.4f} ± {accuracy_std:.4f}, "
            f"final loss {results[name]['final_train_loss']:.3f}, "
            f"{results[name]['seconds_per_epoch']:.3f} s/epoch",
            flush=True,
        )
    return results


# -- Gradient flow --------------------------------------------------------------------------------


def kernel_grad_norms(model, x, y) -> list[float]:
    """The norm of the loss gradient for each hidden kernel (input side first, output layer excluded)."""
    import keras
    import tensorflow as tf

    kernels = [layer.kernel for layer in model.layers if layer.name.startswith("dense_")]
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]


def unit_health(model, x, activation: str) -> tuple[float, float]:
    """Fractions of hidden units that are dead (output 0 on every input) and saturated
    (|f'(z)| < 0.01 on more than half of the inputs), over all hidden layers."""
    import keras

    dense = [layer.output for layer in model.layers if layer.name.startswith("dense_")]
    zs = keras.Model(model.input, dense)(x)
    z = np.concatenate([np.asarray(v) for v in zs], axis=1).astype(np.float64)
    a = ref.activation(activation, z)
    dead = np.all(a == 0, axis=0).mean()
    saturated = (np.mean(np.abs(ref.derivative(activation, z)) < SATURATED_SLOPE, axis=0) > 0.5).mean()
    return float(dead), float(saturated)


def gradient_flow(split: D.Split, names, args) -> dict:
    """Per-layer gradient norms in a deep net at init and after one epoch; dead and saturated units."""
    results = {}
    for name in names:
        seed_everything(args.seed)
        glorot = build_mlp(split, name, args.depth, args.units, "glorot_uniform", args.learning_rate)
        init_glorot = kernel_grad_norms(glorot, split.x_train, split.y_train)
        seed_everything(args.seed)
        init = initializer(name, args.init)
        model = build_mlp(split, name, args.depth, args.units, init, args.learning_rate)
        at_init = kernel_grad_norms(model, split.x_train, split.y_train)
        dead_init, saturated_init = unit_health(model, split.x_val, name)
        train = make_dataset(split.x_train, split.y_train, args.batch_size, shuffle=True, seed=args.seed)
        model.fit(train, epochs=1, shuffle=False, verbose=0)
        after = kernel_grad_norms(model, split.x_train, split.y_train)
        dead, saturated = unit_health(model, split.x_val, name)
        results[name] = {
            "initializer": init,
            "layer_grad_norms": {"init": at_init, "epoch1": after, "init_glorot": init_glorot},
            "dead_fraction": dead,
            "saturated_fraction": saturated,
            "dead_fraction_init": dead_init,
            "saturated_fraction_init": saturated_init,
        }
        print(
            f"  {name:11s} first/last layer gradient norm at init (Glorot) "
            f"{init_glorot[0] / init_glorot[-1]:.2e}; after 1 epoch dead {dead:.2f}, "
            f"saturated {saturated:.2f}",
            flush=True,
        )
    return results


# -- Evaluate: the bars of the issue, measured --------------------------------------------------------


def check_bars(results: dict) -> dict:
    """The known facts, as measured in this run (None where the run lacks what a check needs)."""
    checks = {}
    mnist1d = results.get("mnist1d", {})
    if "linear" in mnist1d and len(mnist1d) > 1:
        linear = mnist1d["linear"]["test_accuracy"]
        gaps = {k: v["test_accuracy"] - linear for k, v in mnist1d.items() if k != "linear"}
        checks["mnist1d_gap_over_linear"] = {
            "linear": linear,
            "gaps": gaps,
            "min_gap": min(gaps.values()),
            "holds": min(gaps.values()) >= 0.15,
        }
    flow = results["gradient_flow"]
    ratios = {
        k: v["layer_grad_norms"]["init_glorot"][0] / v["layer_grad_norms"]["init_glorot"][-1]
        for k, v in flow.items()
    }
    checks["glorot_first_over_last_grad_norm"] = ratios
    if "sigmoid" in ratios:
        checks["sigmoid_vanishes"] = {"ratio": ratios["sigmoid"], "holds": ratios["sigmoid"] < 0.01}
    for name in ("relu", "tanh"):
        if name in ratios:
            checks[f"{name}_within_10x"] = {"ratio": ratios[name], "holds": 0.1 <= ratios[name] <= 10}
    return checks


def run(args) -> dict:
    start = time.perf_counter()
    out_dir = Path(args.output_dir)
    if args.activations is None:
        args.activations = list(QUICK_ACTIVATIONS if args.quick else ACTIVATIONS)
    if args.quick:
        args.epochs, args.seeds = min(args.epochs, 2), 1
    names = args.activations
    device = setup_device()

    print("curves: f and f' by autodiff on the Keras activations", flush=True)
    grid, curves, deviation = activation_curves(names)

    results = {"curves_max_abs_deviation_from_numpy": deviation}
    splits = {name: load_data(name, args) for name in args.datasets}
    for name, split in splits.items():
        print(
            f"{name}: {len(split.x_train)} train / {len(split.x_val)} validation / "
            f"{len(split.x_test)} test; {args.layers} x {args.units} MLP, {args.epochs} epochs, "
            f"{args.seeds} seed(s), init {args.init}",
            flush=True,
        )
        results[name] = compare_on(split, names, args)

    flow_split = splits["mnist1d"] if "mnist1d" in splits else next(iter(splits.values()))
    print(f"gradient flow: {args.depth} hidden layers of {args.units} on {flow_split.name}", flush=True)
    results["gradient_flow"] = gradient_flow(flow_split, names, args)
    results["gradient_flow_dataset"] = flow_split.name
    results["checks"] = check_bars(results)
    for key, check in results["checks"].items():
        if isinstance(check, dict) and "holds" in check:
            print(f"check {key}: {'holds' if check['holds'] else 'DOES NOT HOLD'}")

    out_dir.mkdir(parents=True, exist_ok=True)
    save_arrays(
        out_dir, "curves", x=grid, names=np.array(names), values=np.stack([curves[n] for n in names])
    )
    return finish_run(NAME, args, results, references(*REFERENCE_KEYS), start, device, out_dir, plot)


# -- Report ---------------------------------------------------------------------------------------


def style(i: int) -> dict:
    """Twelve lines need more than ten colours: the next ones are dashed."""
    return {"color": color(i), "linestyle": "-" if i < 10 else "--"}


def plot_activation_curves(out_dir: Path) -> None:
    arrays = load_arrays(out_dir, "curves")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (name, (f, df)) in enumerate(zip(arrays["names"], arrays["values"])):
        axes[0].plot(arrays["x"], f, label=str(name), **style(i))
        axes[1].plot(arrays["x"], df, label=str(name), **style(i))
    axes[0].set(title="f(x)", xlabel="x", ylim=(-2, 5))
    axes[1].set(title="f'(x), autodiff on the Keras activation", xlabel="x", ylim=(-0.3, 1.3))
    axes[1].legend(loc="upper left", ncol=2)
    save_figure(fig, out_dir / "activation_curves.png")


def plot_learning(dataset: str, results: dict, out_dir: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (name, r) in enumerate(results.items()):
        s = style(i)
        plot_band(axes[0], r["history"]["loss"], name, s["color"], s["linestyle"])
        plot_band(axes[1], r["history"]["val_accuracy"], name, s["color"], s["linestyle"])
    axes[0].set(title="training loss", xlabel="epoch", yscale="log")
    axes[1].set(title="validation accuracy", xlabel="epoch")
    axes[1].legend(loc="lower right", ncol=2)
    seeds = len(next(iter(results.values()))["per_seed"])
    fig.suptitle(f"{dataset}: mean and spread over {seeds} seed(s)")
    save_figure(fig, out_dir / f"learning_curves_{dataset}.png")


def plot_final_accuracy(metrics: dict, out_dir: Path) -> None:
    results = metrics["results"]
    datasets = [d for d in DATASETS if d in results]
    names = list(results[datasets[0]])
    width = 0.8 / len(datasets)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(names) + 2), 4.5))
    for k, dataset in enumerate(datasets):
        x = np.arange(len(names)) + (k - (len(datasets) - 1) / 2) * width
        means = [results[dataset][n]["test_accuracy"] for n in names]
        stds = [results[dataset][n]["test_accuracy_std"] for n in names]
        ax.bar(x, means, width, yerr=stds, capsize=3, color=color(k), label=dataset)
    for r in metrics["references"]:
        if r["name"].endswith("(MNIST-1D paper)"):
            ax.axhline(r["value"], color="#666666", linestyle=":", linewidth=1)
            ax.text(len(names) - 0.5, r["value"], f"MNIST-1D paper: {r['name'].split(' (')[0]}",
                    ha="right", va="bottom", fontsize=8, color="#444444")  # fmt: skip
    ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
    ax.set(ylabel="test accuracy", ylim=(0, 1.05), title="Test accuracy by activation (mean ± std)")
    ax.legend(loc="upper left")
    save_figure(fig, out_dir / "final_accuracy.png")


def plot_gradient_flow(metrics: dict, out_dir: Path) -> None:
    flow = metrics["results"]["gradient_flow"]
    panels = (
        ("init_glorot", "at initialisation, Glorot for all"),
        ("init", f"at initialisation, {metrics['args']['init']} init"),
        ("epoch1", "after one epoch"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    for ax, (key, title) in zip(axes, panels):
        for i, (name, r) in enumerate(flow.items()):
            norms = r["layer_grad_norms"][key]
            ax.plot(
                np.arange(1, len(norms) + 1), norms, marker="o", markersize=3, label=name, **style(i)
            )
        ax.set(title=title, xlabel="hidden layer (input side first)", yscale="log")
    axes[0].set_ylabel("gradient norm of the layer's kernel")
    axes[2].legend(loc="best", ncol=2)
    save_figure(fig, out_dir / "gradient_flow.png")


def plot(metrics: dict, out_dir) -> None:
    """Every figure from metrics.json and curves.npz."""
    out_dir = Path(out_dir)
    results = metrics["results"]
    plot_activation_curves(out_dir)
    for dataset in DATASETS:
        if dataset in results:
            plot_learning(dataset, results[dataset], out_dir)
    plot_final_accuracy(metrics, out_dir)
    plot_gradient_flow(metrics, out_dir)


def main(argv=None) -> int:
    return run_main(NAME, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
