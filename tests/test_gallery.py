"""The gallery page and the README results table: built from saved metrics, checked in a browser."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from recipes import NAMES, gallery, registry
from recipes.__main__ import main as collection_main
from recipes.__main__ import report_sections
from tests.conftest import ROOT


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_readme_results_block_is_what_report_writes_from_committed_outputs():
    committed = (ROOT / "README.md").read_text()
    table = gallery.render_results_table(report_sections(ROOT / "outputs", ROOT))
    assert gallery.replace_readme_block(committed, table) == committed, (
        "the README's results table is stale: run `python -m recipes report`"
    )


def test_every_recipe_folder_has_the_readme_report_writes():
    """recipes/<name>/README.md: the docstring, the committed runs' headlines and their times."""
    from recipes.__main__ import recipe_readmes

    for readme in recipe_readmes(ROOT, ROOT / "outputs"):
        assert readme["path"].is_file(), f"missing {readme['path']}: run `python -m recipes report`"
        assert readme["path"].read_text() == readme["text"], (
            f"{readme['path']} is stale: run `python -m recipes report`"
        )
        assert "## Results of the committed runs" in readme["text"] and " took " in readme["text"]


def test_every_image_a_recipe_page_links_exists_and_every_committed_figure_is_shown():
    """Each recipes/<name>/README.md shows its committed figures inline, each with its caption, and
    every image it links is a file of the checkout (no screenshot: the links themselves)."""
    for recipe in registry().values():
        folder = ROOT / "recipes" / recipe.name
        page = (folder / "README.md").read_text(encoding="utf-8")
        linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page)
        assert linked, f"{recipe.name}: no figure on its page"
        for link in linked:
            assert (folder / link).resolve().is_file(), f"{recipe.name}: {link} does not exist"
        shown = {(folder / link).resolve() for link in linked}
        committed = {p.resolve() for p in (ROOT / "outputs" / recipe.name).rglob("*.png")}
        assert committed <= shown, f"{recipe.name}: figures not on its page: {committed - shown}"
        assert "## Reading recipe.py" in page and "(recipe.py#L" in page
        gallery_page = (ROOT / "outputs" / "index.html").read_text(encoding="utf-8")
        assert f"<a href='../recipes/{recipe.name}/README.md'>" in gallery_page  # the gallery links it


def test_a_page_names_the_sections_of_recipe_py_and_the_machine_a_run_was_measured_on():
    source = "x = 1\n# -- Prepare the data ----\n    # -- inside a function ---\n# -- Train\n"
    assert gallery.story_sections(source) == [(2, "Prepare the data"), (4, "Train")]
    recorded = {"device": "CPU (2 threads)", "cpu": "AMD EPYC 9R14", "cores": 2}
    assert gallery.machine(recorded) == "CPU (2 threads), AMD EPYC 9R14, 2 cores"
    assert "not recorded" in gallery.machine({"device": "CPU (2 threads)"})


def test_report_refuses_a_readme_without_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers here\n")
    assert collection_main(["report", "--readme", str(readme), "--output-dir", str(tmp_path)]) == 2
    assert readme.read_text() == "# no markers here\n"


def test_replace_readme_block_keeps_the_rest():
    text = f"intro\n{gallery.README_START}\nold\n{gallery.README_END}\noutro\n"
    new = gallery.replace_readme_block(text, "| new |")
    assert new == f"intro\n{gallery.README_START}\n| new |\n{gallery.README_END}\noutro\n"


def test_the_readme_table_escapes_what_metrics_hold():
    """A label or value from metrics cannot open an HTML tag or break the table's columns."""
    row = {"label": "a <script>x</script> | b", "value": "<i>", "beside": "c|d\ne"}
    run = {"label": "r", "folder": "f", "metrics": {"duration_s": 3}, "headlines": [row]}
    line = gallery.render_results_table([{"runs": [run]}]).splitlines()[-1]
    assert "<" not in line.replace("<!--", "") and line.count(" | ") == 4, line
    assert line == "| [`r`](f/) | a &lt;script>x&lt;/script> \\| b | &lt;i> | c\\|d e | 3 s |"


