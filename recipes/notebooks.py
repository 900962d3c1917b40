"""A notebook per recipe, `recipes/<name>/<name>.ipynb`, written by `python -m recipes report` from the
recipe's own source, section by section, as keras-io's tutobook writes an example's notebook from
its .py: every code cell a learner runs is the recipe's code, in the order of the page.

- the title and the docstring, then a `parameters` cell (papermill's convention): `QUICK = False`
  (True: the smoke settings of `--quick`) and `OUTPUT_DIR = None` (the checkout's outputs/,
  wherever Jupyter was started);
- the imports of recipe.py, then each of its top-level sections (`# -- Title ----`: the
  hyperparameters, the data, the model, the training, the evaluation) as a heading and its code;
- the flags, parsed as the command parses them;
- the body of `run(args)`, cell by cell at its `# -- ` comments: the data loaded, the models built
  and trained (each with its own `model.fit`), the numbers written, the figures drawn;
- the headline numbers and the figures, shown.

No cell calls the recipe's `main`. The notebooks are committed without outputs, and the tests run
each with `QUICK = True` (tests/test_notebooks.py).
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

from recipes.gallery import docstring_body

SECTION = re.compile(r"(\s*)# -- (.+?)(?: -+)?\s*")  # a section's comment line, at any indent


def cell(kind: str, source: str, number: int, name: str, tags=()) -> dict:
    """One notebook cell (nbformat 4.5), with a stable id and no outputs."""
    entry = {"cell_type": kind, "id": f"{name}-{number}", "metadata": {}, "source": source}
    if tags:
        entry["metadata"]["tags"] = list(tags)
    if kind == "code":
        entry.update(execution_count=None, outputs=[])
    return entry


def split_sections(lines: list[str], indent: str = "") -> list[tuple[str, str]]:
    """(title, code) for each `# -- Title` section of `lines` (at `indent`); the code before the
    first section under the title ""."""
    sections, title, code = [], "", []
    for line in lines:
        match = SECTION.fullmatch(line.rstrip("\n"))
        if match and match.group(1) == indent:
            sections.append((title, code))
            title, code = match.group(2).strip(), []
        else:
            code.append(line)
    sections.append((title, code))
    return [(title, "".join(code).strip("\n")) for title, code in sections if "".join(code).strip()]


def story_cells(source: str) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]]:
    """recipe.py as cells: (its imports, its top-level sections before `run`, the sections of the
    body of `run`, dedented, without its `return`)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    body = tree.body[1:] if isinstance(tree.body[0], ast.Expr) else tree.body  # the docstring
    imports = [node for node in body if isinstance(node, (ast.Import, ast.ImportFrom))]
    last_import = max(node.end_lineno for node in imports)
    run = next(n for n in body if isinstance(n, ast.FunctionDef) and n.name == "run")
    start = run.lineno - 1 - len(run.decorator_list)
    top = split_sections(lines[last_import:start])
    inner = [node for node in run.body if not isinstance(node, ast.Return)]
    inner = (
        inner[1:]
        if isinstance(inner[0], ast.Expr) and isinstance(inner[0].value, ast.Constant)
        else inner
    )
    first = inner[0].lineno - 1
    # the comments before the first statement belong to it
    while first > run.lineno and lines[first - 1].strip().startswith("#"):
        first -= 1
    body_lines = textwrap.dedent("".join(lines[first : inner[-1].end_lineno])).splitlines(True)
    imports_code = "".join(  # all but `from __future__`, which a notebook's cells do not need
        line for line in lines[imports[0].lineno - 1 : last_import] if "__future__" not in line
    ).strip("\n")
    return imports_code, top, split_sections(body_lines)


def notebook(name: str, title: str, docstring: str, source: str) -> dict:
    """Recipe `name`'s notebook: its recipe.py, cell by cell."""
    imports, top, body = story_cells(source)
    steps = [
        (
            "markdown",
            f"# {title}\n\n{docstring_body(docstring)}\n\nThis notebook is `recipes/{name}/recipe.py`, "
            f"cell by cell: running every cell is `python -m recipes.{name}`. Set `QUICK = True` "
            "below for the smoke settings of `--quick`: every step once, in seconds to a minute, its "
            "numbers meaningless.",
        ),
        (
            "code",
            "QUICK = False  # True: the smoke settings of --quick\n"
            "OUTPUT_DIR = None  # None: this checkout's outputs/ (outputs/quick/ with QUICK)",
        ),
        ("markdown", "## Setup\n\nThe recipe's imports."),
        ("code", imports),
    ]
    for section, code in top:
        steps += [("markdown", f"## {section or 'Setup'}"), ("code", code)]
    steps += [
        (
            "markdown",
            "## The run\n\nThe flags as the command parses them (`--help` lists every one): their "
            "defaults are the hyperparameters above. Then the recipe's `run`, step by step.",
        ),
        (
            "code",
            "from pathlib import Path\n\n"
            "from common.device import import_backend\n\n"
            "import_backend()  # as the command starts it (TensorFlow without its start-up log)\n"
            'argv = ["--quick"] if QUICK else []\n'
            "if OUTPUT_DIR is None:  # the checkout's outputs/, wherever Jupyter was started\n"
            "    folder = build_parser().parse_args(argv).output_dir\n"
            "    OUTPUT_DIR = Path(common.__file__).resolve().parents[1] / folder\n"
            'args = build_parser().parse_args([*argv, "--output-dir", str(OUTPUT_DIR)])\n'
            "print('outputs go to', args.output_dir)",
        ),
    ]
    for section, code in body:
        steps += [("markdown", f"### {section or 'Setup'}"), ("code", code)]
    steps += [
        (
            "markdown",
            "## The numbers\n\nThe headline numbers, as the README's table shows them, each beside "
            "its published reference or a number of the same run, read from `metrics.json`.",
        ),
        (
            "code",
            "from recipes.__main__ import headline_rows\nfrom recipes.gallery import fmt\n"
            f"from recipes.{name} import RECIPE\n\n"
            "for row in headline_rows(RECIPE, RECIPE.runs[0], metrics):\n"
            "    print(f\"{row['label']}: {fmt(row['value'])}  ({row['beside'] or 'no reference'})\")",
        ),
        ("markdown", "## The figures\n\nEach figure the run drew, with what to see in it."),
        (
            "code",
            "from IPython.display import Image, Markdown, display\n\n"
            "from common.outputs import figures\n"
            "from recipes.__main__ import caption_for, figure_captions\n\n"
            "captions = figure_captions(RECIPE)\n"
            "for name in figures(args.output_dir):  # the figures this run drew\n"
            '    caption = Markdown(f"**{name}**: {caption_for(name, captions)}")\n'
            "    display(caption, Image(str(Path(args.output_dir) / name)))",
        ),
    ]
    cells = []
    for number, (kind, text) in enumerate(steps):
        tags = ("parameters",) if text.startswith("QUICK = ") else ()
        cells.append(cell(kind, text, number, name, tags))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(name: str, title: str, docstring: str, source: str) -> str:
    """The notebook as its file holds it: JSON, one space of indent, a newline at the end."""
    return json.dumps(notebook(name, title, docstring, source), indent=1, ensure_ascii=False) + "\n"


def notebook_path(repo: Path, name: str) -> Path:
    return repo / "recipes" / name / f"{name}.ipynb"
