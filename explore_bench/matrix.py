"""Comparison matrices: a TOML spec -> validated cells -> runs on an executor.

A spec (see ``explore_bench/configs/*.toml``)::

    name = "smoke"                    # results go to results/<name> unless --out
    agents = ["ppo", "trpo"]
    bonuses = ["none", "rnd"]
    tasks = ["CartPole-v1"]           # or: suite = "mini" (tasks, budgets, presets)
    seeds = 3                         # a count (0..2) or a list [0, 5, 7]
    steps = 20_000                    # or a table per task: [steps] "CartPole-v1" = 20_000
    num_envs = 4
    preset = ""                       # or a table per agent: [preset] trpo = "emi-mujoco"
    report = false                    # write the leaderboard after the runs
    [run]                             # RunSettings fields for every cell
    [agent.ppo]                       # the agent's config fields
    [bonus.rnd]                       # the bonus's config fields
    [shaping]                         # ShapingConfig fields; a sub-table [shaping.rnd]
                                      # holds one bonus's own (e.g. its coefficient)

Every cell is resolved with `explore_bench.config.resolve` before the first run starts,
so unknown keys, names or badly typed values fail at once, with the valid choices.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import sys
import time
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from explore_bench import io, registry
from explore_bench.config import SECTIONS, ConfigError, ResolvedRun, resolve
from explore_bench.executors import Job, Outcome
from explore_bench.runner import run_dir_for

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
SPEC_COPY = "matrix.toml"
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
    "report": "true, or a table of `explore-bench report` options (reps, baseline, ...)",
    "run": "table of run settings",
    "agent": "tables [agent.<name>]",
    "bonus": "tables [bonus.<name>]",
    "shaping": "table of shaping settings, [shaping.<bonus>] per bonus",
}
#: Run settings a cell takes from the spec's own keys, never from [run].
CELL_KEYS = ("agent", "bonus", "task", "seed", "steps", "preset", "num_envs")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One (task, agent, bonus, seed) of a matrix: how to resolve it and where it lives."""

    task: str
    agent: str
    bonus: str
    seed: int
    run_opts: Mapping[str, Any]
    sets: Mapping[str, Mapping[str, Any]]
    run_dir: Path

    @property
    def label(self) -> str:
        return f"{self.task} {self.agent} {self.bonus} seed{self.seed}"

    def state(self) -> str:
        if (self.run_dir / "DONE").exists():
            return "done"
        if (self.run_dir / "FAILED").exists():
            return "failed"
        return "unfinished" if self.run_dir.exists() else "missing"


