"""The modules of `gateway/` import one another in one direction only: no cycle, however the import is written.

Python tolerates many cycles at run time (an import inside a function, one under `if TYPE_CHECKING:`), so a
cycle can live long unnoticed and then break on an innocent reordering. Every import counts here: module
level, inside functions and classes, and type-only ones, read from the source with `ast` rather than from
what happens to be loaded.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "gateway"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name a (possibly relative) `from … import` refers to."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    # A package's own __init__ is its base; a module's base is the package it is in.
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every gateway module `name` imports, anywhere in its source: `import a.b`, `from a import b` (b a module
    or a name in a) and relative forms. Importing a submodule also runs its parent packages' __init__, but
    those are empty here (or, like `gateway.check_api`, only re-export what their own modules define) and counting
    them would make every package a hub, so only the named module counts."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, path.name == "__init__.py", node.level, node.module)
            # `from pkg import module` imports the module; `from module import name` imports the module.
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts, or None; depth-first with the usual three colours."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == 1:
                return [*path[path.index(successor):], successor]
            if successor not in state:
                cycle = visit(successor)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_gateway_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in gateway/: " + " -> ".join(cycle or [])


def test_the_graph_sees_every_kind_of_import(tmp_path):
    """The collector itself: a function-level import and a TYPE_CHECKING import are edges, and a cycle through
    them is found (otherwise the test above could pass by seeing nothing)."""
    graph = import_graph()
    # gateway.app builds everything, so it imports far more than one module; the graph is not empty.
    assert {"gateway.config", "gateway.web.services"} <= graph["gateway.app"]
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from gateway.b import B\n"
        "def f():\n"
        "    from . import c\n"
    )
    a = tmp_path / "a.py"
    a.write_text(source)
    modules = {"gateway.a": a, "gateway.b": a, "gateway.c": a}
    assert _imports("gateway.a", a, modules) == {"gateway.b", "gateway.c"}
    assert find_cycle({"x": {"y"}, "y": {"z"}, "z": {"x"}}) == ["x", "y", "z", "x"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_credential_types_and_scopes_live_in_leaves():
    """What every layer shares (who is calling, what a grant allows) imports nothing of the gateway, so any
    module may use it; and the request path reaches the access-token check without the token endpoints."""
    graph = import_graph()
    assert graph["gateway.auth.identity"] == set()
    assert graph["gateway.auth.scopes"] == set()
    assert "gateway.oauth.tokens" not in graph["gateway.web.credentials"] | graph["gateway.auth.access"]
