"""The project's import graph: agents know only the contract, the harness's parts import only
the parts below them, and no module imports itself back through others (issues 13 and 26).

Every import statement counts, also those inside functions (a lazy import hides a cycle, it
does not remove it), except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "bonuses", "explore_bench", "benchmarks")

#: The contract and the methods: `bonuses` (one file per bonus on `bonuses.base`) and `agents`.
CONTRACT = {"bonuses", "agents"}
#: What each part of the harness may import besides itself (docs/design.md draws it). The
#: face (`explore_bench`'s ``__init__``, `api`, `cli`) may import every part.
ALLOWED = {
    "errors": set(),
    "store": {"errors"},
    "plugins": {"store", "errors", *CONTRACT},
    "envs": {"plugins", "errors", *CONTRACT},
    "settings": {"envs", "plugins", "errors", *CONTRACT},
    "runs": {"settings", "envs", "plugins", "store", "errors", *CONTRACT},
    "reports": {"settings", "store", "errors"},
    "matrices": {"runs", "reports", "settings", "envs", "plugins", "store", "errors", *CONTRACT},
}
FACE = {"__init__.py", "api.py", "cli.py", "errors.py"}


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


def part_of(module: str) -> str:
    """The part a module belongs to: ``explore_bench.runs.runner`` -> ``runs``, a face module
    -> ``face``, ``bonuses.rnd`` -> ``bonuses``."""
    parts = module.split(".")
    if parts[0] != "explore_bench":
        return parts[0]
    if len(parts) == 1 or parts[1] in ("api", "cli"):
        return "face"
    return parts[1]


def arrows_up(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a harness part that ``ALLOWED`` does not allow, as "a -> b"."""
    bad = []
    for module, deps in sorted(graph.items()):
        here = part_of(module)
        if here not in ALLOWED:
            continue
        for dep in sorted(deps):
            there = part_of(dep)
            if there != here and there not in ALLOWED[here]:
                bad.append(f"{module} ({here}) -> {dep} ({there})")
    return bad


def test_arrows_up_finds_a_planted_upward_import() -> None:
    graph = {
        "explore_bench.reports.load": {"explore_bench.runs.runner", "explore_bench.store.io"},
        "explore_bench.runs.runner": {"explore_bench.settings.config", "explore_bench.api"},
    }
    assert arrows_up(graph) == [
        "explore_bench.reports.load (reports) -> explore_bench.runs.runner (runs)",
        "explore_bench.runs.runner (runs) -> explore_bench.api (face)",
    ]


def test_the_harness_top_level_holds_only_the_parts_and_the_face() -> None:
    top = ROOT / "explore_bench"
    modules = {p.name for p in top.glob("*.py")}
    folders = {p.name for p in top.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert modules == FACE
    assert folders == set(ALLOWED) - {"errors"}
    for folder in folders:
        doc = ast.get_docstring(ast.parse((top / folder / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"{folder}/__init__.py must say what it may import"


def test_every_part_imports_only_the_parts_below_it() -> None:
    graph = import_graph()
    assert any(part_of(m) == "reports" and graph[m] for m in graph), "graph found no imports"
    assert arrows_up(graph) == []


def test_no_module_is_made_callable() -> None:
    for module, path in _modules().items():
        text = path.read_text()
        assert ".__class__ =" not in text and "make_callable" not in text, module


def test_no_import_cycle_among_project_modules() -> None:
    graph = import_graph()
    assert "explore_bench.reports.build" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
