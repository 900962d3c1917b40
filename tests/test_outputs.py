"""An output folder holds one run (common/outputs.py), and a run on the user's own data never writes
over the committed results of the recipe's own."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from common.outputs import MANIFEST, figures, publish, read_manifest, redrawn, write_manifest
from tests.conftest import ROOT


def make(folder, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name)


def test_publishing_replaces_the_last_runs_files_and_nothing_else(tmp_path):
    folder, staging = tmp_path / "out", tmp_path / "staging"
    make(folder, "metrics.json", "misclassified.png", "misclassified.npz", "models/mlp.keras")
    write_manifest(
        folder, ["metrics.json", "misclassified.png", "misclassified.npz", "models/mlp.keras"]
    )
    make(folder, "my_notes.png", "unregularised/metrics.json")  # the user's, another run's folder
    make(staging, "metrics.json", "comparison.png", ".comparison.png.abc.tmp.png")
    assert publish(staging, folder) == ["comparison.png", "metrics.json"]
    left = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert left == [
        MANIFEST,
        "comparison.png",
        "metrics.json",
        "my_notes.png",
        "unregularised/metrics.json",
    ]
    assert not (folder / "models").exists()  # emptied by the run that wrote it
    assert (folder / "metrics.json").read_text() == "metrics.json"
    assert read_manifest(folder) == ["comparison.png", "metrics.json"]
    assert figures(folder) == ["comparison.png"]  # not the user's my_notes.png


def test_a_redraw_keeps_the_manifest_true(tmp_path):
    folder = tmp_path / "out"
    make(folder, "metrics.json", "old_figure.png", "curves.npz", "mine.png")
    write_manifest(folder, ["metrics.json", "old_figure.png", "curves.npz"])
    make(folder, "new_figure.png")
    redrawn(folder, [folder / "new_figure.png"])
    assert read_manifest(folder) == ["curves.npz", "metrics.json", "new_figure.png"]
    assert not (folder / "old_figure.png").exists() and (folder / "mine.png").is_file()


def test_a_new_run_removes_only_what_a_run_wrote_into_its_checkpoint(tmp_path):
    from common.checkpoint import RunCheckpoint

    out = tmp_path / "out"
    checkpoint = out / ".checkpoint"
    make(checkpoint, "state.json", "stages/0.npz", "fits/seed_0/0/fit.json", "outputs/models/a.keras")
    make(checkpoint, "notes.txt", "stages/mine.txt")  # a user's files
    run = RunCheckpoint(out, {"recipe": "demo"}, resume=False)
    run.begin("seed_0")  # a new run starts over here
    left = sorted(p.relative_to(checkpoint).as_posix() for p in checkpoint.rglob("*") if p.is_file())
    assert left == ["notes.txt", "stages/mine.txt", "state.json"]
    run.remove()
    assert sorted(p.name for p in checkpoint.rglob("*") if p.is_file()) == ["mine.txt", "notes.txt"]


def test_a_run_on_your_own_data_writes_to_a_folder_of_its_own(tmp_path):
    from recipes.mlp_classifier import build_parser

    table = tmp_path / "animals.csv"
    table.write_text("a,b\n1,x\n")
    parser = build_parser()
    args = parser.parse_args(["--dataset", f"csv:{table}", "--target", "b"])
    assert args.output_dir == "outputs/yours/mlp_classifier/animals" and parser.own_data == [str(table)]
    args = parser.parse_args(["--dataset", f"csv:{table}", "--target", "b", "--quick"])
    assert args.output_dir == "outputs/quick/yours/mlp_classifier/animals"
    assert parser.parse_args([]).output_dir == "outputs/mlp_classifier" and parser.own_data == []
    args = parser.parse_args(["--dataset", f"csv:{table}", "--target", "b", "--output-dir", "x"])
    assert args.output_dir == "x"


@pytest.mark.parametrize("folder", ["outputs/mlp_classifier", "outputs", "outputs/activations/mine"])
def test_your_own_data_is_refused_in_a_folder_of_committed_results(folder, tmp_path, capsys):
    from recipes.mlp_classifier import build_parser

    table = tmp_path / "animals.csv"
    table.write_text("a,b\n1,x\n")
    argv = ["--dataset", f"csv:{table}", "--target", "b", "--output-dir", str(ROOT / folder)]
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(argv)
    assert refused.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "holds the committed results of the recipe's own data" in line
    assert "leave --output-dir out" in line


def test_a_published_reference_stands_only_beside_a_run_on_its_data():
    from recipes.__main__ import headline_rows
    from recipes.mlp_classifier import RECIPE

    metrics = json.loads((ROOT / "outputs/mlp_classifier/metrics.json").read_text())
    (own, _) = headline_rows(RECIPE, RECIPE.runs[0], metrics)
    assert own["beside"].startswith("SVC, scikit-learn gallery: 0.969")
    metrics["references"], metrics["args"]["dataset"] = [], "csv:animals.csv"  # as a CSV run writes
    metrics["results"]["dataset"] = "csv:animals.csv"
    (yours, _) = headline_rows(RECIPE, RECIPE.runs[0], metrics)
    assert yours["label"].startswith("csv:animals.csv test accuracy") and yours["beside"] == ""


@pytest.mark.slow
def test_the_readmes_run_on_your_own_data_leaves_the_committed_files_as_they_are(
    tmp_path, monkeypatch, capsys
):
    """The README's own-data commands as written (the run as a smoke run, --quick added), in a copy
    of the checkout's committed outputs under git (its .gitignore): the run says where it writes,
    `git status` stays clean, tracked files and untracked, and `predict` reads the kept model."""
    import re

    from recipes.__main__ import main as collection_main
    from recipes.mlp_classifier import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    run = re.search(r"^python -m recipes\.mlp_classifier (--dataset csv:(\S+) .*)$", readme, re.M)
    predict = re.search(r"^python -m recipes predict (\S+) (\S+)$", readme, re.M)
    assert run and predict, "the README's own-data commands"
    repo = tmp_path / "checkout"
    shutil.copytree(ROOT / "outputs", repo / "outputs")
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "committed results"], check=True)
    rows = [f"{i % 7},{(i * 3) % 5},{'cat' if i % 2 else 'dog'}" for i in range(60)]
    (repo / run.group(2)).write_text("age,weight,species\n" + "\n".join(rows) + "\n")
    (repo / predict.group(2)).write_text("age,weight\n1,2\n3,4\n")
    monkeypatch.chdir(repo)
    assert main([*run.group(1).split(), "--quick"]) == 0
    folder = "outputs/quick/yours/mlp_classifier/" + run.group(2).removesuffix(".csv")
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"your data ({run.group(2)}): writing to {folder}"
    (repo / run.group(2)).unlink()
    (repo / predict.group(2)).unlink()
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True)
    assert status.stdout == "", status.stdout
    (repo / predict.group(2)).write_text("age,weight\n1,2\n3,4\n")
    model = predict.group(1).replace("outputs/yours/", "outputs/quick/yours/")  # the smoke run's
    assert collection_main(["predict", model, predict.group(2)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.split("\t")[0] in ("cat", "dog") for line in lines)


def quick_mlp(out, *argv: str) -> int:
    from recipes.mlp_classifier import main

    return main(["--quick", "--quiet", *argv, "--output-dir", str(out)])


@pytest.mark.slow
def test_a_killed_run_on_other_data_leaves_the_finished_run_as_it_was(tmp_path):
    """A finished run, then a run on other data killed after its first stage: the folder's model,
    metrics.json and figures are still the finished run's, byte for byte (once the killed run's
    model had replaced the finished one's beside the finished one's metrics.json)."""
    import hashlib
    import signal

    from common.checkpoint import KILL_AFTER
    from tests.conftest import run_cli

    out = tmp_path / "out"
    assert quick_mlp(out) == 0  # digits
    before = {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in out.rglob("*")
        if p.is_file()
    }
    assert "models/mlp.keras" in before and "misclassified.png" in before
    argv = ["--quick", "--dataset", "xor", "--output-dir", str(out)]
    killed = run_cli("recipes.mlp_classifier", *argv, env={KILL_AFTER: "stage:1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    after = {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in out.rglob("*")
        if p.is_file() and ".checkpoint" not in p.parts and p.name != ".run.lock"
    }
    assert after == before
    assert (out / ".checkpoint" / "outputs" / "models" / "mlp.keras").is_file()  # the killed run's


@pytest.mark.slow
def test_a_new_run_leaves_no_figure_of_the_last_one_and_a_resume_checks_what_it_restores(tmp_path):
    from common.checkpoint import FOLDER, KILL_AFTER
    from tests.conftest import assert_refused, run_cli

    out = tmp_path / "out"
    assert quick_mlp(out) == 0  # digits: images, so misclassified.png and first_layer_weights.png
    (out / "my_notes.png").write_bytes(b"mine")
    assert quick_mlp(out, "--dataset", "xor") == 0
    assert not (out / "misclassified.png").exists() and not (out / "first_layer_weights.npz").exists()
    assert (out / "my_notes.png").read_bytes() == b"mine" and (out / "learning_curves.png").is_file()
    argv = ["--quick", "--dataset", "xor", "--seeds", "2"]
    killed = run_cli(
        "recipes.mlp_classifier", *argv, "--output-dir", str(out), env={KILL_AFTER: "stage:1"}
    )
    assert killed.returncode != 0
    kept = out / FOLDER / "outputs" / "models" / "mlp.keras"
    kept.write_bytes(kept.read_bytes() + b"changed")
    line = assert_refused("mlp_classifier", [*argv, "--resume"], "was changed since the stage", out)
    assert "kept by stage 'seed_0'" in line and "run without --resume" in line
    kept.unlink()
    assert_refused(
        "mlp_classifier", [*argv, "--resume"], "mlp.keras, kept by stage 'seed_0', is missing", out
    )
