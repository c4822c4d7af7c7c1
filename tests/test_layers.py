"""The folders are the layers: each package of `gateway/` imports only the packages below it, and `search/` and
`sandbox/` stay apart from the gateway.

`tests/test_import_graph.py` forbids module cycles over every import, type-only ones included. The layer
rules here read what runs: an import under ``if TYPE_CHECKING:`` names a type for mypy (a lower layer may say
its argument is a `Settings`) but loads nothing, so it cannot make the token check drag in the tool catalogue,
which is what the layers are for. Imports inside functions count: they run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Bottom to top (compat: what the gateway uses of its dependencies beyond their public API). A module may
# import its own package and any package before it; `top` is the composition (app, cli, config, check_api),
# which may import everything.
LAYERS = ("compat", "observability", "store", "auth", "statuspal", "tools", "protocol", "web", "oauth", "top")
# What the gateway may use of the sandbox, and who may: the composition root starts it, the CLI runs it alone,
# config reads `[sandbox]` into the sandbox's own settings class.
SANDBOX_USERS = frozenset({"gateway.app", "gateway.cli", "gateway.config"})
# The sandbox serves the gateway's own endpoint table and notices wire mapping, so the two cannot drift.
SANDBOX_MAY_USE = frozenset({"gateway.statuspal.endpoints", "gateway.statuspal.notice_wire"})


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "gateway":
        return parts[0]
    if len(parts) >= 2 and parts[1] in LAYERS:
        return parts[1]
    return "top"


def runtime_imports(path: Path, module: str) -> set[str]:
    """The absolute names of every module or package `path` imports outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(child) for child in ast.walk(node))
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            source = ".".join([*base, node.module] if node.module else base)
            found.update(f"{source}.{alias.name}" for alias in node.names)
            found.add(source)
    return {name for name in found if name.split(".")[0] in ("gateway", "search", "sandbox")}


def modules() -> dict[str, Path]:
    found = {}
    for top in ("gateway", "search", "sandbox"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks a rule, as 'importer -> imported: why'."""
    found = []
    for importer, imported in sorted(graph.items()):
        for target in sorted(imported):
            why = _rule_broken(importer, target)
            if why:
                found.append(f"{importer} -> {target}: {why}")
    return found


def _rule_broken(importer: str, target: str) -> str | None:
    source, destination = layer_of(importer), layer_of(target)
    if source == "search" and destination != "search":
        return "search/ never imports the gateway or the sandbox"
    if source == "sandbox" and destination != "sandbox" and not any(
        target == allowed or target.startswith(allowed + ".") or allowed.startswith(target + ".")
        for allowed in SANDBOX_MAY_USE
    ):
        return "sandbox/ uses only the gateway's endpoint table and wire mapping"
    if destination == "sandbox" and source != "sandbox" and importer not in SANDBOX_USERS:
        return "only the CLI and the composition root start the sandbox"
    if source in LAYERS and destination in LAYERS and LAYERS.index(destination) > LAYERS.index(source):
        return f"{source} is below {destination}"
    return None


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for importer, imported in graph.items():
        edges = packages.setdefault(layer_of(importer), set())
        edges.update(layer_of(target) for target in imported if layer_of(target) != layer_of(importer))
    return packages


def package_cycle(packages: dict[str, set[str]]) -> list[str] | None:
    from tests.test_import_graph import find_cycle

    return find_cycle(packages)


def the_graph() -> dict[str, set[str]]:
    return {name: runtime_imports(path, name) for name, path in modules().items()}


def test_every_package_imports_only_the_layers_below_it():
    assert violations(the_graph()) == []


def test_no_cycle_between_packages():
    cycle = package_cycle(package_graph(the_graph()))
    assert cycle is None, "packages import each other: " + " -> ".join(cycle or [])


def test_the_token_check_imports_without_the_tool_catalogue():
    """What the layers are for: verifying a request's credentials loads no tool module."""
    graph = the_graph()
    reached, todo = set(), ["gateway.auth.access", "gateway.web.credentials"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph.get(module, ()))
    assert not {m for m in reached if layer_of(m) in ("tools", "protocol")}


@pytest.mark.parametrize(
    ("importer", "source", "why"),
    [
        ("gateway.tools.notices", "from gateway.web.transport import Transport\n", "tools is below web"),
        ("gateway.auth.access", "def f():\n    from gateway.tools import catalogue\n", "auth is below tools"),
        ("search.ranking", "import gateway.config\n", "search/ never imports"),
        ("sandbox.app", "from gateway.auth.scopes import READ\n", "sandbox/ uses only"),
        ("gateway.web.transport", "from sandbox.app import create_sandbox_app\n", "only the CLI and the composition root"),
    ],
)
def test_a_broken_rule_is_named(tmp_path, importer, source, why):
    """The checker itself: each kind of wrong import, written into a module, is reported with its reason."""
    path = tmp_path / "module.py"
    path.write_text("from __future__ import annotations\n" + source)
    graph = the_graph()
    graph[importer] = runtime_imports(path, importer)
    found = violations(graph)
    assert found and all(line.startswith(importer + " -> ") and why in line for line in found), found


def test_type_only_imports_are_not_layer_edges(tmp_path):
    path = tmp_path / "module.py"
    path.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gateway.config import Settings\n")
    assert runtime_imports(path, "gateway.auth.x") == set()


def test_a_package_cycle_is_found():
    assert package_cycle({"auth": {"tools"}, "tools": {"auth"}}) == ["auth", "tools", "auth"]
