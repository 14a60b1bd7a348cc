"""The wall between the board and the workstation, checked statically from the import graph.

``edgenet/`` is what a board runs: outside ``edgenet/cli/`` no module imports ``calibration`` or
``deploy`` at all (at any level, lazily or not), and no module imports TensorFlow or Keras when it is
imported. CLI verbs may reach the workstation packages, but only inside their handlers.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

WORKSTATION = ("calibration", "deploy")
HEAVY = ("tensorflow", "keras", "tf_keras")


def imported(tree: ast.AST, module: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, at import time?) for every import in ``tree`` of module ``module``:
    ``import x``, ``from x import y``, relative imports resolved, and ``import_module("x")`` /
    ``__import__("x")`` with a literal name. "At import time" means not inside a function body."""
    found: list[tuple[str, int, bool]] = []
    package = module.rsplit(".", 1)[0]

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, not in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    name = ".".join(base + ([child.module] if child.module else []))
                else:
                    name = child.module or ""
                found.append((name, child.lineno, not in_function))
            elif (isinstance(child, ast.Call) and child.args and isinstance(child.args[0], ast.Constant)
                  and isinstance(child.args[0].value, str)
                  and getattr(child.func, "attr", getattr(child.func, "id", None)) in ("import_module", "__import__")):
                found.append((child.args[0].value, child.lineno, not in_function))
            visit(child, inner)

    visit(tree, False)
    return found


def edgenet_modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted((ROOT / "edgenet").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1] + ["__init__"]
        out.append((".".join(parts), path))
    return out


def violations(source: str, module: str) -> list[str]:
    tree = ast.parse(source)
    in_cli = module.startswith("edgenet.cli.")
    bad = []
    for name, line, at_import in imported(tree, module):
        root = name.split(".")[0]
        if root in WORKSTATION and (not in_cli or at_import):
            where = "at import time in a CLI module" if in_cli else "on the board side"
            bad.append(f"{module}:{line} imports {name} {where}")
        if root in HEAVY and at_import:
            bad.append(f"{module}:{line} imports {name} at import time")
    return bad


def test_the_checker_sees_every_kind_of_import():
    code = ("import calibration.grid\nfrom deploy import fleet\n"
            "def f():\n    from calibration.grid import build_variant\n"
            "    importlib.import_module('deploy.remote')\n"
            "import tensorflow as tf\ndef g():\n    import keras\n")
    assert violations(code, "edgenet.profiler.models") == [
        "edgenet.profiler.models:1 imports calibration.grid on the board side",
        "edgenet.profiler.models:2 imports deploy on the board side",
        "edgenet.profiler.models:4 imports calibration.grid on the board side",
        "edgenet.profiler.models:5 imports deploy.remote on the board side",
        "edgenet.profiler.models:6 imports tensorflow at import time",
    ]
    # A CLI verb may import the workstation lazily, in its handler, and never at import time.
    assert violations(code, "edgenet.cli.build") == [
        "edgenet.cli.build:1 imports calibration.grid at import time in a CLI module",
        "edgenet.cli.build:2 imports deploy at import time in a CLI module",
        "edgenet.cli.build:6 imports tensorflow at import time",
    ]
    assert imported(ast.parse("from ..errors import UsageError\nfrom . import hub\n"), "edgenet.serve.server") == [
        ("edgenet.errors", 1, True), ("edgenet.serve", 2, True)]


def test_edgenet_never_imports_the_workstation_side():
    modules = edgenet_modules()
    assert len(modules) > 40 and any(m == "edgenet.cli.build" for m, _ in modules)
    bad = [v for module, path in modules for v in violations(path.read_text(), module)]
    assert bad == []


def module_graph() -> dict[str, set[str]]:
    """edgenet module -> the edgenet modules it imports, at import time or lazily in a function (a lazy
    import loop is still a loop: two modules that cannot be understood apart). ``from package import
    name`` points at ``package.name`` when that is a module, else at the package. A package's
    ``__init__`` re-exporting its own parts is not an edge: the package is its parts' parent anyway."""
    modules = {m.removesuffix(".__init__"): path for m, path in edgenet_modules()}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        edges = {name for name, _, _ in imported(tree, package + ".x") if name in modules}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in modules:
                edges.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules)
        if path.name == "__init__.py":
            edges = {e for e in edges if not e.startswith(module + ".")}
        graph[module] = edges - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_cycle_finder():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_cycles_in_edgenet():
    graph = module_graph()
    assert "edgenet.serve.server" in graph["edgenet.serve.view"]  # the graph sees real edges
    assert cycles(graph) == []


def test_no_argparse_outside_the_cli():
    """Library code takes typed config; only edgenet/cli parses command lines."""
    users = sorted(module for module, path in edgenet_modules() if not module.startswith("edgenet.cli.")
                   for name, _, _ in imported(ast.parse(path.read_text()), module) if name == "argparse")
    assert users == []
