"""The notebook of each recipe (recipes/<name>/<name>.ipynb): what `report` writes, committed without
outputs, its first code cell the `parameters` one; and each runs top to bottom with QUICK = True."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from recipes import NAMES
from tests.conftest import assert_outputs_contract

ROOT = Path(__file__).resolve().parents[1]


def test_every_recipe_has_the_notebook_report_writes_without_outputs():
    import nbformat

    from recipes.__main__ import recipe_notebooks

    books = recipe_notebooks(ROOT)
    assert [book["path"].parent.name for book in books] == list(NAMES)
    for book in books:
        path = book["path"]
        assert path.is_file(), f"missing {path}: run `python -m recipes report`"
        assert path.read_text() == book["text"], f"{path} is stale: run `python -m recipes report`"
        notebook = nbformat.reads(book["text"], as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert code[0].metadata.get("tags") == ["parameters"]
        assert code[0].source.startswith("QUICK = False")
        assert all(not cell.outputs and cell.execution_count is None for cell in code), path
        # the recipe's own code, cell by cell: its Keras training call in a cell, no call of main
        training = "train_on_batch(" if book["path"].parent.name == "online_learning" else "model.fit("
        assert any(training in cell.source for cell in code), path
        assert not any(re.search(r"(?<![\w.])main\(", cell.source) for cell in code), path
        source = (book["path"].parent / "recipe.py").read_text()
        assert all(cell.source in source for cell in code[2:-3] if "\n" not in cell.source.strip())


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_runs_top_to_bottom_with_quick(name, tmp_path):
    """The notebook with QUICK = True in a fresh kernel (nbclient), from a folder of its own: every
    cell runs, the run writes the outputs contract under outputs/quick/<name>, and the last cell
    shows each of its figures."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "recipes" / name / f"{name}.ipynb", as_version=4)
    parameters = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    out = tmp_path / "outputs" / "quick" / name
    parameters.source = f"QUICK = True\nOUTPUT_DIR = {str(out)!r}"
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # a cell that raises fails the test, naming the cell and its error
    printed = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert f"outputs go to {out}" in printed  # where it writes, as it says
    metrics = assert_outputs_contract(out, name, allow_null=("known_drift", "recovery_samples"))
    figures = sorted(out.glob("*.png"))
    shown = [
        output
        for output in notebook.cells[-1].outputs
        if output.output_type == "display_data" and "image/png" in output.data
    ]
    assert figures and len(shown) == len(figures)
    numbers = "".join(o.get("text", "") for o in notebook.cells[-3].outputs)
    assert "[smoke run: --quick]" in numbers, numbers
    assert json.loads((out / "metrics.json").read_text()) == metrics
