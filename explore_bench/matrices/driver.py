"""Running a comparison matrix: cells from `explore_bench.matrices.spec` -> an executor, with an
overall progress bar, a summary of failures, an optional report, and `status`."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from explore_bench.matrices.cells import Matrix, run_state
from explore_bench.matrices.jobs import Job, Outcome, check_gpu_options
from explore_bench.matrices.local_pool import LocalExecutor
from explore_bench.matrices.ray_cluster import RayExecutor
from explore_bench.matrices.spec import (
    SPEC_COPY,
    check_existing,
    find_spec,
    load_matrix,
    load_spec,
    plan,
)
from explore_bench.reports.options import published_figures
from explore_bench.settings.config import ConfigError, check_out_dir
from explore_bench.settings.fairness import fairness_lines
from explore_bench.store import io
from explore_bench.store.layout import MATRIX_CELLS, done_problem, metrics_path, name_from_path

# --------------------------------------------------------------------------- progress


class Progress:
    """One overall bar (done/failed/running, ETA) and a line per finished cell."""

    def __init__(self, total: int, name: str, tty: bool | None = None) -> None:
        self.total, self.done, self.failed, self.running = total, 0, 0, 0
        self.busy = 0
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
        elif outcome.busy:
            self.busy += 1
        else:
            self.failed += 1
        n = self.done + self.failed + self.busy
        state = "DONE  " if outcome.ok else "BUSY  " if outcome.busy else "FAILED"
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
    if args.workers is not None and args.workers < 1:
        raise ConfigError(
            f"--workers must be a positive number of parallel runs, got {args.workers}"
        )
    if args.executor == "ray":
        workers = args.workers or (None if args.ray_address else _cores())
        return RayExecutor(
            workers,
            args.ray_address,
            shared_fs=getattr(args, "ray_shared_fs", False),
            gpus_per_cell=getattr(args, "gpus_per_cell", 0.0),
        )
    workers = args.workers or _cores()
    return LocalExecutor(
        max(1, min(workers, n_jobs)), cells_per_gpu=getattr(args, "cells_per_gpu", 1)
    )


@dataclasses.dataclass(frozen=True)
class MatrixResult:
    """What a matrix command did: where its results are, its cells, failures and report."""

    #: The results root (results/<matrix> unless --out).
    out: Path
    cells: int
    #: Labels of the cells that FAILED in this session.
    failed: tuple[str, ...]
    #: The report's summary when one was written (`explore_bench.reports.build.ReportSummary`).
    report: Any = None
    #: Labels of the cells another process was writing, so not run here.
    busy: tuple[str, ...] = ()


def figure_entries(report: Any) -> set[str]:
    """The entries a spec's ``[report.published]`` figures judge (context rows left out)."""
    table = report.get("published") if isinstance(report, Mapping) else None
    if table is None:
        return set()
    return {f.entry for f in published_figures(table) if not f.context}


def main_matrix(args: argparse.Namespace) -> int:
    """``explore-bench matrix``: the exit status of `run_matrix` (1 when a cell failed or
    another process was writing it)."""
    result = run_matrix(args)
    return 1 if result.failed or result.busy else 0


def run_matrix(args: argparse.Namespace) -> MatrixResult:
    """Validate everything, run what is not DONE, summarise, report if asked."""
    matrix, configs, text = load_matrix(args.spec, args.out)
    stale = check_existing(matrix.cells, configs)
    todo = [(c, r) for c, r in zip(matrix.cells, configs, strict=True) if c.state() != "done"]
    # Seed by seed (every entry's first seed before any entry's second), so that a matrix
    # cut short holds the same seeds of every entry: fewer, but comparable; within a seed,
    # the entries a published figure names first, so that its rows fill first.
    judged = figure_entries(matrix.report)
    todo.sort(key=lambda pair: (pair[0].seed, pair[0].entry not in judged))
    n_done = len(matrix.cells) - len(todo)
    print(
        f"matrix {matrix.name}: {len(matrix.cells)} cells, {n_done} already DONE, "
        f"{len(todo)} to run -> {matrix.out}",
        flush=True,
    )
    fairness = fairness_lines(matrix.agent_settings, [c.entry for c in matrix.cells], configs)
    for line in fairness:
        print(line, flush=True)
    if stale:
        print(
            f"note: {len(stale)} DONE cells were run with other settings and are kept "
            f"(delete them to rerun): {stale[0]}{' ...' if len(stale) > 1 else ''}"
        )

    check_gpu_options(
        [r.run.device for r in configs],
        args.executor,
        getattr(args, "cells_per_gpu", 1),
        getattr(args, "gpus_per_cell", 0.0),
    )
    if args.dry_run:
        for cell, cfg in zip(matrix.cells, configs, strict=True):
            print(f"  {cell.state():<10} {cell.label}  -> {cell.run_dir}")
            if cfg.recipe is not None:
                print(f"             {cfg.recipe.summary()}")
                for warning in cfg.recipe.warnings:
                    print(f"             warning: {warning}")
        return MatrixResult(matrix.out, len(matrix.cells), ())
    check_out_dir(matrix.out, "--out")
    jobs = [Job(c.label, r.to_dict(), str(c.run_dir)) for c, r in todo]
    executor = _executor(args, len(jobs)) if jobs else None  # e.g. Ray unreachable: stop here
    io.write_text(matrix.out / SPEC_COPY, text)
    cells = [
        [r.run.task, r.run.agent, c.entry, r.run.seed]
        for c, r in zip(matrix.cells, configs, strict=True)
    ]
    io.write_json(matrix.out / MATRIX_CELLS, {"cells": cells})
    failures: list[Outcome] = []
    busy: list[Outcome] = []
    if executor is not None:
        print(f"executor: {executor.description}", flush=True)
        progress = Progress(len(jobs), matrix.name)

        def finished(outcome: Outcome) -> None:
            progress.finished(outcome)
            if outcome.busy:
                busy.append(outcome)
            elif not outcome.ok:
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
            f"{progress.done} DONE, {len(failures)} FAILED"
            + (f", {len(busy)} run by another process" if busy else ""),
            flush=True,
        )
    summary = None
    if matrix.report or args.report:
        summary = _report(matrix.out, matrix.report if isinstance(matrix.report, Mapping) else {})
        for line in fairness:  # the leaderboard's reader sees it with the report's summary
            print(line)
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
    if busy:
        print(
            f"{len(busy)} cell(s) not run here: another process is writing them (rerun once "
            "it has finished to check them):",
            file=sys.stderr,
        )
        for outcome in busy:
            print(f"  {outcome.job.label}: {outcome.error}", file=sys.stderr)
    return MatrixResult(
        matrix.out,
        len(matrix.cells),
        tuple(o.job.label for o in failures),
        summary,
        tuple(o.job.label for o in busy),
    )


