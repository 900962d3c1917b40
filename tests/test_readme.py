"""The README and the pages under docs/: a first page a newcomer can read, and code that runs as
written (every Python block, in a folder laid out as a clean clone)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

BLOCK = re.compile(r"```python\n(.*?)```", re.S)


PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]


def page_text(*names: str) -> str:
    return "\n".join((ROOT / name).read_text(encoding="utf-8") for name in names or PAGES)


def readme_python_blocks() -> list[str]:
    """Every Python block of the README and the docs/ pages, in that order."""
    return BLOCK.findall(page_text())


def test_the_pages_have_python_blocks_to_run():
    blocks = readme_python_blocks()
    assert len(blocks) >= 3 and all("import" in block for block in blocks)


def test_the_readme_is_a_first_page():
    """At most 200 lines and 2,000 words, no paragraph a reader cannot take in at once, no line wider
    than a page (tables and figures aside), and every page under docs/ it names is there."""
    text = page_text("README.md")
    lines = text.splitlines()
    assert len(lines) <= 200 and len(text.split()) <= 2000, (len(lines), len(text.split()))
    prose = [line for line in lines if not line.startswith(("|", "!["))]
    assert max(map(len, prose)) <= 110
    blocks = re.split(r"\n\s*\n|\n(?=- )", text)  # paragraphs, and each item of a list
    paragraphs = [p for p in blocks if not p.lstrip().startswith(("|", "```", "<!--"))]
    assert max(len(p.split()) for p in paragraphs) <= 150
    assert text.index("python -m recipes all --quick") < text.index("## Results")  # the first try
    for page in re.findall(r"\]\((docs/[\w.]+\.md)\)", text):
        assert (ROOT / page).is_file(), page
    assert set(re.findall(r"\]\((docs/[\w.]+\.md)\)", text)) == set(PAGES[1:])  # each one linked


# words for the project's developers, which a user's page must not hold: issue numbers, commit
# hashes, "the machine of ..." (a measured figure names the machine and the date instead)
DEVELOPER_WORDS = re.compile(
    r"\b[Ii]ssues? \d+|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b|\bmachine of\b"
)


def help_texts() -> dict[str, str]:
    """What --help prints for every recipe, the collection's commands and the benchmarks."""
    import importlib

    from recipes import NAMES

    texts = {}
    for name in NAMES:
        texts[f"{name} --help"] = importlib.import_module(f"recipes.{name}").build_parser().format_help()
    for argv in ([], ["all"], ["plots"], ["report"], ["predict"]):
        texts[f"recipes {' '.join(argv)} --help"] = cli_help(["recipes", *argv])
    texts["benchmarks --help"] = cli_help(["benchmarks"])
    return texts


def cli_help(argv: list[str]) -> str:
    import contextlib
    import importlib
    import io

    main = importlib.import_module(f"{argv[0]}.__main__").main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*argv[1:], "--help"])
    return out.getvalue()


def test_no_page_a_user_reads_speaks_to_the_projects_developers():
    texts = {name: page_text(name) for name in PAGES}
    for path in sorted((ROOT / "recipes").glob("*/README.md")) + sorted(
        (ROOT / "recipes").glob("*/*.ipynb")
    ):
        texts[path.relative_to(ROOT).as_posix()] = path.read_text(encoding="utf-8")
    texts["outputs/index.html"] = (ROOT / "outputs" / "index.html").read_text(encoding="utf-8")
    texts.update(help_texts())
    assert len(texts) >= 20
    found = {name: DEVELOPER_WORDS.findall(text) for name, text in texts.items()}
    found = {name: [m for m in DEVELOPER_WORDS.finditer(texts[name])] for name in found if found[name]}
    assert not found, {name: [m.group(0) for m in ms] for name, ms in found.items()}
    assert DEVELOPER_WORDS.search("measured for issue 26, commit 311753e, on the machine of X")


# a block that reads what a run makes (kept models are not committed) says so on its first line
AFTER = re.compile(r"^# after `(python -m recipes\.(\w+))`")


