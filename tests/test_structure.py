"""The package's shape: few top-level modules, no two modules of one name, no import cycles.

Read from the source with :mod:`ast` (nothing is imported), so a cycle hidden behind a
function-level import counts as well.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gateway"
TOP_LEVEL_ALLOWED = {"__init__.py", "__main__.py", "settings.py", "errors.py"}
# Names every package may have: its marker, and its family of errors under GatewayError.
SHARED_NAMES = {"__init__", "errors"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.startswith("gateway"):
                found.add(name)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_at_most_settings_errors_and_main_stay_at_the_top() -> None:
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top <= TOP_LEVEL_ALLOWED, sorted(top - TOP_LEVEL_ALLOWED)


def test_no_two_modules_share_a_name() -> None:
    names = Counter(p.stem for p in PACKAGE.rglob("*.py") if p.stem not in SHARED_NAMES)
    assert [name for name, count in names.items() if count > 1] == []


def test_the_package_has_no_import_cycle() -> None:
    known = modules()
    # A package's __init__ is not an edge of its own: importing gateway.x.y runs
    # gateway.x's __init__, but that re-export is not a dependency of y's.
    graph = {
        name: {dep for dep in imports_of(path, set(known)) if dep != name}
        for name, path in known.items()
        if path.name != "__init__.py"
    }
    for name in graph:
        graph[name] = {d for d in graph[name] if known[d].name != "__init__.py"}
    assert find_cycle(graph) is None, find_cycle(graph)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
