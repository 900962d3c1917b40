"""The import graph of the project's own modules, every `import` statement counted (at module level
and inside functions alike): no circle anywhere, `common/` in the layers of ../shared/DESIGN.md, no
upward import, `common/` never importing a recipe, a recipe never importing another."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "recipes", "benchmarks")

# common/, bottom to top: a module imports only from layers below its own
LAYERS = (
    ("errors",),
    ("results", "tables"),
    ("augment", "data", "device", "outputs", "plotting", "references", "numpy_reference"),
    ("multireplica",),  # private Keras patches, imported by distribute on multi-replica paths only
    ("distribute", "gradients"),  # TensorFlow's tf.distribute; each backend's own autodiff
    ("training", "checkpoint", "rawinput"),
    ("cli",),
    ("harness",),
)


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name an import statement anywhere in the file refers to (`from a import b`
    gives both `a` and `a.b`, since b may be a submodule); relative imports resolved."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (the longest known prefix of each imported name),
    leaving out a module's own package and its parents (importing `a.b` runs `a/__init__.py`
    first, which is not an import of `a` by `a.b` in any sense that can form a circle)."""
    modules = module_files()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in modules.items():
        targets = {known(name) for name in imported_names(module, path)}
        graph[module] = {t for t in targets if t and t != module and not module.startswith(t + ".")}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle_through_a_function_body(tmp_path):
    """The walk counts an import inside a function: a two-module loop written that way is found."""
    (tmp_path / "a.py").write_text("def f():\n    from b import g\n")
    (tmp_path / "b.py").write_text("import a\n")
    graph = {m: imported_names(m, tmp_path / f"{m}.py") & {"a", "b"} - {m} for m in ("a", "b")}
    assert circles(graph) == [["a", "b"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_among_the_project_modules():
    graph = import_graph()
    assert len(graph) > 40 and any(graph.values())  # the walk found the project and its imports
    assert circles(graph) == []


def test_common_is_layered_bottom_to_top():
    """Each common module imports only from lower layers, and never from recipes/ or benchmarks/."""
    rank = {f"common.{name}": i for i, layer in enumerate(LAYERS) for name in layer}
    graph = import_graph()
    unplaced = [m for m in graph if m.startswith("common.") and m not in rank]
    assert unplaced == [], f"add these modules to LAYERS (and ../shared/DESIGN.md): {unplaced}"
    upward = [
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module in rank
        for target in targets
        if not target.startswith("common") or (target in rank and rank[target] >= rank[module])
    ]
    assert upward == []


def test_a_recipe_imports_no_other_recipe():
    graph = import_graph()
    crossing = []
    for module, targets in graph.items():
        parts = module.split(".")
        if parts[0] != "recipes" or len(parts) < 3:  # recipes.<name>.<module>
            continue
        for target in targets:
            other = target.split(".")
            if other[0] == "recipes" and len(other) > 1 and other[1] != parts[1]:
                crossing.append(f"{module} -> {target}")
    assert crossing == []