def clean_clone_outputs(folder) -> None:
    """`folder/outputs` as a clean clone has it: the files git tracks under outputs/, nothing else."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "outputs"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for path in filter(None, listed.split("\0")):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, folder / path)


def test_a_readme_block_that_reads_a_runs_output_names_the_command_on_its_first_line():
    blocks = readme_python_blocks()
    reads = [block for block in blocks if "outputs/" in block]
    assert reads, "the README's load-a-kept-model block"
    for block in reads:
        assert AFTER.match(block), (
            f"a block reads outputs/ without naming the run that makes it:\n{block}"
        )


@pytest.mark.slow
@pytest.mark.tensorflow  # docs/libraries.md's river learner is the compiled one, TensorFlow's
def test_every_python_block_of_the_readme_runs_as_written_in_a_clean_clone(
    quick_outputs, tmp_path, monkeypatch, capsys
):
    """Each block in turn, in this process (each with globals of its own, so a block that forgets an
    import fails), from a folder laid out as a clean clone (the committed outputs/ only): it must
    run to its end, printing what it says it prints. A block whose first line says `# after
    `python -m recipes.<name>`` runs after what that run keeps (its models/ folder, from a quick
    run) is put in place, and not before."""
    clean_clone_outputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    blocks = readme_python_blocks()
    for i, block in enumerate(blocks):
        print(f"--- block {i}", flush=True)
        if after := AFTER.match(block):
            models = quick_outputs.folder(after.group(2)) / "models"
            shutil.copytree(models, tmp_path / "outputs" / after.group(2) / "models")
        exec(compile(block, f"README block {i}", "exec"), {})
    out = capsys.readouterr().out
    assert all(f"--- block {i}" in out for i in range(len(blocks)))
    assert "Accuracy:" in out  # river's progressive_val_score
    assert "best_params_" not in out and "{'model_kwargs':" in out  # the grid search's best
    assert re.search(r"\['\w+'(, '\w+')*\]", out), out  # the class names predicted


@pytest.mark.slow
def test_the_readmes_quick_shell_commands_run_as_written(quick_outputs, tmp_path):
    """The README's commands that take under a minute, run as written from a folder laid out as a
    checkout (the others train for minutes; the recipe tests run each one's --quick form):
    `python -m recipes`, `python -m recipes plots` (on a quick run's outputs), `python -m recipes
    report` (on the committed outputs: the README comes out as it is) and the `predict` example."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = page_text()
    for command in ("`python -m recipes`", "`python -m recipes plots`", "`python -m recipes report`"):
        assert command in pages, command
    predict = re.search(r"^(python -m recipes predict \S+ (\S+))", page_text("docs/running.md"), re.M)
    assert predict, "the README's predict example"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}

    def run(command: str, cwd) -> subprocess.CompletedProcess:
        argv = [sys.executable, *command.split()[1:]]  # `python`: this environment's
        result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, f"{command}: {result.stderr[-2000:]}"
        return result

    assert "mlp_classifier" in run("python -m recipes", tmp_path).stdout
    quick = tmp_path / "quick"  # one recipe's quick run: every figure's redraw is test_collection's
    mlp = quick_outputs.folder("mlp_classifier")
    shutil.copytree(mlp, quick / "outputs" / "mlp_classifier", symlinks=True)
    run("python -m recipes plots", quick)
    assert (quick / "outputs" / "index.html").is_file()
    committed = tmp_path / "committed"
    shutil.copytree(ROOT / "outputs", committed / "outputs")
    shutil.copy(ROOT / "README.md", committed / "README.md")
    shutil.copytree(
        ROOT / "recipes", committed / "recipes", ignore=shutil.ignore_patterns("__pycache__")
    )
    run("python -m recipes report", committed)
    assert (committed / "README.md").read_text(encoding="utf-8") == readme
    card = json.loads((quick / "outputs/mlp_classifier/models/mlp.json").read_text())
    rows = [",".join(map(str, row)) for row in card["example"]["inputs"]]
    header = ",".join(f"pixel_{i}" for i in range(len(card["example"]["inputs"][0])))
    (quick / predict.group(2)).write_text("\n".join([header, *rows]) + "\n")
    lines = run(predict.group(1), quick).stdout.strip().splitlines()
    classes = [card["classes"][i] for i in np.asarray(card["example"]["outputs"]).argmax(axis=1)]
    assert [line.split("\t")[0] for line in lines] == classes
