"""The project's import graph: agents know only the contract, and no module imports itself
back through others (issue 13).

Every import statement counts, also those inside functions (a lazy import hides a cycle, it
does not remove it), except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "bonuses", "explore_bench", "benchmarks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, here: str, is_package: bool, known: set[str]) -> set[str]:
    """Project modules that ``tree`` (module ``here``) imports; ``from pkg import name``
    counts as importing ``pkg.name`` when that is a module."""
    out: set[str] = set()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in known:
                    out.add(full)
                elif base in known:
                    out.add(base)
        stack.extend(ast.iter_child_nodes(node))
    out.discard(here)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = _modules()
    known = set(modules)
    return {
        name: _imported(
            ast.parse(path.read_text(), str(path)), name, path.name == "__init__.py", known
        )
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        iters = [iter(sorted(graph[start]))]
        state[start] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_find_cycle_finds_a_planted_cycle_and_accepts_a_dag() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_from_package_import_submodule_points_at_the_submodule() -> None:
    known = {"p", "p.a", "p.b"}
    tree = ast.parse("from p import a\nfrom . import b\nfrom p import thing\n")
    assert _imported(tree, "p.c", False, known) == {"p.a", "p.b", "p"}


def test_agents_import_only_the_contract() -> None:
    graph = import_graph()
    offenders = {
        mod: sorted(dep for dep in deps if dep.split(".")[0] == "explore_bench")
        for mod, deps in graph.items()
        if mod.split(".")[0] == "agents"
    }
    assert any(graph[m] for m in graph if m.startswith("agents")), "graph found no imports"
    assert {m: d for m, d in offenders.items() if d} == {}


def test_no_import_cycle_among_project_modules() -> None:
    graph = import_graph()
    assert "explore_bench.report.build" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
