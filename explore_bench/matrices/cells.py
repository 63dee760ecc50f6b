"""A matrix's cells: one (task, agent, entry, seed) each, the variants that make entries, and
the expanded matrix (`spec` builds them from a TOML file; nothing runs here)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from explore_bench.errors import ConfigError
from explore_bench.settings.config import SECTIONS

#: Run settings a cell takes from the spec's own keys, never from [run].
CELL_KEYS = ("agent", "bonus", "task", "seed", "steps", "preset", "num_envs", "recipe")


@dataclasses.dataclass(frozen=True)
class Variant:
    """A named set of overrides of one bonus's cells: its own entry everywhere."""

    name: str
    bonus: str
    #: "section.field" -> value, in the order the spec gives them.
    overrides: Mapping[str, Any]
    #: The matrix tasks it runs on (empty: all of them).
    tasks: tuple[str, ...] = ()
    #: The matrix agents it runs with (empty: all of them).
    agents: tuple[str, ...] = ()

    @property
    def sets(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
        for key, value in self.overrides.items():
            section, _, field = key.partition(".")
            out[section][field] = value
        return out

    def as_dict(self) -> dict[str, Any]:
        """What config.json records (the report labels the entry with it)."""
        return {"name": self.name, "bonus": self.bonus, "overrides": dict(self.overrides)}

    def runs_on(self, task: str, agent: str) -> bool:
        return (not self.tasks or task in self.tasks) and (not self.agents or agent in self.agents)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One (task, agent, entry, seed) of a matrix: how to resolve it and where it lives.

    The entry is the bonus name, or the name of a variant of ``bonus``.
    """

    task: str
    agent: str
    bonus: str
    seed: int
    run_opts: Mapping[str, Any]
    sets: Mapping[str, Mapping[str, Any]]
    run_dir: Path
    variant: Variant | None = None
    #: The spec's [base] layer: section -> fields, applied below the bonus's recipe.
    base: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def entry(self) -> str:
        return self.variant.name if self.variant is not None else self.bonus

    @property
    def label(self) -> str:
        return f"{self.task} {self.agent} {self.entry} seed{self.seed}"

    def state(self) -> str:
        return run_state(self.run_dir)


def run_state(run_dir: Path) -> str:
    """done / failed / unfinished (started, no marker) / missing (never started)."""
    if (run_dir / "DONE").exists():
        return "done"
    if (run_dir / "FAILED").exists():
        return "failed"
    return "unfinished" if run_dir.exists() else "missing"


@dataclasses.dataclass(frozen=True)
class Matrix:
    """An expanded spec: its cells in run order and where their results go."""

    name: str
    out: Path
    cells: tuple[Cell, ...]
    #: Write the leaderboard afterwards: False, True, or options for `main_report`.
    report: bool | Mapping[str, Any]
    source: str
    #: "shared" or "per-entry": whether the entries are meant to share agent settings.
    agent_settings: str = "shared"


_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")
#: Run settings a variant may not change: they say which cell it is (a variant may change
#: the budget: it is its own entry, labelled with it).
#: Run settings a variant may change: its budget, env count, preset and recipe mode (an entry
#: of a bonus without its paper recipe, beside one with it).
VARIANT_RUN = ("steps", "num_envs", "preset", "recipe")
_FIXED_RUN = frozenset(CELL_KEYS) - set(VARIANT_RUN)


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _subset(
    body: Mapping[str, Any], key: str, valid: Sequence[str], name: str, where: str
) -> tuple[str, ...]:
    """A variant's ``tasks`` / ``agents`` restriction: names of the matrix's own."""
    only = body.get(key, [])
    if isinstance(only, str):
        only = [only]
    if not isinstance(only, list) or any(n not in valid for n in only):
        raise ConfigError(
            f"{where}: variant {name!r}: {key} = {only!r} must list {key} of the matrix "
            f"({', '.join(valid)})"
        )
    return tuple(only)


def parse_variants(
    table: Mapping[str, Any], tasks: Sequence[str], agents: Sequence[str], where: str
) -> list[Variant]:
    """A spec's [variants] table, grids expanded into one variant per point."""
    out: list[Variant] = []
    for name, body in table.items():
        if not isinstance(body, dict) or not isinstance(body.get("bonus"), str):
            raise ConfigError(
                f"{where}: variant {name!r} must be a table with a bonus, e.g. "
                f'{name} = {{ bonus = "rnd", "shaping.coef" = 0.3 }}'
            )
        overrides = {k: v for k, v in body.items() if k not in ("bonus", "grid", "tasks", "agents")}
        only = _subset(body, "tasks", tasks, name, where)
        only_agents = _subset(body, "agents", agents, name, where)
        grid = body.get("grid", {})
        if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
            raise ConfigError(
                f"{where}: variant {name!r}: grid must map fields to non-empty lists, "
                f'e.g. grid = {{ "shaping.coef" = [0.1, 0.3] }}, got {grid!r}'
            )
        for key in [*overrides, *grid]:
            section, dot, field = key.partition(".")
            if section not in SECTIONS or not dot or not field:
                raise ConfigError(
                    f"{where}: variant {name!r}: {key!r} is not section.field "
                    f"(sections: {', '.join(SECTIONS)})"
                )
            if section == "run" and field in _FIXED_RUN:
                raise ConfigError(
                    f"{where}: variant {name!r}: run.{field} says which cell a run is; "
                    "a variant cannot change it"
                )
        points: list[tuple[str, dict[str, Any]]] = [(name, {})]
        # The product of the grid's axes. One axis: <name><value> ("rnd-coef" x 0.3 ->
        # "rnd-coef0.3"); several: <name>-<field><value>-... ("rnd-coef0.3-lr0.001" style).
        for key, values in grid.items():
            tag = "" if len(grid) == 1 else f"-{key.rpartition('.')[2]}"
            points = [(f"{n}{tag}{_short(v)}", {**p, key: v}) for n, p in points for v in values]
        for point, values in points:
            if not _VARIANT_NAME.match(point):
                raise ConfigError(
                    f"{where}: variant name {point!r}: use letters, digits and . _ = + - "
                    "(it becomes a directory name)"
                )
            out.append(Variant(point, body["bonus"], {**overrides, **values}, only, only_agents))
    names = [v.name for v in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: variants {twice} are defined twice (grid points clash)")
    return out
