"""Matrix specs: a TOML file -> validated, resolved cells (nothing runs here).

A spec (see ``explore_bench/matrices/specs/*.toml``)::

    name = "smoke"                    # results go to results/<name> unless --out
    agents = ["ppo", "trpo"]
    bonuses = ["none", "rnd"]
    tasks = ["CartPole-v1"]           # or: suite = "mini" (tasks, budgets, presets)
    seeds = 3                         # a count (0..2) or a list [0, 5, 7]
    steps = 20_000                    # or a table per task: [steps] "CartPole-v1" = 20_000
    num_envs = 4
    preset = ""                       # or a table per agent: [preset] trpo = "emi-mujoco"
    recipe = "paper"                  # or "shared"; or a table per bonus: [recipe] rnd =
                                      # "shared", "*" = "paper" (the others)
    report = false                    # write the leaderboard after the runs
    [run]                             # RunSettings fields for every cell
    [agent.ppo]                       # the agent's config fields
    [bonus.rnd]                       # the bonus's config fields
    [shaping]                         # ShapingConfig fields; a sub-table [shaping.rnd]
                                      # holds one bonus's own (e.g. its coefficient)
    [base.agent.ppo]                  # what every entry starts from, BELOW each bonus's
    [base.shaping]                    # paper recipe: [agent.ppo] would replace a recipe's
                                      # value, [base.agent.ppo] yields to it
    [variants]                        # sweep points, each its own entry (cells, results
    "rnd-coef0.3" = { bonus = "rnd", "shaping.coef" = 0.3 }     # directory, leaderboard row)
    rnd-coef = { bonus = "rnd", grid = { "shaping.coef" = [0.1, 1.0] } }
                                      # a grid: rnd-coef0.1 and rnd-coef1.0
    count-long = { bonus = "count", tasks = ["DeepSea20"], agents = ["ppo"],
                   "run.steps" = 60_000 }     # only some cells, with its own budget

Every cell is resolved with `explore_bench.settings.config.resolve` before the first run starts,
so unknown keys, names or badly typed values fail at once, with the valid choices. The cells
and variants themselves are `cells`; this module is the spec's reading and checking, one
piece (with the format above) so that every key's rule is found in one place.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from explore_bench.matrices import suites
from explore_bench.matrices.cells import (
    CELL_KEYS,
    VARIANT_RUN,
    Cell,
    Matrix,
    Variant,
    parse_variants,
)
from explore_bench.plugins import registry
from explore_bench.settings.config import (
    SECTIONS,
    ConfigError,
    ResolvedRun,
    config_differences,
    resolve,
)
from explore_bench.settings.fairness import AGENT_SETTINGS
from explore_bench.store.layout import run_dir_for

CONFIG_DIR = Path(__file__).resolve().parent / "specs"
SPEC_COPY = "matrix.toml"
#: A matrix name: one path component that stays inside results/ (no "..", no "/").
PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
#: Top-level keys of a spec, with what each one holds (the message for an unknown key).
SPEC_KEYS = {
    "name": "matrix name (results/<name>)",
    "description": "free text",
    "agents": "list of agent names",
    "bonuses": "list of bonus names",
    "tasks": "list of task names",
    "suite": "a suite name instead of tasks (its budgets, agent, preset and seeds are defaults)",
    "seeds": "count or list of seeds",
    "steps": "step budget, or a table task -> budget",
    "num_envs": "parallel environments per run",
    "preset": "preset name, or a table agent -> preset",
    "recipe": "'paper' (default) or 'shared', or a table bonus -> mode ('*' for the others)",
    "report": "true, or a table of `explore-bench report` options (reps, baseline, ...)",
    "run": "table of run settings",
    "agent": "tables [agent.<name>]",
    "bonus": "tables [bonus.<name>]",
    "shaping": "table of shaping settings, [shaping.<bonus>] per bonus",
    "base": "tables [base.agent.<name>] and [base.shaping]: shared settings below each "
    "bonus's paper recipe (the recipe's value wins)",
    "variants": 'table name -> { bonus = ..., "section.field" = value, grid = {...} }',
    "agent_settings": "'shared' (default: entries of a task train under the same agent "
    "settings, a difference is a warning) or 'per-entry' (meant to differ; still stated)",
}
# --------------------------------------------------------------------------- specs


def find_spec(spec: str) -> Path:
    """A TOML file path, or the name of a spec shipped in explore_bench/configs."""
    path = Path(spec)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{spec}.toml"
    if "/" not in spec and shipped.is_file():
        return shipped
    names = shipped_specs()
    raise ConfigError(
        f"no spec file {spec!r}{_did_you_mean(spec, names)}; shipped specs: {', '.join(names)}"
    )


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'rnd'?)`` for the closest choice, case ignored (``RND``), else ""."""
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def shipped_specs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


