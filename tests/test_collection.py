"""`python -m recipes`: the registry, each recipe's shape and flags, the listing, and redrawing figures
from saved metrics."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import json
import os
import shutil
import sys

import pytest

from recipes import NAMES, registry
from recipes.__main__ import main as collection_main
from recipes.gallery import lookup
from tests.conftest import ROOT, error_lines, run_cli


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
    # the hyperparameters, the flags and the model on the page: keras-io's longest tutorials
    assert len(lines) <= 450, f"{story.__file__}: {len(lines)} lines (about 450 at most)"
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
    with pytest.raises(SystemExit) as done, contextlib.redirect_stdout(io.StringIO()) as out:
        parser.parse_args(["--help"])  # what `python -m recipes.<name> --help` prints
    assert done.value.code == 0
    text = " ".join(out.getvalue().split())
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{action.option_strings} has no help text"
        for option in action.option_strings:
            assert f"{option} " in text or f"{option}," in text, option
    assert "(default: None)" not in text and "(default: [" not in text  # once, as a user types it


def test_a_recipe_runs_as_a_command_of_recipes(tmp_path):
    """`python -m recipes <name> [flags]` is `python -m recipes.<name> [flags]`: its --help, a bad
    flag refused by the recipe's own parser, and a run that writes its outputs."""
    from recipes.__main__ import main

    with pytest.raises(SystemExit) as shown:
        main(["mlp_classifier", "--help"])
    assert shown.value.code == 0
    with pytest.raises(SystemExit) as refused:
        main(["mlp_classifier", "--epochs", "0"])
    assert refused.value.code == 2
    out = tmp_path / "xor"
    assert main(["mlp_classifier", "--quick", "--dataset", "xor", "--output-dir", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["results"]["dataset"] == "xor"


def test_a_wrong_command_is_refused_naming_every_command_and_recipe(capsys):
    """`python -m recipes foo`: one line, exit 2, offering the subcommands and the five recipes."""
    with pytest.raises(SystemExit) as refused:
        collection_main(["foo"])
    assert refused.value.code == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "invalid choice: 'foo'" in line
    for name in ("list", "all", "plots", "report", "predict", *NAMES):
        assert f"'{name}'" in line.split("choose from")[1], line


def test_an_empty_output_dir_is_refused_not_the_current_folder(tmp_path, monkeypatch, capsys):
    """`--output-dir ""` once wrote a run's files into the current folder."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as refused:
        collection_main(["mlp_classifier", "--quick", "--dataset", "xor", "--output-dir", ""])
    assert refused.value.code == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "--output-dir: must name a folder, got an empty value" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["plots", "report"])
def test_plots_and_report_on_a_truncated_metrics_json_say_which_in_one_line(command, tmp_path, capsys):
    """A metrics.json cut short (a full disk, a copy that stopped): one line naming it, exit 2,
    nothing written (once a JSONDecodeError traceback)."""
    root = tmp_path / "outputs"
    shutil.copytree(ROOT / "outputs" / "mlp_classifier", root / "mlp_classifier")
    metrics = root / "mlp_classifier" / "metrics.json"
    metrics.write_text(metrics.read_text()[:500])
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    before = sorted(p.stat().st_mtime_ns for p in root.rglob("*.png"))
    extra = ["--readme", str(readme)] if command == "report" else []
    assert collection_main([command, "--output-dir", str(root), *extra]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert f"python -m recipes {command}: error: {metrics} is truncated or damaged" in line
    assert sorted(p.stat().st_mtime_ns for p in root.rglob("*.png")) == before
    assert not (root / "index.html").exists()
    assert readme.read_text() == (ROOT / "README.md").read_text()


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


def test_no_run_shows_tensorflows_start_up_log_on_any_backend(quick_outputs):
    """TensorFlow's C++ notices (oneDNN, CUDA) are not a run's first lines, on TensorFlow nor on JAX
    or PyTorch, where Keras imports TensorFlow to save a model (common.device.import_backend)."""
    if quick_outputs.result is None:
        pytest.skip("QUICK_OUTPUTS reuses a folder: the `all` run's output is not there")
    said = quick_outputs.result.stdout + quick_outputs.result.stderr
    for notice in ("oneDNN", "cuda drivers", "absl::InitializeLog", "cpu_feature_guard"):
        assert notice not in said, notice


def test_plots_redraws_every_figure_from_saved_metrics(quick_outputs, tmp_path, capsys):
    """Every figure of the quick runs redrawn from their metrics.json; with the benchmarks' outputs
    beside them, the gallery shows the benchmarks' figures and ratios too."""
    root = tmp_path / "outputs"
    shutil.copytree(quick_outputs.root, root)
    figures = sorted(root.rglob("*.png"))
    assert len(figures) >= 15
    for figure in figures:
        figure.unlink()
    shutil.copytree(ROOT / "outputs" / "benchmarks", root / "benchmarks")
    assert collection_main(["plots", "--output-dir", str(root)]) == 0
    for figure in figures:
        assert figure.is_file(), f"not redrawn: {figure.relative_to(root)}"
    out = capsys.readouterr().out
    for recipe in registry().values():
        for run in recipe.runs:
            folder = root / recipe.name / run.subdir if run.subdir else root / recipe.name
            assert f"redrew {folder}" in out
    page = (root / "index.html").read_text()
    benchmarks = sorted(p.name for p in (ROOT / "outputs" / "benchmarks").glob("*.png"))
    assert benchmarks and all(f"benchmarks/{name}" in page for name in benchmarks)
    assert "items/s over river LR" in page


@pytest.mark.parametrize("module", ["recipes", *(f"recipes.{name}" for name in NAMES)])
def test_version_names_the_collection_and_the_libraries_it_runs_on(module):
    import importlib.metadata

    result = run_cli(module, "--version")
    assert result.returncode == 0
    line = result.stdout.strip()
    assert line.startswith("keras-recipes ") and "\n" not in line
    assert f"TensorFlow {importlib.metadata.version('tensorflow')}" in line


@pytest.mark.parametrize("where", ["environment", "config file"])
def test_a_keras_backend_the_recipes_do_not_run_on_is_refused_at_start_with_one_line(where, tmp_path):
    """Keras's numpy and openvino backends train nothing: refused before any output, naming where
    the setting was read and the three that work, from a recipe and from `all`."""
    out = tmp_path / "out"
    if where == "environment":
        env = {"KERAS_BACKEND": "numpy"}
    else:
        home = tmp_path / "keras_home"
        home.mkdir()
        (home / "keras.json").write_text('{"backend": "openvino"}')
        env = {"KERAS_HOME": str(home), "KERAS_BACKEND": ""}
    result = run_cli("recipes.mlp_classifier", "--quick", "--output-dir", str(out), env=env)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert "run on tensorflow, jax or torch; set KERAS_BACKEND" in line, result.stderr
    assert ("KERAS_BACKEND" if where == "environment" else "keras.json") in line.split(":")[2]
    assert not out.exists()
    result = run_cli("recipes", "all", "--quick", "--output-dir", str(out), env=env)
    assert result.returncode == 2 and "run on tensorflow, jax or torch" in result.stderr
    assert not out.exists()


def test_a_backend_that_is_not_installed_says_which_extra_installs_it(monkeypatch):
    import importlib.util

    from common.harness import UsageError, check_backend

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "jax" else real(n, *a))
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.delitem(sys.modules, "keras", raising=False)  # as a fresh process reads it
    with pytest.raises(UsageError) as refused:
        check_backend()
    said = "Keras backend 'jax' (from KERAS_BACKEND) is not installed: pip install -e \".[jax]\""
    assert str(refused.value) == said


def test_a_runs_thread_count_reaches_every_backend(monkeypatch):
    """`all --threads N`: TensorFlow's and OpenMP's (PyTorch's) thread counts; one thread is also
    XLA's on JAX, which otherwise takes every core in each of the runs side by side. The suite's
    own processes run so (tests/conftest.py), and what a run records is what it used."""
    from common import device
    from common.device import ONE_THREAD_XLA, thread_env

    assert ONE_THREAD_XLA in os.environ["XLA_FLAGS"]
    if device.backend() == "jax":
        assert device.intra_op_threads() == 1
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    one, two = thread_env(1), thread_env(2)
    assert one["TF_NUM_INTRAOP_THREADS"] == one["OMP_NUM_THREADS"] == "1"
    assert one["XLA_FLAGS"] == f"--xla_dump_to=/tmp/x {ONE_THREAD_XLA}"  # added to, not replaced
    assert thread_env(1, one)["XLA_FLAGS"] == one["XLA_FLAGS"]  # once, however often it is applied
    assert two["OMP_NUM_THREADS"] == "2" and two["XLA_FLAGS"] == "--xla_dump_to=/tmp/x"


def test_all_says_which_run_of_how_many_and_the_time_left_by_the_last_run():
    import time

    from recipes.__main__ import progress_line

    runs = [("activations", []), ("mlp_classifier", []), ("rnn_sequence", [])]
    ten_s_ago = time.perf_counter() - 10
    line = progress_line(2, runs, ten_s_ago, {"mlp_classifier": 50.0, "rnn_sequence": 3700.0})
    assert line.startswith("[2/3] mlp_classifier: 10 s elapsed")
    assert line.endswith(
        "about 62.5 min left (from the last run's times)"
    )  # as the gallery writes times
    assert "left" not in progress_line(1, runs, ten_s_ago, {"mlp_classifier": 50.0})  # no estimate


@pytest.mark.parametrize("name", NAMES)
def test_help_says_what_each_shared_flag_does_in_this_recipe(name):
    """--seed says which seeds a run uses, --quick what it takes (no promise of seconds), --resume
    speaks of epochs only where the recipe trains for epochs, and progress has one flag, --quiet."""
    parser = importlib.import_module(f"recipes.{name}").build_parser()
    text = " ".join(parser.format_help().split())
    assert "seed, seed+1, ..., seed+N-1" in text and "seeds run seed.." not in text
    assert "under a minute on a 2-core CPU" in text and "few seconds" not in text
    epochs = any(action.dest == "epochs" for action in parser._actions)
    assert ("unfinished fit goes on from its last finished epoch" in text) == epochs
    assert "--no-progress" not in text and "--progress" not in text and "--quiet" in text
    assert "recipe.py" not in text  # a flag says what it does, not where to read the code


def test_the_ablation_flag_names_the_settings_it_runs():
    from recipes.online_learning import build_parser
    from recipes.online_learning.recipe import ABLATION

    text = " ".join(build_parser().format_help().split())
    assert all(setting in text for setting in ABLATION if setting != "default")


def keras_calls(name: str) -> list:
    """Every `.fit(...)` and `.train_on_batch(...)` call in recipes/<name>/recipe.py (its AST)."""
    import ast

    tree = ast.parse((ROOT / "recipes" / name / "recipe.py").read_text())
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("fit", "train_on_batch")
    ]