def test_lookup_and_format():
    metrics = {"results": {"a": {"b": 0.12345}}}
    assert gallery.lookup(metrics, "results.a.b") == 0.12345
    assert gallery.lookup(metrics, "results.a.c") is None
    assert gallery.fmt(0.12345) == "0.123" and gallery.fmt(None) == "n/a"
    assert gallery.fmt(22581.04) == "22,581"


@pytest.fixture(scope="module")
def quick_gallery(quick_outputs):
    """The folder `python -m recipes all --quick` wrote (every smoke run, then the page), shared."""
    if quick_outputs.result is None:
        pytest.skip("QUICK_OUTPUTS reuses a folder: the `all` run itself is not under test")
    return quick_outputs.root, quick_outputs.result


def test_all_quick_runs_every_recipe_and_records_wall_times(quick_gallery):
    root, result = quick_gallery
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((root / "run_all.json").read_text())
    labels = {
        r.name + (f" ({run.subdir})" if run.subdir else "")
        for r in registry().values()
        for run in r.runs
    }
    assert set(summary) == labels
    for item in summary.values():
        assert item["exit_code"] == 0 and item["seconds"] > 0
    assert "Summary (each run's own wall time):" in result.stdout
    added = re.search(r"the runs, added up +([\d.]+) s", result.stdout)
    wall = re.search(r"all, start to end +([\d.]+) s  \(wall time\)", result.stdout)
    assert added and wall, result.stdout[-2000:]
    assert float(added.group(1)) == pytest.approx(sum(i["seconds"] for i in summary.values()), abs=0.2)
    assert float(wall.group(1)) < float(added.group(1))  # two at a time: less than the sum
    # progress under `all` is lines, never a progress bar's state (once a stale 0% after the results)
    assert "%|" not in result.stdout + result.stderr and "\r" not in result.stdout + result.stderr


