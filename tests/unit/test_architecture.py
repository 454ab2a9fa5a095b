"""The tree keeps the architecture the README draws: checked on the import graph, parsed with `ast` (nothing runs).

- Packages: `services/core` (shared, pure), `services/platform`, the two services `services/ingest` and
  `services/rules_bridge`, the operator commands (`services/cli.py`, `services/runner.py`) and `tools/`.
  Their import graph has no cycle, and neither has the graph of modules.
- The two services meet only in the core; the one exception is the ingest composition root (`ingest/main.py`),
  which wires the rules bridge's outbox writer into the consumer.
- Each service's `domain/` and the core import no IO library and read no clock.
- Message keys are built by `services/core/keys.py` alone.
- The ingest service's two web edges, the API (`entrypoints/http`) and the console (`entrypoints/console`), import
  nothing of each other: both call the use cases of `application/` (the composition root mounts them side by side).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = ("services", "tools")
IO_LIBRARIES = {"asyncpg", "faststream", "fastapi", "aiokafka", "python_calamine", "openpyxl", "httpx", "uvicorn"}
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"), ("time", "monotonic")}
COMPOSITION_ROOT_EXCEPTIONS = {("services.ingest.main", "services.rules_bridge.outbox_writer")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, ast.Module]:
    found = {}
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            found[_module_name(path)] = ast.parse(path.read_text(), str(path))
    return found


def _imported(name: str, tree: ast.Module) -> Iterator[str]:
    """Every module `name` imports, at any depth (imports inside functions count): `from a import b` yields `a.b`
    when that is a module, else `a`."""
    known = modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                yield child if child in known else node.module


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module -> the project modules it imports."""
    known = modules()
    return {name: frozenset(m for m in _imported(name, tree) if m in known) for name, tree in known.items()}


def package(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "tools":
        return "tools"
    if len(parts) > 1 and parts[1] in {"core", "platform", "ingest", "rules_bridge"}:
        return parts[1]
    return "cli"  # services.cli, services.runner


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def package_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, imported in graph().items():
        for other in imported:
            if package(other) != package(module):
                edges.setdefault(package(module), set()).add(package(other))
    return edges


def test_the_packages_import_each_other_without_a_cycle() -> None:
    assert _cycle(package_edges()) is None


def test_the_modules_import_each_other_without_a_cycle() -> None:
    edges = {module: set(imported) for module, imported in graph().items()}
    assert _cycle(edges) is None


def test_the_core_depends_on_nothing_of_the_project_but_itself() -> None:
    outside = {(m, o) for m, imported in graph().items() if package(m) == "core" for o in imported}
    assert {(m, o) for m, o in outside if package(o) != "core"} == set()


@pytest.mark.parametrize(("service", "other"), [("ingest", "rules_bridge"), ("rules_bridge", "ingest")])
def test_the_services_meet_only_in_the_core(service: str, other: str) -> None:
    crossing = {(m, o) for m, imported in graph().items() if package(m) == service for o in imported}
    crossing = {(m, o) for m, o in crossing if package(o) == other}
    assert crossing - COMPOSITION_ROOT_EXCEPTIONS == set()


def test_only_the_composition_roots_import_the_http_app_and_the_consumer() -> None:
    """Entrypoints never import the root that builds them (`main.py` imports `app.py`, never the reverse)."""
    roots = {"services.ingest.main", "services.rules_bridge.main"}
    importers = {m for m, imported in graph().items() for o in imported if o in roots}
    assert {m for m in importers if package(m) in {"ingest", "rules_bridge"}} == set()


def _inside(module: str, package_name: str) -> bool:
    return module == package_name or module.startswith(package_name + ".")


@pytest.mark.parametrize(
    ("edge", "other"),
    [
        ("services.ingest.entrypoints.console", "services.ingest.entrypoints.http"),
        ("services.ingest.entrypoints.http", "services.ingest.entrypoints.console"),
    ],
)
def test_the_console_and_the_api_import_nothing_of_each_other(edge: str, other: str) -> None:
    crossing = {(m, o) for m, imported in graph().items() if _inside(m, edge) for o in imported if _inside(o, other)}
    assert crossing == set()


def _pure_modules() -> list[str]:
    return [m for m in modules() if package(m) == "core" or ".domain" in m]


@pytest.mark.parametrize("module", _pure_modules())
def test_the_pure_core_imports_no_io_library_and_reads_no_clock(module: str) -> None:
    tree = modules()[module]
    libraries = {name.split(".")[0] for name in _imported(module, tree)} & IO_LIBRARIES
    calls = {
        (node.func.value.id, node.func.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and (node.func.value.id, node.func.attr) in CLOCK_CALLS
    }
    assert (libraries, calls) == (set(), set())


def _builds_a_key(node: ast.JoinedStr) -> bool:
    """An f-string `f"{...tenant...}:{...}"`: a message key built by hand."""
    values = node.values
    return (
        len(values) >= 3
        and isinstance(values[0], ast.FormattedValue)
        and "tenant" in ast.unparse(values[0].value)
        and isinstance(values[1], ast.Constant)
        and values[1].value == ":"
    )


def test_message_keys_are_built_in_one_place() -> None:
    builders = {
        module
        for module, tree in modules().items()
        if any(isinstance(node, ast.JoinedStr) and _builds_a_key(node) for node in ast.walk(tree))
    }
    assert builders == {"services.core.keys"}


def test_the_checks_see_the_tree() -> None:
    """The graph is the real one: the checks above would pass vacuously on an empty or unparsed tree."""
    assert {"core", "platform", "ingest", "rules_bridge", "cli", "tools"} <= set(map(package, modules()))
    assert "services.core.order" in graph()["services.ingest.domain.planning"]
    assert "services.rules_bridge.outbox_writer" in graph()["services.ingest.main"]
    assert "services.ingest.application.orders" in graph()["services.ingest.entrypoints.console.routes"]
