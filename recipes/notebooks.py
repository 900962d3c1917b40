"""A notebook per recipe, `recipes/<name>/<name>.ipynb`, written by `python -m recipes report`.

Each is the recipe's story cell by cell, a prose cell before each step: the flags, the data, the
model, the training and evaluation (the recipe's own `main`, the command itself), the headline
numbers and the figures. Every code cell calls the recipe's own functions, so a notebook cannot
drift from the code: there is no second copy of a recipe. Its first code cell is tagged
`parameters` (papermill's convention) and holds `QUICK = False` and `OUTPUT_DIR = None`; `QUICK =
True` runs the smoke settings of `--quick`, into the checkout's outputs/quick/<name> (wherever
Jupyter was started) unless OUTPUT_DIR names a folder. The notebooks are committed without outputs, and
the tests run each with `QUICK = True` (tests/test_notebooks.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from recipes.gallery import docstring_body

# (prose, code) of the steps that differ between recipes: the data, then the model
STEPS = {
    "activations": [
        (
            "## Prepare the data\n\nMNIST-1D (Greydanus, 2020): 40 numbers per example, ten digit "
            "classes, generated locally; `load_data` splits it into training, validation and test "
            "sets.",
            "split = recipe.load_data(args.datasets[0], args)\n"
            "print(split.name, split.x_train.shape, split.x_val.shape, split.x_test.shape)",
        ),
        (
            "## Build the model\n\nOne MLP per activation, the same in all else: `build_mlp` "
            "(Normalization, then Dense and Activation layers, then softmax), here with ReLU.",
            'init, lr = recipe.initializer("relu", args.init), args.learning_rate\n'
            'model = recipe.build_mlp(split, "relu", args.layers, args.units, init, lr)\n'
            "model.summary()",
        ),
    ],
    "mlp_classifier": [
        (
            "## Prepare the data\n\nscikit-learn's 8x8 handwritten digits by default (`--dataset` "
            "picks another, or your own CSV); `load_data` splits it into training, validation and "
            "test sets.",
            "split = recipe.load_data(args)\n"
            "print(split.name, split.x_train.shape, split.x_test.shape, split.class_names)",
        ),
        (
            "## Build the model\n\n`build_model`: the MLP of `--hidden` layers, compiled with Adam.",
            "model = recipe.build_model(split, args, augment=False)\nmodel.summary()",
        ),
    ],
    "rnn_sequence": [
        (
            "## Prepare the data\n\nTwo tasks: MNIST-1D read as a sequence of 40 steps of one value "
            "(`load_sequences`), and the adding problem (`adding_problem`: two marked numbers in a "
            "long sequence, to be added).",
            "split = load_sequences(args)\n"
            "print(split.name, split.x_train.shape, split.x_test.shape)\n"
            "x, y = recipe.adding_problem(4, length=25)\n"
            "print('adding problem:', x.shape, y.ravel())",
        ),
        (
            "## Build the model\n\n`recurrent_model`: recurrent layers (here SimpleRNN, "
            "bidirectional) over every step, pooled, then a softmax head.",
            "steps, features = split.x_train.shape[1:]\n"
            'model = recurrent_model("simple", steps, features, split.num_classes, units=args.units,\n'
            "                        layers=args.layers, bidirectional=True, all_steps=True)\n"
            "model.summary()",
        ),
    ],
    "transfer_learning": [
        (
            "## Prepare the data\n\nA source task to pretrain on and a target task to transfer to "
            "(`load_tasks`); the shift scenario's target is MNIST-1D regenerated with stronger "
            "transformations.",
            "flags.validate_args(args)\nsource, target = load_tasks(args)\nprint_tasks(source, target)",
        ),
        (
            "## Build the model\n\n`build_model`: three convolution blocks and a dense block, each "
            "with BatchNormalization, then the head; the target networks copy the source's blocks "
            "with `set_weights`, layer by layer (`copy_weights`).",
            "model = recipe.build_model(source_architecture(args))\nmodel.summary()",
        ),
    ],
    "online_learning": [
        (
            "## Prepare the data\n\nA stream of items, each predicted before it is learned from "
            "(`prepare_stream`: the records cleaned into arrays, in stream order).",
            "flags.validate_args(args)\n"
            "data = recipe.prepare_stream(args.stream[0], args)\n"
            "print(data.stream.name, data.x.shape, 'known drift at', data.facts['known_drift'])",
        ),
        (
            "## Build the model\n\n`plain_model`: the network of the plain Keras test-then-train "
            "loop (`keras_loop`: `predict_on_batch`, then `train_on_batch`).",
            "model = recipe.plain_model(data.x.shape[1], len(data.stream.classes), args)\n"
            "model.summary()",
        ),
    ],
}
# what each recipe's notebook imports besides its recipe.py (sorted as ruff sorts them)
IMPORTS = {
    "rnn_sequence": "from recipes.rnn_sequence import recipe\n"
    "from recipes.rnn_sequence.models import recurrent_model\n"
    "from recipes.rnn_sequence.recipe import load_sequences",
    "transfer_learning": "from recipes.transfer_learning import flags, recipe\n"
    "from recipes.transfer_learning.models import source_architecture\n"
    "from recipes.transfer_learning.tasks import load_tasks, print_tasks",
    "online_learning": "from recipes.online_learning import flags, recipe",
}


def cell(kind: str, source: str, number: int, name: str, tags=()) -> dict:
    """One notebook cell (nbformat 4.5), with a stable id and no outputs."""
    entry = {"cell_type": kind, "id": f"{name}-{number}", "metadata": {}, "source": source}
    if tags:
        entry["metadata"]["tags"] = list(tags)
    if kind == "code":
        entry.update(execution_count=None, outputs=[])
    return entry


def notebook(name: str, title: str, docstring: str) -> dict:
    """Recipe `name`'s notebook: its story cell by cell, calling the recipe's own functions."""
    body = docstring_body(docstring)
    steps = [
        (
            "markdown",
            f"# {title}\n\n{body}\n\nThis notebook runs the code of `python -m recipes.{name}`, step "
            "by step. Set `QUICK = True` below for the smoke run of `--quick`: every step once, in "
            "seconds to a minute, its numbers meaningless.",
        ),
        (
            "code",
            "QUICK = False  # True: the smoke settings of --quick\n"
            "OUTPUT_DIR = None  # None: this checkout's outputs/ (outputs/quick/ with QUICK)",
        ),
        (
            "markdown",
            "## The flags\n\n`build_parser()` is the command's own parser: its defaults are the "
            "run's (`--help` lists every flag); `--quick` writes to outputs/quick/ instead of "
            "outputs/.",
        ),
        (
            "code",
            "from pathlib import Path\n\n"
            "from common.device import import_tensorflow\n"
            + IMPORTS.get(name, f"from recipes.{name} import recipe")
            + "\n\nimport_tensorflow()  # as the command starts it: without TensorFlow's start-up log\n"
            + '\nargv = ["--quick"] if QUICK else []\n'
            "args = recipe.build_parser().parse_args(argv)\n"
            "if OUTPUT_DIR is None:  # the checkout's outputs/, wherever Jupyter was started\n"
            "    OUTPUT_DIR = Path(recipe.__file__).resolve().parents[2] / args.output_dir\n"
            'argv += ["--output-dir", str(OUTPUT_DIR)]\n'
            "args = recipe.build_parser().parse_args(argv)\n"
            "print('outputs go to', args.output_dir)",
        ),
    ]
    for prose, code in STEPS[name]:
        steps += [("markdown", prose), ("code", code)]
    steps += [
        (
            "markdown",
            "## Train and evaluate\n\n`recipe.main(argv)` is the command itself: it trains every "
            "model of the run with `model.fit` (each seed and stage recorded as it finishes), "
            "evaluates them, writes `metrics.json` and draws the figures from it. An interrupted "
            'run goes on from where it stopped with `recipe.main(argv + ["--resume"])`.',
        ),
        ("code", "assert recipe.main(argv) == 0"),
        (
            "markdown",
            "## The numbers\n\nThe headline numbers, as the README's table shows them, each beside "
            "its published reference or a number of the same run, read from `metrics.json`.",
        ),
        (
            "code",
            "import json\n\n"
            "from recipes.__main__ import headline_rows\nfrom recipes.gallery import fmt\n\n"
            'metrics = json.loads((Path(args.output_dir) / "metrics.json").read_text())\n'
            "for row in headline_rows(recipe.RECIPE, recipe.RECIPE.runs[0], metrics):\n"
            "    print(f\"{row['label']}: {fmt(row['value'])}  ({row['beside'] or 'no reference'})\")",
        ),
        ("markdown", "## The figures\n\nEach figure the run drew, with what to see in it."),
        (
            "code",
            "from IPython.display import Image, Markdown, display\n\n"
            "from common.outputs import figures\n"
            "from recipes.__main__ import caption_for, figure_captions\n\n"
            "captions = figure_captions(recipe.RECIPE)\n"
            "for name in figures(args.output_dir):  # the figures this run drew\n"
            '    caption = Markdown(f"**{name}**: {caption_for(name, captions)}")\n'
            "    display(caption, Image(str(Path(args.output_dir) / name)))",
        ),
    ]
    cells = []
    for number, (kind, source) in enumerate(steps):
        tags = ("parameters",) if source.startswith("QUICK = ") else ()
        cells.append(cell(kind, source, number, name, tags))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(name: str, title: str, docstring: str) -> str:
    """The notebook as its file holds it: JSON, one space of indent, a newline at the end."""
    return json.dumps(notebook(name, title, docstring), indent=1, ensure_ascii=False) + "\n"


def notebook_path(repo: Path, name: str) -> Path:
    return repo / "recipes" / name / f"{name}.ipynb"
