"""The results gallery (`outputs/index.html`) and the README results table, built from saved metrics.

Everything here takes plain data (sections, headline rows) so it never trains, and never imports a
recipe: `recipes/__main__.py` gathers the data from the registry and `outputs/*/metrics.json`.

A section is a dict: {"name", "title", "summary", "command", "runs": [run, ...]}, and a run is
{"label", "folder" (relative to the page), "metrics" (or None), "figures": [relative paths],
"captions": [one line per figure], "headlines": [{"label", "value", "beside"}]}.
"""

from __future__ import annotations

import html
import re

from common.results import fmt_duration

README_START = "<!-- results:start (written by `python -m recipes report`; do not edit by hand) -->"
README_END = "<!-- results:end -->"


def lookup(metrics: dict, path: str):
    """`results.agrawal.keras_mlp.accuracy` in a metrics dict; None where any step is missing."""
    value = metrics
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2g}" if 0 < abs(value) < 0.01 else f"{value:.3f}"  # small MSEs keep 2 digits
    return str(value)


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.figures figure { margin: 1.2rem 0; } .figures img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #444; } figcaption code { font-size: 0.8rem; }
.held { color: #1a7f37; } .not-held { color: #b42318; font-weight: 600; }
code { background: #f4f4f4; padding: 0 0.25rem; } .muted { color: #777; font-size: 0.85rem; }
.missing { color: #a33; } .leads h3 { margin: 1.6rem 0 0.3rem; font-weight: 500; }
"""

# Counts images that failed to load, so a browser test can read the result from the DOM.
SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (im) { return !(im.complete && im.naturalWidth > 0); });
  document.body.setAttribute('data-images', images.length);
  document.body.setAttribute('data-broken-images', broken.length);
  // shown narrower than it is, and narrower than 900 px: hard to read
  var shrunk = images.filter(function (im) { return im.width < Math.min(im.naturalWidth, 900); });
  document.body.setAttribute('data-shrunk-images', shrunk.length);
  var linked = images.filter(function (im) {
    return im.parentNode.tagName === 'A' && im.parentNode.href === im.src; });
  document.body.setAttribute('data-linked-images', linked.length);
  var captioned = Array.prototype.slice.call(document.querySelectorAll('figcaption')).filter(
    function (c) {  // its own words, before the file name
      return c.firstChild && c.firstChild.nodeType === 3 && c.firstChild.textContent.trim().length > 20;
    });
  document.body.setAttribute('data-captioned', captioned.length);
  document.body.setAttribute('data-checks', document.querySelectorAll('table.checks tr').length);
  document.body.setAttribute('data-loaded', 'yes');
});
"""


def render_index(sections: list[dict]) -> str:
    """One self-contained page: inline style and script, relative image links, nothing external."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Keras recipes: results gallery</title>",
        f"<style>{CSS}</style><script>{SCRIPT}</script></head><body>",
        "<h1>Keras recipes: results gallery</h1>",
        '<p class="muted">Every number comes from the saved <code>metrics.json</code> of a run; '
        "published references carry their source. Redraw with <code>python -m recipes plots</code>."
        "</p>",
    ]
    parts += _render_leads(sections)
    parts += [
        "<h2 id='summary'>Every headline number</h2>",
        "<table><tr><th>recipe</th><th>headline</th><th>result</th><th>beside it</th>"
        "<th>run time</th></tr>",
    ]
    for section in sections:
        for run in section["runs"]:
            duration = run["metrics"]["duration_s"] if run["metrics"] else None
            for row in run["headlines"] or [{"label": "no outputs yet", "value": None, "beside": ""}]:
                parts.append(
                    f"<tr><td><a href='#{_esc(section['name'])}'>{_esc(run['label'])}</a></td>"
                    f"<td>{_esc(row['label'])}</td><td class='num'>{_esc(fmt(row['value']))}</td>"
                    f"<td>{_esc(row['beside'])}</td>"
                    f"<td class='num'>{_esc(fmt_duration(duration))}</td></tr>"
                )
    parts.append("</table>")
    for section in sections:
        parts.append(f"<section id='{_esc(section['name'])}'>")
        parts.append(f"<h2>{_esc(section['title'])}</h2>")
        page = section.get("page")
        link = ""
        if page:  # the recipe's page, and its notebook beside it
            notebook = f"{page.rsplit('/', 1)[0]}/{section['name']}.ipynb"
            link = (
                f" <a href='{_esc(page)}'>The recipe's page</a>: story, figures, numbers; "
                f"<a href='{_esc(notebook)}'>its notebook</a>: the same story, cell by cell."
            )
        parts.append(
            f"<p>{_esc(section['summary'])}. Run: <code>{_esc(section['command'])}</code>.{link}</p>"
        )
        for run in section["runs"]:
            parts.extend(_render_run(run, len(section["runs"]) > 1))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _render_leads(sections: list[dict]) -> list[str]:
    """The page's first screen: one figure per recipe, its caption and headline number, each linked
    to the recipe's section below (the full tables come after)."""
    parts = ["<div class='figures leads'>"]
    for section in sections:
        lead = section.get("lead")
        if not lead:
            continue
        row = lead["headline"]
        number = f" {_esc(row['label'])}: <b>{_esc(fmt(row['value']))}</b>" if row else ""
        beside = f" ({_esc(row['beside'])})" if row and row["beside"] else ""
        name = lead["figure"].rsplit("/", 1)[-1]
        parts.append(
            f"<h3><a href='#{_esc(section['name'])}'>{_esc(section['title'])}</a>:{number}{beside}</h3>"
            f"<figure><a href='{_esc(lead['figure'])}'><img src='{_esc(lead['figure'])}' "
            f"alt='{_esc(lead['caption'] or name)}' loading='eager'></a>"
            f"<figcaption>{_esc(lead['caption'] or section['title'])} <code>{_esc(name)}</code>"
            "</figcaption></figure>"
        )
    parts.append("</div>")
    return parts


def _render_run(run: dict, titled: bool) -> list[str]:
    parts = [f"<h3>{_esc(run['label'])}</h3>"] if titled else []
    metrics = run["metrics"]
    if metrics is None:
        return parts + [
            f"<p class='missing'>No outputs yet in <code>{_esc(run['folder'])}</code>: "
            "run the recipe first.</p>"
        ]
    env = {key: _esc(value) for key, value in metrics.get("environment", {}).items()}
    quick = "; --quick run" if metrics.get("args", {}).get("quick") else ""
    parts.append(
        f"<p class='muted'>{env.get('device', '?')}; TensorFlow {env.get('tensorflow', '?')}, "
        f"Keras {env.get('keras', '?')}, Python {env.get('python', '?')}; "
        f"took {_esc(fmt_duration(metrics.get('duration_s')))}; "
        f"written {_esc(metrics.get('created', '?'))}{quick}; "
        f"<a href='{_esc(run['folder'])}/metrics.json'>metrics.json</a>.</p>"
    )
    if run.get("command"):
        parts.append(f"<p>Made by <code>{_esc(run['command'])}</code></p>")
    parts.append("<table><tr><th>result</th><th>value</th><th>beside it</th></tr>")
    for row in run["headlines"]:
        parts.append(
            f"<tr><td>{_esc(row['label'])}</td><td class='num'>{_esc(fmt(row['value']))}</td>"
            f"<td>{_esc(row['beside'])}</td></tr>"
        )
    parts.append("</table>")
    references = metrics.get("references") or []
    if references:
        parts.append("<table><tr><th>published reference</th><th>value</th><th>source</th></tr>")
        for ref in references:
            parts.append(
                f"<tr><td>{_esc(ref.get('name'))}</td><td class='num'>{_esc(fmt(ref.get('value')))}</td>"
                f"<td class='muted'>{_esc(ref.get('source'))}</td></tr>"
            )
        parts.append("</table>")
    checks = (metrics.get("results") or {}).get("checks") or {}
    if checks:
        parts.append(
            "<table class='checks'><tr><th>check</th><th>value</th><th>expected</th>"
            "<th>verdict</th></tr>"
        )
        for name, check in checks.items():
            held = bool(check.get("holds"))
            parts.append(
                f"<tr><td>{_esc(name)}</td><td class='num'>{_esc(fmt(check.get('value')))}</td>"
                f"<td>{_esc(check.get('expected'))}</td><td class='{'held' if held else 'not-held'}'>"
                f"{'held' if held else 'not held'}</td></tr>"
            )
        parts.append("</table>")
    parts.append("<div class='figures'>")
    captions = run.get("captions") or [""] * len(run["figures"])
    for figure, caption in zip(run["figures"], captions):
        name = figure.rsplit("/", 1)[-1]
        parts.append(
            f"<figure><a href='{_esc(figure)}'><img src='{_esc(figure)}' "
            f"alt='{_esc(caption or name)}' loading='eager'></a>"
            f"<figcaption>{_esc(caption)} <code>{_esc(name)}</code> (click for full size)"
            "</figcaption></figure>"
        )
    parts.append("</div>")
    return parts


def render_results_table(sections: list[dict]) -> str:
    """The README's results table (Markdown), one row per headline."""
    lines = [
        "| recipe | result | value | beside it | run time |",
        "|---|---|---|---|---|",
    ]
    for section in sections:
        for run in section["runs"]:
            duration = fmt_duration(run["metrics"]["duration_s"]) if run["metrics"] else "n/a"
            label = f"[`{run['label']}`]({run['folder']}/)"
            for row in run["headlines"] or [{"label": "no outputs yet", "value": None, "beside": ""}]:
                cells = (row["label"], fmt(row["value"]), row["beside"], duration)
                lines.append(f"| {label} | " + " | ".join(map(_cell, cells)) + " |")
    return "\n".join(lines)


def _cell(text) -> str:
    """A Markdown table cell of `text` from metrics: no raw HTML tag (`<` escaped), no column break
    (`|` escaped), one line."""
    return " ".join(str(text).split()).replace("<", "&lt;").replace("|", "\\|")


def render_recipe_readme(section: dict, docstring: str, sections=()) -> str:
    """A recipe folder's README.md: its docstring (what it shows, the commands), the headline numbers
    of each committed run with their references, how long each run took and on what machine (from
    metrics.json), the sections of recipe.py in order (`sections`: (line, title) pairs), and every
    committed figure inline with its caption."""
    name = section["name"]
    parts = [
        f"# {title_of(docstring) or section['title']}",
        "",
        "<!-- written by `python -m recipes report` from this recipe's docstring and its saved "
        "metrics.json; do not edit by hand -->",
        "",
        docstring_body(docstring),
        "",
        f"The same story as a notebook, cell by cell: [`{name}.ipynb`]({name}.ipynb) "
        '(`pip install -e ".[notebook]"`, then open it in Jupyter; `QUICK = True` in its first '
        "cell runs the smoke settings).",
        "",
        "## Results of the committed runs",
        "",
        "| run | result | value | beside it |",
        "|---|---|---|---|",
    ]
    for run in section["runs"]:
        label = f"[`{run['label']}`]({run['folder']}/)"
        for row in run["headlines"] or [{"label": "no outputs yet", "value": None, "beside": ""}]:
            cells = (row["label"], fmt(row["value"]), row["beside"])
            parts.append(f"| {label} | " + " | ".join(map(_cell, cells)) + " |")
    parts.append("")
    for run in section["runs"]:
        metrics = run["metrics"]
        if metrics:
            parts.append(
                f"- `{run.get('command', run['label'])}` took {fmt_duration(metrics['duration_s'])} "
                f"({metrics.get('created', '?')}) on {machine(metrics.get('environment') or {})}."
            )
        else:
            parts.append(f"- `{run.get('command', run['label'])}`: no outputs yet.")
    if sections:
        parts += ["", "## Reading recipe.py", "", "The story, in the order a reader meets it:", ""]
        parts += [f"{i}. [{title}](recipe.py#L{line})" for i, (line, title) in enumerate(sections, 1)]
    for run in section["runs"]:
        if run["figures"]:
            parts += ["", f"## Figures: `{run['label']}`"]
        for figure, caption in zip(run["figures"], run["captions"]):
            name = figure.rsplit("/", 1)[-1]
            parts += ["", f"![{name}]({figure})", "", f"*{name}*: {caption}"]
    return "\n".join(parts) + "\n"


def title_of(docstring: str) -> str:
    """The `Title:` line of a recipe's docstring (keras-io's header), or ""."""
    lines = docstring.strip("\n").splitlines()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Title:")), "")


HEADER = ("Title:", "Description:", "Accelerator:")  # keras-io's header lines of a recipe docstring


def docstring_body(docstring: str) -> str:
    """A recipe's docstring without its header lines: what it shows, and its commands."""
    lines = docstring.strip("\n").splitlines()
    return "\n".join(line for line in lines if not line.startswith(HEADER)).strip("\n")


def machine(environment: dict) -> str:
    """Where a run was measured, as its metrics.json recorded it: the device and threads, the CPU
    model and cores (recorded since 0.1.0's environment.cpu; older runs say they did not record it)."""
    device = environment.get("device", "?")
    if environment.get("cpu"):
        return f"{device}, {environment['cpu']}, {environment.get('cores', '?')} cores"
    return f"{device}; the CPU model was not recorded by this run"


SECTION = re.compile(r"# -- (.+?)(?: -+)?")  # at the start of a line: the story's top level


def story_sections(source: str) -> list[tuple[int, str]]:
    """The `# -- Title ----` section lines of a recipe.py: (line number, title), in order."""
    found = []
    for number, line in enumerate(source.splitlines(), 1):
        if match := SECTION.fullmatch(line.rstrip()):
            found.append((number, match.group(1).strip()))
    return found


def replace_readme_block(readme: str, table: str) -> str:
    """The README with the text between the two result markers replaced by `table`."""
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(readme):
        raise ValueError("README.md has no results markers")
    block = f"{README_START}\n{table}\n{README_END}"
    return pattern.sub(lambda _: block, readme, count=1)