@dataclasses.dataclass(frozen=True)
class Matrix:
    """An expanded spec: its cells in run order and where their results go."""

    name: str
    out: Path
    cells: tuple[Cell, ...]
    #: Write the leaderboard afterwards: False, True, or options for `main_report`.
    report: bool | Mapping[str, Any]
    source: str


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
    close = difflib.get_close_matches(spec, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"no spec file {spec!r}{hint}; shipped specs: {', '.join(names)}")


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
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{where}: unknown {kind} {name!r}{hint}; valid: {', '.join(known)} "
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
    """The named suite of `explore_bench.suites` (its tasks, budgets, agent, preset, seeds)."""
    from explore_bench import suites

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
        close = difflib.get_close_matches(key, list(SPEC_KEYS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        valid = "; ".join(f"{k}: {v}" for k, v in SPEC_KEYS.items())
        raise ConfigError(f"{where}: unknown key {key!r}{hint}. Valid keys: {valid}")
    name = spec.get("name") or Path(where).stem
    if not isinstance(name, str) or "/" in name:
        raise ConfigError(f"{where}: 'name' must be a plain name, got {name!r}")
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
    bonuses = _names(spec, "bonuses", where)
    _check_names("agent", agents, registry.agents, where)
    _check_names("bonus", bonuses, registry.bonuses, where)
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

    run_table = _table(spec, "run", where)
    clash = [k for k in run_table if k in CELL_KEYS]
    if clash:
        raise ConfigError(
            f"{where}: [run] {clash[0]} is set by the spec's top-level keys "
            "(agents, bonuses, tasks, seeds, steps, num_envs, preset), not in [run]"
        )
    agent_sets = _per_name(spec, "agent", agents, "agents", where)
    bonus_sets = _per_name(spec, "bonus", bonuses, "bonuses", where)
    shaping = _table(spec, "shaping", where)
    shaping_global = {k: v for k, v in shaping.items() if not isinstance(v, dict)}
    shaping_per = {k: v for k, v in shaping.items() if isinstance(v, dict)}
    for bonus in shaping_per:
        if bonus not in bonuses:
            raise ConfigError(
                f"{where}: [shaping.{bonus}] names a bonus that is not in bonuses = {bonuses}"
            )
    report = spec.get("report", False)
    if isinstance(report, dict):
        _check_report_options(report, where)
    elif not isinstance(report, bool):
        raise ConfigError(f"{where}: 'report' must be true, false or a table, got {report!r}")

    root = Path(out) if out is not None else Path("results") / name
    cells = []
    for task in tasks:
        for agent in agents:
            for bonus in bonuses:
                for seed in seeds:
                    run_opts: dict[str, Any] = {
                        "agent": agent,
                        "bonus": bonus,
                        "task": task,
                        "seed": seed,
                        "steps": steps_for[task],
                    }
                    if "num_envs" in spec:
                        run_opts["num_envs"] = spec["num_envs"]
                    if presets.get(agent):
                        run_opts["preset"] = presets[agent]
                    sets = {
                        "run": run_table,
                        "agent": agent_sets.get(agent, {}),
                        "bonus": bonus_sets.get(bonus, {}),
                        "shaping": {**shaping_global, **shaping_per.get(bonus, {})},
                    }
                    path = run_dir_for(root, argparse.Namespace(**run_opts))
                    cells.append(Cell(task, agent, bonus, seed, run_opts, sets, path))
    return Matrix(name, root, tuple(cells), report, where)


def _check_report_options(options: Mapping[str, Any], where: str) -> None:
    import inspect

    from explore_bench.report import main_report

    valid = [
        p for p in inspect.signature(main_report).parameters if p not in ("results_dir", "out_dir")
    ]
    bad = [k for k in options if k not in valid]
    if bad:
        raise ConfigError(
            f"{where}: [report] {bad[0]} is not a report option; valid: {', '.join(valid)}"
        )


def resolve_cells(matrix: Matrix) -> list[ResolvedRun]:
    """Resolve every cell (one resolve per task/agent/bonus; seeds only change run.seed)."""
    resolved: list[ResolvedRun] = []
    cache: dict[tuple[str, str, str], ResolvedRun] = {}
    for cell in matrix.cells:
        key = (cell.task, cell.agent, cell.bonus)
        if key not in cache:
            try:
                cache[key] = resolve(cell.run_opts, {s: cell.sets.get(s, {}) for s in SECTIONS})
            except (ConfigError, registry.UnknownNameError, registry.PluginLoadError) as exc:
                raise ConfigError(f"{matrix.source}: cell {cell.label}: {exc}") from exc
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


def _as_json(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def _diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def check_existing(cells: Sequence[Cell], configs: Sequence[ResolvedRun]) -> list[str]:
    """Refuse to resume a cell whose config.json differs from the spec; list changed DONE ones."""
    stale = []
    for cell, cfg in zip(cells, configs, strict=True):
        path = cell.run_dir / "config.json"
        if not path.exists():
            continue
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        changes = _diff(old, _as_json(cfg.to_dict()))
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


# --------------------------------------------------------------------------- progress


class Progress:
    """One overall bar (done/failed/running, ETA) and a line per finished cell."""

    def __init__(self, total: int, name: str, tty: bool | None = None) -> None:
        self.total, self.done, self.failed, self.running = total, 0, 0, 0
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.bar = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=name, unit="cell", dynamic_ncols=True)
            self._postfix()

    def _postfix(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"done={self.done} failed={self.failed} running={self.running}"
            )

    def started(self, job: Job) -> None:
        self.running += 1
        self._postfix()

    def finished(self, outcome: Outcome) -> None:
        self.running -= 1
        if outcome.ok:
            self.done += 1
        else:
            self.failed += 1
        n = self.done + self.failed
        state = "DONE  " if outcome.ok else "FAILED"
        line = f"[{n}/{self.total}] {state} {outcome.job.label}  ({outcome.seconds:.1f} s)"
        if not outcome.ok:
            line += f"  {outcome.error}"
        if self.bar is not None:
            self.bar.write(line)
            self.bar.update(1)
            self._postfix()
        else:
            elapsed = time.monotonic() - self.start
            eta = elapsed / n * (self.total - n)
            print(
                f"{line}  | done {self.done} failed {self.failed} running {self.running} "
                f"eta {_hms(eta)}",
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# --------------------------------------------------------------------------- commands


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may use (containers, taskset)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _executor(args: argparse.Namespace, n_jobs: int) -> Any:
    from explore_bench import executors

    if args.executor == "ray":
        workers = args.workers or (None if args.ray_address else _cores())
        return executors.RayExecutor(
            workers, args.ray_address, shared_fs=getattr(args, "ray_shared_fs", False)
        )
    workers = args.workers or _cores()
    return executors.LocalExecutor(max(1, min(workers, n_jobs)))


def main_matrix(args: argparse.Namespace) -> int:
    """``explore-bench matrix``: validate everything, run what is not DONE, summarise."""
    matrix, configs, text = load_matrix(args.spec, args.out)
    stale = check_existing(matrix.cells, configs)
    todo = [(c, r) for c, r in zip(matrix.cells, configs, strict=True) if c.state() != "done"]
    n_done = len(matrix.cells) - len(todo)
    print(
        f"matrix {matrix.name}: {len(matrix.cells)} cells, {n_done} already DONE, "
        f"{len(todo)} to run -> {matrix.out}",
        flush=True,
    )
    if stale:
        print(
            f"note: {len(stale)} DONE cells were run with other settings and are kept "
            f"(delete them to rerun): {stale[0]}{' ...' if len(stale) > 1 else ''}"
        )
    if args.dry_run:
        for cell in matrix.cells:
            print(f"  {cell.state():<10} {cell.label}  -> {cell.run_dir}")
        return 0
    io.write_text(matrix.out / SPEC_COPY, text)
    failures: list[Outcome] = []
    if todo:
        jobs = [Job(c.label, r.to_dict(), str(c.run_dir)) for c, r in todo]
        executor = _executor(args, len(jobs))
        print(f"executor: {executor.description}", flush=True)
        progress = Progress(len(jobs), matrix.name)

        def finished(outcome: Outcome) -> None:
            progress.finished(outcome)
            if not outcome.ok:
                failures.append(outcome)

        start = time.monotonic()
        try:
            executor.run(jobs, progress.started, finished)
        except KeyboardInterrupt:
            progress.close()
            print(
                f"interrupted: workers stopped; {progress.done} cells finished in this "
                f"session. Rerun the same command to resume.",
                file=sys.stderr,
            )
            raise
        progress.close()
        print(
            f"finished {len(jobs)} cells in {_hms(time.monotonic() - start)}: "
            f"{progress.done} DONE, {len(failures)} FAILED",
            flush=True,
        )
    if matrix.report or args.report:
        _report(matrix.out, matrix.report if isinstance(matrix.report, Mapping) else {})
    if failures:
        print(
            f"{len(failures)} cell(s) FAILED (traceback in each FAILED file; rerun to retry):",
            file=sys.stderr,
        )
        for outcome in failures:
            print(
                f"  {outcome.job.label}: {outcome.error}\n    {outcome.job.run_dir}/FAILED",
                file=sys.stderr,
            )
        return 1
    return 0


def _report(out: Path, options: Mapping[str, Any]) -> None:
    from explore_bench.report import main_report

    with warnings.catch_warnings(record=True) as caveats:  # the report states them itself
        warnings.simplefilter("always")
        summary = main_report(out, **options)
    note = f", {len(caveats)} caveats stated in it" if caveats else ""
    print(
        f"report: {summary.out_dir / 'leaderboard.md'} ({summary.runs_finished} finished runs"
        f"{note})"
    )


# --------------------------------------------------------------------------- status


def _run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*/*/seed*") if p.is_dir())


def _row(path: Path, root: Path) -> dict[str, str]:
    task, agent, bonus, seed = path.relative_to(root).parts
    row = {"task": task.replace("__", "/"), "agent": agent, "bonus": bonus, "seed": seed[4:]}
    config: dict[str, Any] = {}
    if (path / "config.json").exists():
        try:
            config = json.loads((path / "config.json").read_text())["run"]
            row.update(
                task=config["task"],
                agent=config["agent"],
                bonus=config["bonus"],
                seed=str(config["seed"]),
            )
        except (OSError, ValueError, KeyError):
            pass
    steps = "-"
    if (path / "metrics.csv").exists():
        try:
            last = io.read_csv(path / "metrics.csv")[-1]["env_steps"]
            steps = f"{last}/{config.get('steps', '?')}"
        except (OSError, IndexError, KeyError, ValueError):
            steps = "?"
    detail = ""
    if (path / "DONE").exists():
        state = "done"
    elif (path / "FAILED").exists():
        state = "failed"
        lines = [ln for ln in (path / "FAILED").read_text().splitlines() if ln.strip()]
        detail = lines[-1][:80] if lines else ""
    else:
        state = "unfinished"
        detail = "checkpoint" if (path / "checkpoint.pt").exists() else "no checkpoint"
    return {**row, "state": state, "steps": steps, "detail": detail}


def status_rows(root: Path, matrix: Matrix | None = None) -> list[dict[str, str]]:
    """One row per cell found under ``root`` (and per cell of ``matrix`` not started yet)."""
    rows = [_row(p, root) for p in _run_dirs(root)]
    if matrix is not None:
        seen = {Path(p).resolve() for p in _run_dirs(root)}
        rows += [
            {
                "task": c.task,
                "agent": c.agent,
                "bonus": c.bonus,
                "seed": str(c.seed),
                "state": "missing",
                "steps": "-",
                "detail": "",
            }
            for c in matrix.cells
            if c.run_dir.resolve() not in seen
        ]
    return rows


def main_status(args: argparse.Namespace) -> int:
    """``explore-bench status DIR``: a table of done / failed / unfinished / missing cells."""
    root = Path(args.dir)
    if not root.is_dir():
        raise ConfigError(f"no results directory {str(root)!r}")
    spec = args.spec or (str(root / SPEC_COPY) if (root / SPEC_COPY).exists() else None)
    matrix = plan(load_spec(find_spec(spec)), root, spec) if spec else None
    rows = status_rows(root, matrix)
    order = {"failed": 0, "unfinished": 1, "missing": 2, "done": 3}
    rows.sort(key=lambda r: (order[r["state"]], r["task"], r["agent"], r["bonus"], r["seed"]))
    cols = ["state", "task", "agent", "bonus", "seed", "steps", "detail"]
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols).rstrip())
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in cols).rstrip())
    counts = {s: sum(r["state"] == s for r in rows) for s in order}
    print(
        ", ".join(f"{n} {s}" for s, n in counts.items() if n or s != "missing")
        + f" ({len(rows)} cells)"
    )
    return 0