@pytest.mark.parametrize("name", NAMES)
def test_each_training_is_a_keras_call_on_the_page_with_its_arguments_written_out(name):
    """keras-io's page: `model.fit(train, epochs=..., validation_data=..., callbacks=[...])` in the
    open: no `**` unpacking of hidden arguments, no history the harness holds apart from the one
    `fit` returns, and every hyperparameter a named constant, the default of its flag."""
    import ast

    calls = keras_calls(name)
    assert calls, f"{name}: no Keras training call in recipe.py"
    for call in calls:
        assert not any(k.arg is None for k in call.keywords), f"{name}: ** in {ast.unparse(call)}"
        if call.func.attr == "fit":
            assert {k.arg for k in call.keywords} >= {"epochs", "verbose"}, ast.unparse(call)
    source = (ROOT / "recipes" / name / "recipe.py").read_text()
    assert "harness.history" not in source and "fit_arguments" not in source
    story = importlib.import_module(f"recipes.{name}.recipe")
    parser = story.build_parser()
    defaults = {a.dest: a.default for a in parser._actions}
    for flag, constant in (("batch_size", "BATCH_SIZE"), ("learning_rate", "LEARNING_RATE")):
        assert defaults[flag] == getattr(story, constant), (name, flag)
    assert defaults["seeds"] == story.SEEDS
    assert name == "online_learning" or defaults["epochs"] == story.EPOCHS  # online: no epochs