def _report(out: Path, options: Mapping[str, Any]) -> Any:
    from explore_bench.reports.build import main_report

    with warnings.catch_warnings(record=True) as caveats:  # the report states them itself
        warnings.simplefilter("always")
        summary = main_report(out, **options)
    from explore_bench.reports.headline import format_text

    note = f", {len(caveats)} caveats stated in it" if caveats else ""
    print(format_text(summary.table))
    print(
        f"report: {summary.out_dir / 'leaderboard.md'} ({summary.runs_finished} finished runs"
        f"{note})"
    )
    return summary


# --------------------------------------------------------------------------- status


def _run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*/*/seed*") if p.is_dir())


def _row(path: Path, root: Path) -> dict[str, str]:
    task, agent, bonus, seed = path.relative_to(root).parts
    row = {
        "task": name_from_path(task),
        "agent": name_from_path(agent),
        "bonus": name_from_path(bonus),
        "seed": seed[4:],
    }
    config: dict[str, Any] = {}
    if (path / "config.json").exists():
        try:
            full = json.loads((path / "config.json").read_text())
            config = full["run"]
            if not isinstance(full, dict) or not isinstance(config, dict):
                raise TypeError("config.json: 'run' is not a table")
            variant = full.get("variant")
            row.update({k: str(config[k]) for k in ("task", "agent", "bonus", "seed")})
            if isinstance(variant, dict) and isinstance(variant.get("name"), str):
                row["bonus"] = variant["name"]
        except (OSError, ValueError, KeyError, TypeError):  # config.json is untrusted data
            config = {}
    steps = "-"
    metrics = metrics_path(path)
    if metrics.exists():
        try:
            last = io.read_csv(metrics)[-1]["env_steps"]
            steps = f"{last}/{config.get('steps', '?')}"
        except (OSError, IndexError, KeyError, ValueError, csv.Error):
            steps = "?"
    state, detail = run_state(path), ""
    problem = done_problem(path) if state == "done" else ""
    if problem:  # counted as broken, not finished: the report leaves it out too
        state, detail = "broken", problem
    elif state == "failed":
        text = (path / "FAILED").read_text(errors="replace")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        detail = lines[-1][:80] if lines else ""
    elif state == "unfinished":
        detail = "checkpoint" if (path / "checkpoint.pt").exists() else "no checkpoint"
    return {**row, "state": state, "steps": steps, "detail": detail}


def status_rows(root: Path, matrix: Matrix | None = None) -> list[dict[str, str]]:
    """One row per cell found under ``root`` (and per cell of ``matrix`` not started yet)."""
    found = _run_dirs(root)
    rows = [_row(p, root) for p in found]
    if matrix is not None:
        seen = {p.resolve() for p in found}
        rows += [
            {
                "task": c.task,
                "agent": c.agent,
                "bonus": c.entry,
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
    if not rows:  # as `report` says of the same directory: an error, exit 2
        raise ConfigError(
            f"no runs found in {str(root)!r}: expected run directories "
            "<task>/<agent>/<bonus>/seed<k>/ holding config.json, metrics.csv and DONE "
            "(--spec SPEC also lists the cells of a matrix not started yet)"
        )
    order = {"broken": 0, "failed": 1, "unfinished": 2, "missing": 3, "done": 4}
    rows.sort(key=lambda r: (order[r["state"]], r["task"], r["agent"], r["bonus"], r["seed"]))
    cols = ["state", "task", "agent", "bonus", "seed", "steps", "detail"]
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols).rstrip())
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in cols).rstrip())
    counts = {s: sum(r["state"] == s for r in rows) for s in order}
    print(
        ", ".join(f"{n} {s}" for s, n in counts.items() if n or s not in ("missing", "broken"))
        + f" ({len(rows)} cells)"
    )
    return 0
