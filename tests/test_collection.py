"""`python -m recipes`: the registry, the listing, and redrawing figures from saved metrics."""

from __future__ import annotations

import importlib
import inspect

from recipes import RECIPES
from recipes.__main__ import main as collection_main
from tests.conftest import run_cli


def test_every_registered_recipe_has_the_four_public_names():
    for recipe in RECIPES.values():
        module = importlib.import_module(recipe.module)
        assert module.__doc__ and "Title:" in module.__doc__, recipe.name
        for name in ("build_parser", "run", "plot", "main"):
            assert callable(getattr(module, name)), f"{recipe.name}.{name}"
        assert list(inspect.signature(module.plot).parameters) == ["metrics", "out_dir"]


def test_listing_names_every_recipe():
    result = run_cli("recipes")
    assert result.returncode == 0
    for name in RECIPES:
        assert name in result.stdout


def test_plots_says_which_recipes_have_no_outputs(tmp_path, capsys):
    assert collection_main(["plots", "--output-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no outputs yet" in err and "mlp_classifier" in err


def test_plots_redraws_from_saved_metrics(tmp_path, capsys):
    from recipes import mlp_classifier

    out = tmp_path / "mlp_classifier"
    assert mlp_classifier.main(["--quick", "--output-dir", str(out)]) == 0
    figure = out / "comparison.png"
    figure.unlink()
    assert collection_main(["plots", "--output-dir", str(tmp_path)]) in (0, 1)
    assert figure.is_file()
    assert f"redrew {out}" in capsys.readouterr().out