def load_spec(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _names(spec: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = spec.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a non-empty list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: '{key}' lists a name twice: {value}")
    return value


def _check_names(kind: str, names: Sequence[str], reg: registry.Registry, where: str) -> None:
    for name in names:
        if name not in reg:  # import paths "module:Class" are checked when resolved
            known = reg.names()
            raise ConfigError(
                f"{where}: unknown {kind} {name!r}{_did_you_mean(name, known)}; "
                f"valid: {', '.join(known)} "
                f"(or an import path 'module:Class')"
            )


def _table(spec: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = spec.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a table ([{key}]), got {value!r}")
    return value


def _per_name(
    spec: Mapping[str, Any], key: str, names: Sequence[str], listed_as: str, where: str
) -> dict[str, dict[str, Any]]:
    """[agent.<name>] / [bonus.<name>] tables; a name that is not in the matrix is an error."""
    tables = _table(spec, key, where)
    for name, value in tables.items():
        if not isinstance(value, dict):
            raise ConfigError(
                f"{where}: '{key}.{name} = {value!r}': fields go in per-{key} tables, "
                f"e.g. [{key}.{names[0]}] {name} = {value!r}"
            )
        if name not in names:
            raise ConfigError(
                f"{where}: [{key}.{name}] names a {key} that is not in {listed_as} = {list(names)}"
            )
    return tables


def _base(
    spec: Mapping[str, Any], agents: Sequence[str], where: str
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The [base] layer: ([base.agent.<name>] tables, the [base.shaping] table)."""
    base = _table(spec, "base", where)
    unknown = sorted(set(base) - {"agent", "shaping"})
    if unknown:
        raise ConfigError(
            f"{where}: [base.{unknown[0]}]: a base layer holds only [base.agent.<name>] and "
            "[base.shaping] (run settings are the spec's own, never below a recipe)"
        )
    shaping = _table(base, "shaping", f"{where}: [base]")
    nested = [k for k, v in shaping.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(
            f"{where}: [base.shaping.{nested[0]}]: per-bonus shaping goes in "
            f"[shaping.{nested[0]}]; [base.shaping] holds settings shared by every bonus"
        )
    return _per_name(base, "agent", agents, "agents", f"{where}: [base]"), shaping


def _seeds(spec: Mapping[str, Any], where: str) -> list[int]:
    seeds = spec.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds > 0:
        return list(range(seeds))
    if (
        isinstance(seeds, list)
        and seeds
        and len(set(seeds)) == len(seeds)
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    ):
        return seeds
    raise ConfigError(
        f"{where}: 'seeds' must be a positive count or a list of distinct seeds >= 0, got {seeds!r}"
    )


def _suite(name: Any, where: str) -> Any:
    """The named suite of `suites` (its tasks, budgets, agent, preset, seeds)."""

    if not isinstance(name, str):
        raise ConfigError(f"{where}: 'suite' must be a suite name, got {name!r}")
    try:
        return suites.get(name)
    except KeyError as exc:
        raise ConfigError(f"{where}: {exc}; valid: {', '.join(suites.names())}") from exc


def plan(spec: Mapping[str, Any], out: Path | None = None, where: str = "spec") -> Matrix:
    """The cells of a spec, with names and keys checked but nothing resolved yet."""
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        key = unknown[0]
        hint = _did_you_mean(key, list(SPEC_KEYS))
        valid = "; ".join(f"{k}: {v}" for k, v in SPEC_KEYS.items())
        raise ConfigError(f"{where}: unknown key {key!r}{hint}. Valid keys: {valid}")
    name = spec.get("name") or Path(where).stem
    if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: 'name' must be a plain name (letters, digits, '.', '_', '-', not "
            f"starting with '.'; it names the directory results/<name>), got {name!r}"
        )
    if ("tasks" in spec) == ("suite" in spec):
        raise ConfigError(f"{where}: give exactly one of 'tasks' (a list) or 'suite' (a name)")
    suite_steps: dict[str, int] = {}
    suite_presets: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    if "suite" in spec:  # the suite's tasks, budgets, agent (with its preset) and seeds
        suite = _suite(spec["suite"], where)
        tasks = list(suite.task_names)
        suite_steps = {t.task: t.steps for t in suite.tasks}
        suite_presets = {suite.agent: suite.preset} if suite.preset else {}
        defaults = {"agents": [suite.agent], "seeds": suite.seeds}
    else:
        tasks = _names(spec, "tasks", where)
    spec = {**defaults, **spec}
    agents = _names(spec, "agents", where)
    variants = parse_variants(_table(spec, "variants", where), tasks, agents, where)
    bonuses = _names(spec, "bonuses", where) if "bonuses" in spec or not variants else []
    _check_names("agent", agents, registry.agents, where)
    _check_names("bonus", [*bonuses, *{v.bonus: None for v in variants}], registry.bonuses, where)
    clash = sorted({v.name for v in variants} & set(bonuses))
    if clash:
        raise ConfigError(f"{where}: variant names {clash} are also in bonuses; rename them")
    # [bonus.<name>] and [shaping.<name>] may also name a bonus that only variants use
    bonus_names = [*bonuses, *(v.bonus for v in variants if v.bonus not in bonuses)]
    seeds = _seeds(spec, where)

    steps = spec.get("steps")
    if isinstance(steps, dict):
        extra = [t for t in steps if t not in tasks]
        if extra:
            raise ConfigError(f"{where}: [steps] names tasks not in the matrix: {extra}")
        steps_for = {**suite_steps, **steps}
    elif steps is None:
        steps_for = suite_steps
    else:
        steps_for = dict.fromkeys(tasks, steps)
    missing = [t for t in tasks if t not in steps_for]
    if missing:
        raise ConfigError(f"{where}: no step budget for {missing}; set 'steps'")

    preset = spec.get("preset", {})
    presets = {
        **suite_presets,
        **(preset if isinstance(preset, dict) else dict.fromkeys(agents, preset)),
    }

    recipe_for = _recipe_modes(spec.get("recipe", "paper"), bonus_names, where)
    run_table = _table(spec, "run", where)
    clash = [k for k in run_table if k in CELL_KEYS]
    if clash:
        raise ConfigError(
            f"{where}: [run] {clash[0]} is set by the spec's top-level keys "
            "(agents, bonuses, tasks, seeds, steps, num_envs, preset, recipe), not in [run]"
        )
    agent_sets = _per_name(spec, "agent", agents, "agents", where)
    base_agent, base_shaping = _base(spec, agents, where)
    bonus_sets = _per_name(spec, "bonus", bonus_names, "bonuses or variants", where)
    shaping = _table(spec, "shaping", where)
    shaping_global = {k: v for k, v in shaping.items() if not isinstance(v, dict)}
    shaping_per = {k: v for k, v in shaping.items() if isinstance(v, dict)}
    for bonus in shaping_per:
        if bonus not in bonus_names:
            raise ConfigError(
                f"{where}: [shaping.{bonus}] names a bonus that is not in bonuses = {bonuses}"
                " nor used by a variant"
            )
    report = spec.get("report", False)
    if isinstance(report, dict):
        _check_report_options(report, where)
    elif not isinstance(report, bool):
        raise ConfigError(f"{where}: 'report' must be true, false or a table, got {report!r}")

    root = Path(out) if out is not None else Path("results") / name
    entries: list[tuple[str, Variant | None]] = [(b, None) for b in bonuses]
    entries += [(v.bonus, v) for v in variants]
    cells = []
    for task in tasks:
        for agent in agents:
            for bonus, variant in entries:
                if variant is not None and not variant.runs_on(task, agent):
                    continue
                own = variant.sets if variant is not None else {s: {} for s in SECTIONS}
                for seed in seeds:
                    run_opts: dict[str, Any] = {
                        "agent": agent,
                        "bonus": bonus,
                        "task": task,
                        "seed": seed,
                        "steps": steps_for[task],
                        "recipe": recipe_for[bonus],
                    }
                    if "num_envs" in spec:
                        run_opts["num_envs"] = spec["num_envs"]
                    if presets.get(agent):
                        run_opts["preset"] = presets[agent]
                    # a variant's budget, env count, preset or recipe replaces the spec's
                    run_opts.update({k: own["run"][k] for k in VARIANT_RUN if k in own["run"]})
                    sets = {  # the variant's own overrides last
                        "run": {**run_table, **own["run"]},
                        "agent": {**agent_sets.get(agent, {}), **own["agent"]},
                        "bonus": {**bonus_sets.get(bonus, {}), **own["bonus"]},
                        "shaping": {
                            **shaping_global,
                            **shaping_per.get(bonus, {}),
                            **own["shaping"],
                        },
                    }
                    entry = variant.name if variant is not None else None
                    path = run_dir_for(root, argparse.Namespace(**run_opts), entry)
                    base = {"agent": base_agent.get(agent, {}), "shaping": base_shaping}
                    cells.append(
                        Cell(task, agent, bonus, seed, run_opts, sets, path, variant, base)
                    )
    agent_settings = spec.get("agent_settings", "shared")
    if agent_settings not in AGENT_SETTINGS:
        raise ConfigError(
            f"{where}: agent_settings must be one of {', '.join(map(repr, AGENT_SETTINGS))}, "
            f"got {agent_settings!r}"
        )
    return Matrix(name, root, tuple(cells), report, where, agent_settings)


def _recipe_modes(value: Any, bonuses: Sequence[str], where: str) -> dict[str, str]:
    """The recipe mode of each bonus: one mode, or a table bonus -> mode ("*": the others)."""
    from explore_bench.settings.recipes import MODES

    table = value if isinstance(value, dict) else {"*": value}
    for key, mode in table.items():
        if key != "*" and key not in bonuses:
            raise ConfigError(
                f"{where}: [recipe] {key} names a bonus that is not in bonuses = {list(bonuses)}"
            )
        if mode not in MODES:
            raise ConfigError(
                f"{where}: recipe {'for ' + key + ' ' if key != '*' else ''}must be one of "
                f"{', '.join(repr(m) for m in MODES)}, got {mode!r}"
            )
    default = str(table.get("*", "paper"))
    return {b: str(table.get(b, default)) for b in bonuses}


def _check_report_options(options: Mapping[str, Any], where: str) -> None:
    """Keys and values of a spec's [report] table, checked before any cell runs."""
    import inspect

    from explore_bench.reports.build import main_report
    from explore_bench.reports.options import check_report_options

    valid = [
        p for p in inspect.signature(main_report).parameters if p not in ("results_dir", "out_dir")
    ]
    bad = [k for k in options if k not in valid]
    if bad:
        raise ConfigError(
            f"{where}: [report] {bad[0]} is not a report option; valid: {', '.join(valid)}"
        )
    check_report_options(options, lambda key: f"{where}: [report] {key}")


def resolve_cells(matrix: Matrix) -> list[ResolvedRun]:
    """Resolve every cell (one resolve per task/agent/bonus; seeds only change run.seed)."""
    resolved: list[ResolvedRun] = []
    cache: dict[tuple[str, str, str], ResolvedRun] = {}
    for cell in matrix.cells:
        key = (cell.task, cell.agent, cell.entry)
        if key not in cache:
            try:
                cache[key] = resolve(
                    cell.run_opts, {s: cell.sets.get(s, {}) for s in SECTIONS}, cell.base
                )
            except (ConfigError, registry.UnknownNameError, registry.PluginLoadError) as exc:
                raise ConfigError(f"{matrix.source}: cell {cell.label}: {exc}") from exc
            if cell.variant is not None:
                cache[key] = dataclasses.replace(cache[key], variant=cell.variant.as_dict())
        base = cache[key]
        resolved.append(
            dataclasses.replace(base, run=dataclasses.replace(base.run, seed=cell.seed))
        )
    return resolved


def load_matrix(spec: str, out: str | Path | None = None) -> tuple[Matrix, list[ResolvedRun], str]:
    """Find, parse, expand and resolve a spec; returns the matrix, its configs and the text."""
    path = find_spec(spec)
    text = path.read_text()
    matrix = plan(load_spec(path), Path(out) if out else None, str(path))
    return matrix, resolve_cells(matrix), text


def check_existing(cells: Sequence[Cell], configs: Sequence[ResolvedRun]) -> list[str]:
    """Refuse to resume a cell whose config.json differs from the spec; list changed DONE ones."""
    stale = []
    for cell, cfg in zip(cells, configs, strict=True):
        path = cell.run_dir / "config.json"
        if not path.exists():
            continue
        try:
            old = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        changes = config_differences(old, cfg)
        if not changes:
            continue
        if cell.state() == "done":
            stale.append(f"{cell.label} ({'; '.join(changes[:3])})")
        elif (cell.run_dir / "checkpoint.pt").exists():
            raise ConfigError(
                f"{cell.run_dir} holds a checkpoint of a different config "
                f"({'; '.join(changes[:3])}); delete it or choose another --out"
            )
    return stale