def test_a_smoke_run_is_labelled_as_one_and_kept_out_of_the_readme(quick_gallery, tmp_path, capsys):
    """Headline labels read what ran from the run's args (one seed, not "mean of 3 seeds"), say
    "smoke run", and `report` refuses to put smoke runs into a README, leaving it as it was."""
    root, _ = quick_gallery
    rows = [row for s in report_sections(root, root) for run in s["runs"] for row in run["headlines"]]
    mlp = next(row["label"] for row in rows if "test accuracy, " in row["label"])
    assert all(row["label"].endswith("[smoke run: --quick]") for row in rows if row["value"] is not None)
    assert not any("mean of 3 seeds" in row["label"] or "{" in row["label"] for row in rows)
    assert "one seed" in mlp or "mean of 2 seeds" in mlp, mlp
    readme = tmp_path / "README.md"
    text = f"intro\n{gallery.README_START}\nold\n{gallery.README_END}\n"
    readme.write_text(text)
    assert collection_main(["report", "--readme", str(readme), "--output-dir", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert "hold a smoke run (--quick)" in err and len(err.splitlines()) == 1, err
    assert readme.read_text() == text


def test_the_gallery_shows_the_command_of_every_run(quick_gallery):
    root, _ = quick_gallery
    page = (root / "index.html").read_text()
    assert "<section id='benchmarks'>" in page and "python -m benchmarks" in page
    for recipe in registry().values():
        for run in recipe.runs:
            command = " ".join(["python -m", recipe.module, *run.flags])
            assert f"Made by <code>{command}</code>" in page, command
    # with the benchmarks' outputs, their figure and ratios are on the page: checked on the redraw of
    # test_collection.py::test_plots_redraws_every_figure_from_saved_metrics (one redraw for both)


def test_gallery_page_is_self_contained(quick_gallery):
    root, _ = quick_gallery
    page = (root / "index.html").read_text()
    for recipe in NAMES:
        assert f"id='{recipe}'" in page
    assert not re.search(r"""(src|href)=['"](https?:)?//""", page), "external link in the page"
    images = re.findall(r"<img src='([^']+)'", page)
    assert images and all(not src.startswith("/") for src in images)
    for src in images:
        assert (root / src).is_file(), src
        assert f"<a href='{src}'><img src='{src}'" in page, f"{src}: no link to the full size"
    for link in re.findall(r"<a href='([^']+/metrics.json)'>", page):
        assert (root / link).is_file(), link
    assert len(re.findall(r"metrics.json</a>", page)) == sum(len(r.runs) for r in registry().values())
    assert "<table class='checks'>" in page and "held</td>" in page


def test_gallery_renders_in_headless_chromium_with_every_image_loaded(quick_gallery, tmp_path):
    browser = find_chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium); .ci/run installs it")
    root, _ = quick_gallery
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1280,900",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        (root / "index.html").as_uri(),
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    assert attributes.get("data-loaded") == "yes", attributes
    assert int(attributes["data-images"]) >= 5
    assert attributes["data-broken-images"] == "0", "some images did not load"
    images = int(attributes["data-images"])
    assert attributes["data-shrunk-images"] == "0", "a figure is squeezed at 1 280 px"
    assert int(attributes["data-linked-images"]) == images, "a figure without its full-size link"
    assert int(attributes["data-captioned"]) == images, "a figure without a caption"
    checks = [
        json.loads((root / recipe.name / run.subdir / "metrics.json").read_text())["results"].get(
            "checks", {}
        )
        for recipe in registry().values()
        for run in recipe.runs
    ]
    rows = sum(len(table) + 1 for table in checks if table)  # a header row and a row per check
    assert rows and int(attributes["data-checks"]) == rows, "the recipes' checks are not all shown"
    for recipe in NAMES:
        assert f'id="{recipe}"' in dom


def test_every_committed_figure_has_a_caption_from_its_recipe():
    from recipes.__main__ import caption_for, figure_captions

    for recipe in registry().values():
        captions = figure_captions(recipe)
        figures = sorted((ROOT / "outputs" / recipe.name).rglob("*.png"))
        assert figures, recipe.name
        for figure in figures:
            assert len(caption_for(figure.name, captions)) > 20, f"{figure}: no caption"


def committed_outputs() -> dict[str, bytes]:
    """Every file git tracks under outputs/ (what a clean clone has), by its path under outputs/."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "outputs"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    paths = [path for path in listed.split("\0") if path]
    assert paths, "git lists no committed outputs"
    return {path.removeprefix("outputs/"): (ROOT / path).read_bytes() for path in paths}


def test_the_committed_gallery_page_is_what_plots_writes_from_the_committed_metrics():
    """outputs/index.html as committed is the page `python -m recipes plots` writes from the
    committed metrics (as the README's table is what `report` writes): never a stale page."""
    from benchmarks import BENCHMARKS
    from recipes.__main__ import collect

    root = ROOT / "outputs"
    sections = collect(root, root, [*registry().values(), BENCHMARKS])
    assert gallery.render_index(sections) == committed_outputs()["index.html"].decode(), (
        "outputs/index.html is stale: run `python -m recipes plots` and commit it"
    )


@pytest.mark.slow
def test_plots_on_a_clean_clones_outputs_changes_no_committed_file(tmp_path):
    """`python -m recipes plots` on the committed outputs (as a clean clone has them) rewrites every
    figure and the page byte for byte and adds no file: nothing under outputs/ drifts from what the
    code draws from the committed metrics."""
    from recipes.__main__ import redraw

    committed = committed_outputs()
    root = tmp_path / "outputs"
    for path, content in committed.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    assert redraw(root) == 0
    written = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert written == set(committed), f"plots wrote files not committed: {written - set(committed)}"
    drifted = [path for path in sorted(committed) if (root / path).read_bytes() != committed[path]]
    assert not drifted, f"stale under outputs/ (run `python -m recipes plots`): {drifted}"


def keys_on_bars(fig) -> list[str]:
    """The legends and notes (texts that are not a bar's own value) that overlap a bar, drawn."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in fig.axes:
        bars = [p.get_window_extent(renderer) for p in ax.patches if p.get_height() > 0]
        keys = [ax.get_legend()] if ax.get_legend() else []
        keys += [text for text in ax.texts if not hasattr(text, "xyann")]  # a value: an annotation
        for key in keys:
            box = key.get_window_extent(renderer)
            if any(box.overlaps(bar) for bar in bars):
                texts = key.get_texts() if hasattr(key, "get_texts") else [key]
                found.append(" / ".join(text.get_text() for text in texts))
    return found


@pytest.mark.parametrize(
    "recipe, figure",
    [
        ("rnn_sequence", "accuracy_vs_reference"),
        ("mlp_classifier", "comparison"),
        ("activations", "final_accuracy"),
    ],
)
def test_no_key_or_reference_label_sits_on_a_bar(recipe, figure, monkeypatch, tmp_path):
    """The committed metrics drawn again: the published key and the reference labels of the bar
    charts sit beside the bars, never on one (the figure is checked as drawn, before it is saved)."""
    import common.plotting
    from common.results import load_metrics

    drawn = {}

    def keep(fig, path):
        drawn[Path(path).stem] = fig
        return Path(path)

    monkeypatch.setattr(common.plotting, "save_figure", keep)
    module = importlib.import_module(f"recipes.{recipe}.plots")
    monkeypatch.setattr(module, "save_figure", keep, raising=False)
    folder = tmp_path / recipe
    shutil.copytree(ROOT / "outputs" / recipe, folder)
    module.plot(load_metrics(folder), folder)
    assert figure in drawn, sorted(drawn)
    assert keys_on_bars(drawn[figure]) == []


def drawn_figures(recipe: str, folder: Path, monkeypatch) -> dict:
    """Each figure the recipe's plot draws from the committed metrics, as drawn (not saved)."""
    import common.plotting
    from common.results import load_metrics

    drawn = {}

    def keep(fig, path):
        drawn[Path(path).stem] = fig
        return Path(path)

    monkeypatch.setattr(common.plotting, "save_figure", keep)
    module = importlib.import_module(f"recipes.{recipe}.plots")
    monkeypatch.setattr(module, "save_figure", keep, raising=False)
    module.plot(load_metrics(folder), folder)
    return drawn


def test_a_figure_of_one_run_beside_a_mean_over_seeds_says_which_seed_is_which(monkeypatch):
    """The online curves are one run of the five the headline averages; the shift scenario's title
    names both its target data's seed and its training runs' seeds, each for what it is."""
    online = drawn_figures("online_learning", ROOT / "outputs" / "online_learning", monkeypatch)
    ax = online["rolling_accuracy_agrawal"].axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "Keras MLP (train_on_batch, replay) (the run of seed 0, of 5)" in labels
    assert "means over 5 seeds" in ax.get_title()
    transfer = drawn_figures("transfer_learning", ROOT / "outputs" / "transfer_learning", monkeypatch)
    title = transfer["accuracy_vs_labels"].axes[0].get_title()
    assert "target data generated with seed 7" in title and "3 training run(s), seeds 0-2" in title


def test_the_gallery_opens_with_a_figure_of_each_recipe_before_any_table():
    page = (ROOT / "outputs" / "index.html").read_text(encoding="utf-8")
    first_table = page.index("<table")
    leads = page[: page.index("<table")]
    for recipe in registry().values():
        assert f"<a href='#{recipe.name}'>{recipe.title}</a>" in leads, recipe.name
    lead_images = re.findall(r"<img src='([^']+)'", leads)
    assert len(lead_images) == len(NAMES) + 1  # and the benchmarks'
    assert "rnn_sequence/accuracy_vs_reference.png" in lead_images
    assert first_table > 0
