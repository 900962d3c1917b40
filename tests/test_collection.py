"""`python -m recipes`: the registry, each recipe's shape and flags, the listing, and redrawing figures
from saved metrics."""

from __future__ import annotations

import argparse
import importlib
import inspect
import shutil

import pytest

from recipes import NAMES, registry
from recipes.__main__ import main as collection_main
from recipes.gallery import lookup
from tests.conftest import ROOT, run_cli


def narrative(name: str):
    """The module a reader opens: `recipes/<name>.py`, or `recipes/<name>/recipe.py` for a package."""
    module = importlib.import_module(f"recipes.{name}")
    return inspect.getmodule(module.run)


def test_every_registered_recipe_has_the_four_public_names_and_declares_itself():
    recipes = registry()
    assert list(recipes) == list(NAMES)
    for name, recipe in recipes.items():
        module = importlib.import_module(recipe.module)
        assert recipe.name == name and recipe.title and recipe.summary
        assert recipe.runs and all(run.headlines for run in recipe.runs), name
        for public in ("build_parser", "run", "plot", "main"):
            assert callable(getattr(module, public)), f"{name}.{public}"
        assert list(inspect.signature(module.plot).parameters) == ["metrics", "out_dir"]
        story = narrative(name)
        assert story.__doc__ and "Title:" in story.__doc__ and "Accelerator:" in story.__doc__, name


@pytest.mark.parametrize("name", NAMES)
def test_story_and_docstring_stay_short(name):
    story = narrative(name)
    lines = inspect.getsource(story).splitlines()
    assert len(lines) <= 310, f"{story.__file__}: {len(lines)} lines (about 300 at most)"
    assert len(story.__doc__.strip().splitlines()) <= 25, f"{story.__file__}: docstring too long"


def test_every_headline_names_a_number_in_the_committed_outputs():
    """A renamed results key must not turn a README or gallery number into "n/a"."""
    from benchmarks import BENCHMARKS
    from common.results import load_metrics

    for recipe in [*registry().values(), BENCHMARKS]:
        for run in recipe.runs:
            folder = ROOT / "outputs" / recipe.name / run.subdir
            metrics = load_metrics(folder)
            for headline in run.headlines:
                for path in (headline.path, headline.beside_path):
                    if path:
                        value = lookup(metrics, path)
                        assert isinstance(value, (int, float)), f"{folder}: {path} is {value!r}"


@pytest.mark.parametrize("name", NAMES)
def test_help_documents_every_flag_with_its_default(name):
    """Built from the parser itself: every option appears in --help, with a help text."""
    parser = importlib.import_module(f"recipes.{name}").build_parser()
    result = run_cli(f"recipes.{name}", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{action.option_strings} has no help text"
        for option in action.option_strings:
            assert f"{option} " in text or f"{option}," in text, option


def test_listing_names_every_recipe():
    result = run_cli("recipes")
    assert result.returncode == 0
    for recipe in registry().values():
        assert f"{recipe.name}" in result.stdout and recipe.title in result.stdout


def test_plots_says_which_recipes_have_no_outputs(tmp_path, capsys):
    assert collection_main(["plots", "--output-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no outputs yet" in err
    for name in NAMES:
        assert name in err


def test_plots_redraws_every_figure_from_saved_metrics(quick_outputs, tmp_path, capsys):
    root = tmp_path / "outputs"
    shutil.copytree(quick_outputs.root, root)
    figures = sorted(root.rglob("*.png"))
    assert len(figures) >= 15
    for figure in figures:
        figure.unlink()
    assert collection_main(["plots", "--output-dir", str(root)]) == 0
    for figure in figures:
        assert figure.is_file(), f"not redrawn: {figure.relative_to(root)}"
    out = capsys.readouterr().out
    for recipe in registry().values():
        for run in recipe.runs:
            folder = root / recipe.name / run.subdir if run.subdir else root / recipe.name
            assert f"redrew {folder}" in out
