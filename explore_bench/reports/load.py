"""Read a results tree into tidy tables: one row per log point, one row per run.

Layout (docs/design.md, "Where a run leaves its results"):
``<root>/<matrix>/<task>/<agent>/<bonus>/seed<k>/`` with config.json, metrics.csv and DONE
(finished) or FAILED (traceback). A run's identity comes from its config.json; the path is
only a fallback for runs that died before writing it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explore_bench.settings.fairness import AGENT_SETTINGS, fairness_lines
from explore_bench.store.layout import (
    METRICS_CSV,
    METRICS_GZ,
    done_problem,
    metrics_path,
    name_from_path,
    read_matrix_cells,
)

KEYS = ("task", "agent", "bonus", "seed")
#: The recipe mode of runs whose config.json predates recipe modes.
UNRECORDED = "unrecorded"
_MARKERS = frozenset({"config.json", METRICS_CSV, METRICS_GZ, "DONE", "FAILED"})


class ReportError(ValueError):
    """The results directory cannot be reported on (missing, or holds no runs)."""


@dataclasses.dataclass(frozen=True)
class Tables:
    """What the loader found: per-run rows, per-log-point rows, and notes for the reader."""

    #: One row per run directory (finished or not): keys, status, final score, cost.
    runs: pd.DataFrame
    #: One row per metrics.csv row of every run, with the run's keys prepended.
    curves: pd.DataFrame
    #: task name -> protocol card (from the first config.json seen for the task).
    cards: dict[str, dict[str, Any]]
    #: task name -> run settings of one of its runs (budget, eval protocol).
    settings: dict[str, dict[str, Any]]
    #: Things the reader must know (fallbacks, unreadable runs).
    warnings: list[str]
    #: (agent, bonus) -> the recipe mode of its runs ("paper", "shared", or "unrecorded"
    #: for runs written before config.json recorded one).
    modes: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    #: (task, agent, entry, seed) of every cell of the matrix last run into the directory
    #: (its cells.json; empty without one): runs the report expects beyond those it found.
    declared: tuple[tuple[str, str, str, int], ...] = ()


def find_run_dirs(root: Path) -> list[Path]:
    """Every directory under ``root`` (itself included) that looks like one run."""
    found = []
    for here, dirs, files in os.walk(root):
        if _MARKERS & set(files):
            found.append(Path(here))
            dirs[:] = []  # a run's tb/ and checkpoints hold no further runs
        else:
            dirs.sort()
    return sorted(found)


def normalisation(card: Mapping[str, Any]) -> tuple[float, float] | None:
    """(random, reference) from a protocol card, or None when it states no usable pair."""
    rnd, ref = card.get("random_score"), card.get("reference_score")
    if rnd is None or ref is None or not float(ref) > float(rnd):
        return None
    return float(rnd), float(ref)


def normalise(score: float | np.ndarray, card: Mapping[str, Any]) -> float | np.ndarray:
    """(score - random) / (reference - random); NaN when the card has no constants."""
    pair = normalisation(card)
    if pair is None:
        return score * np.nan
    rnd, ref = pair
    return (score - rnd) / (ref - rnd)


def success_threshold(card: Mapping[str, Any]) -> float | None:
    """Raw final score a run must reach to count as a success on a sparse task.

    The card's ``success_threshold`` (inclusive) if stated, else anything strictly above
    the random-policy score; None for dense tasks or cards that state neither.
    """
    if not card.get("sparse"):
        return None
    if card.get("success_threshold") is not None:
        return float(card["success_threshold"])
    if card.get("random_score") is not None:
        return float(np.nextafter(float(card["random_score"]), math.inf))
    return None


def final_score(metrics: pd.DataFrame, window: float) -> tuple[float, str]:
    """Mean evaluation score over the last ``window`` share of training, and its source.

    Falls back to training-episode returns (``ext_return``) when a run logged no
    evaluation; the source column says so and the report warns.
    """
    for col in ("eval_return", "ext_return"):
        value = window_mean(metrics, col, window)
        if not math.isnan(value):
            return value, col
    return math.nan, "none"


def window_mean(metrics: pd.DataFrame, col: str, window: float) -> float:
    """Mean of ``col``'s logged values over the last ``window`` share of training (its last
    value when none falls there); NaN when the run never logged it."""
    if metrics.empty or "env_steps" not in metrics or col not in metrics:
        return math.nan
    rows = metrics[metrics[col].notna()]
    if rows.empty:
        return math.nan
    tail = _last_window(metrics, rows, window)
    if tail.empty:
        tail = rows.tail(1)
    return float(tail[col].mean())


def _last_window(metrics: pd.DataFrame, rows: pd.DataFrame, window: float) -> pd.DataFrame:
    """The ``rows`` logged in the last ``window`` share of ``metrics``' training."""
    last = float(metrics["env_steps"].max())
    return rows[rows["env_steps"] >= (1.0 - window) * last - 1e-9 * max(last, 1.0)]


def train_return(metrics: pd.DataFrame, window: float) -> float:
    """Mean return of the training episodes that ended in the last ``window`` share of
    training, each episode counted once: a metrics row holds the mean of the ``episodes``
    that ended in its iteration (with many envs in step most end together). A tree without
    the ``episodes`` column weighs each row once.

    When no episode ended in the window (256 envs that start together and run to a 640-step
    limit end together, every 20 iterations of 32 steps; a resume restarts them), the most
    recent episodes to end before it count instead, as the field's running mean over the
    last episodes (rllte's last-10-episode deque) reports them. Leaving such a run out would
    drop exactly the runs whose episodes never reach the goal. NaN when no episode ended."""
    if metrics.empty or not {"env_steps", "ext_return"} <= set(metrics.columns):
        return math.nan
    ended = metrics.dropna(subset=["ext_return"])
    if "episodes" in ended:
        ended = ended[ended["episodes"].fillna(0.0) > 0]
    rows = _last_window(metrics, ended, window)
    if rows.empty:
        rows = ended.tail(1)
    weights = rows["episodes"] if "episodes" in rows else pd.Series(1.0, rows.index)
    n = float(weights.sum())
    return float((rows["ext_return"] * weights).sum() / n) if n > 0 else math.nan


def _identity(path: Path, root: Path, config: Mapping[str, Any]) -> dict[str, Any] | None:
    run = config.get("run", {})
    parts = path.relative_to(root).parts if path != root else ()
    ident: dict[str, Any] = {}
    if len(parts) >= 4 and parts[-1].startswith("seed") and parts[-1][4:].isdigit():
        ident = {
            "task": name_from_path(parts[-4]),
            "agent": name_from_path(parts[-3]),
            "bonus": name_from_path(parts[-2]),
            "seed": int(parts[-1][4:]),
        }
    for key in KEYS:  # config.json is untrusted data: only well-typed values name the run
        value = run.get(key)
        wanted = (int,) if key == "seed" else (str,)
        if isinstance(value, wanted) and not isinstance(value, bool) and value != "":
            ident[key] = value
    if any(key not in ident for key in KEYS):
        return None
    # A variant (a named set of overrides of one bonus) is its own entry: "bonus" holds its
    # name everywhere in the report, "method" the bonus it varies, "overrides" its label.
    variant = config.get("variant") or {}
    ident["method"] = ident["bonus"]
    ident["overrides"] = ""
    if variant.get("name"):
        ident["bonus"] = str(variant["name"])
        ident["overrides"] = ", ".join(
            f"{k}={v}" for k, v in dict(variant.get("overrides", {})).items()
        )
    ident["seed"] = int(ident["seed"])
    ident["matrix"] = "/".join(parts[:-4]) if len(parts) >= 4 else ""
    return ident


def _read_json(path: Path) -> dict[str, Any]:
    """A config.json as a dict of plain sections ({} when unreadable: untrusted data)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: v for k, v in data.items() if not (k in ("run", "task_card") and not isinstance(v, dict))
    }


def _read_metrics(path: Path) -> tuple[pd.DataFrame, str]:
    """A metrics table (plain or gzip) as numbers, and what is wrong with it ("" when
    nothing): the file is untrusted data, so a cell that is not a number makes the run
    broken, not the report."""
    if not path.is_file():
        return pd.DataFrame(), ""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(), ""
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return pd.DataFrame(), f"{path.name} cannot be read ({first[:120]})"
    # one conversion of every cell at once: per column, it was a fifth of a report's load
    cells = raw.to_numpy(dtype=object)
    values = pd.to_numeric(cells.ravel(), errors="coerce").astype(float).reshape(cells.shape)
    table = pd.DataFrame(values, columns=raw.columns)
    bad = np.isnan(values) & (cells != "")
    if bad.any():
        row, col = next(zip(*bad.nonzero(), strict=True))
        value = raw.iat[row, col]
        return pd.DataFrame(), (
            f"{path.name} row {row + 1} column {raw.columns[col]!r} holds {value[:40]!r}, "
            "not a number"
        )
    if len(table) and "env_steps" not in table:
        return pd.DataFrame(), f"{path.name} has no env_steps column"
    return table, ""


def _last(metrics: pd.DataFrame, col: str) -> float:
    if col not in metrics:
        return math.nan
    values = metrics[col].dropna()
    return float(values.iloc[-1]) if len(values) else math.nan


def _run_row(
    path: Path, ident: dict[str, Any], config: dict[str, Any], m: pd.DataFrame, window: float
) -> dict[str, Any]:
    card = config.get("task_card", {})
    status = (
        "done"
        if (path / "DONE").exists()
        else "failed"
        if (path / "FAILED").exists()
        else "unfinished"
    )
    error = ""
    if status == "failed":
        lines = (path / "FAILED").read_text(errors="replace").strip().splitlines()
        error = lines[-1] if lines else ""
    raw, source = final_score(m, window)
    wall = _last(m, "wall_s")
    steps = _last(m, "env_steps")
    thr = success_threshold(card)
    return {
        **ident,
        "status": status,
        "error": error,
        "path": str(path),
        "budget": config.get("run", {}).get("steps", math.nan),
        "recipe": str(config.get("run", {}).get("recipe", UNRECORDED)),
        "env_steps": steps,
        "final_raw": raw,
        "final_source": source,
        # The other measures a published figure may use: the argmax policy's evaluation (a
        # "sampled" card's runs log it) and the training episodes' return (RLeXplore's).
        "final_mode": window_mean(m, "eval_return_mode", window),
        "train_return": train_return(m, window),
        "final_norm": float(normalise(raw, card)),
        "sparse": bool(card.get("sparse", False)),
        "success": math.nan if thr is None or math.isnan(raw) else float(raw >= thr),
        "wall_s": wall,
        "sps": steps / wall if wall and wall > 0 else _last(m, "sps"),
        "bonus_share": _last(m, "time_bonus_s") / wall if wall and wall > 0 else math.nan,
        **{c: _last(m, c) for c in m.columns if str(c).startswith("coverage_")},
    }


def load_results(root: str | os.PathLike[str], final_window: float = 0.1) -> Tables:
    """Load every run under ``root``; raises `ReportError` when there is none."""
    if not 0.0 < final_window <= 1.0:
        raise ValueError(f"final_window must be in (0, 1], got {final_window}")
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"results directory {str(root)!r} does not exist")
    notes: list[str] = []
    rows, curves = [], []
    cards: dict[str, dict[str, Any]] = {}
    settings: dict[str, dict[str, Any]] = {}
    seen: dict[tuple[Any, ...], str] = {}
    entry_configs: list[tuple[str, dict[str, Any]]] = []
    for path in find_run_dirs(root):
        config = _read_json(path / "config.json")
        ident = _identity(path, root, config)
        if ident is None:
            notes.append(f"skipped {path}: neither config.json nor the path names the run")
            continue
        key = tuple(ident[k] for k in KEYS)
        if key in seen:
            notes.append(f"duplicate run {_fmt_key(key)} at {path} (kept {seen[key]})")
            continue
        seen[key] = str(path)
        if isinstance(config.get("agent"), dict):
            entry_configs.append((ident["bonus"], config))
        if "task_card" in config:
            cards.setdefault(ident["task"], config["task_card"])
            settings.setdefault(ident["task"], config.get("run", {}))
        metrics, problem = _read_metrics(metrics_path(path))
        row = _run_row(path, ident, config, metrics, final_window)
        if row["status"] == "done" and not problem:
            problem = done_problem(path)
        if problem:  # listed, never counted as finished
            row.update(status="broken", error=problem, final_raw=math.nan)
            notes.append(f"run {_fmt_key(key)} is broken ({problem}): excluded")
            metrics = pd.DataFrame()
        rows.append(row)
        if row["status"] == "done" and metrics.empty:
            notes.append(f"finished run {_fmt_key(key)} has no metrics.csv rows: excluded")
        if row["status"] == "done" and row["final_source"] == "ext_return":
            notes.append(
                f"run {_fmt_key(key)} logged no eval_return: its final score uses training "
                "episode returns (ext_return)"
            )
        if not metrics.empty:
            curves.append(metrics.assign(**{k: ident[k] for k in KEYS}))
    if not rows:
        raise ReportError(
            f"no runs found in {str(root)!r}: expected run directories "
            "<task>/<agent>/<bonus>/seed<k>/ holding config.json, metrics.csv and DONE"
        )
    notes.extend(_agent_settings_notes(root, entry_configs))
    declared, problem = read_matrix_cells(root)
    if problem:
        notes.append(problem)
    runs = pd.DataFrame(rows).sort_values(list(KEYS), kind="stable").reset_index(drop=True)
    runs["finished"] = (runs["status"] == "done") & runs["final_raw"].notna()
    curve_table = (
        pd.concat(curves, ignore_index=True)
        if curves
        else pd.DataFrame(columns=[*KEYS, "env_steps"])
    )
    curve_table = curve_table[[*KEYS, *[c for c in curve_table.columns if c not in KEYS]]]
    for task in runs["task"].unique():
        cards.setdefault(task, {"name": task})
        settings.setdefault(task, {})
    return Tables(
        runs=runs,
        curves=curve_table,
        cards=cards,
        settings=settings,
        warnings=notes,
        modes=recipe_modes(runs),
        declared=tuple(declared),
    )


def _agent_settings_notes(root: Path, entry_configs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The matrix's statement that its entries train under different agent settings
    (`explore_bench.settings.fairness`, as ``explore-bench matrix`` prints it), one note; the
    spec copy's ``agent_settings`` says whether the difference was meant."""
    mode = "shared"
    try:
        declared = tomllib.loads((root / "matrix.toml").read_text()).get("agent_settings")
    except (OSError, ValueError):
        declared = None
    if declared in AGENT_SETTINGS:
        mode = str(declared)
    lines = fairness_lines(mode, [e for e, _ in entry_configs], [c for _, c in entry_configs])
    if not lines:
        return []
    head = lines[0].removeprefix("warning: ").removeprefix("note: ").rstrip(":")
    return [head + ": " + "; ".join(line.strip() for line in lines[1:])]


def recipe_modes(runs: pd.DataFrame) -> dict[tuple[str, str], str]:
    """The recipe mode of each (agent, bonus) entry; `ReportError` when an entry mixes modes.

    An entry pools its runs over tasks and seeds, so runs made under different recipe modes
    (a bonus with its paper recipe and the same bonus under shared settings) would be
    averaged into one number that is neither method: refused, with where the runs are.
    """
    modes: dict[tuple[str, str], str] = {}
    for (agent, bonus), group in runs.groupby(["agent", "bonus"], sort=True):
        found = sorted(group["recipe"].unique())
        if len(found) > 1:
            counts = ", ".join(
                f"{mode}: {int((group['recipe'] == mode).sum())} runs, e.g. "
                f"{group[group['recipe'] == mode]['path'].iloc[0]}"
                for mode in found
            )
            raise ReportError(
                f"entry {agent}/{bonus} mixes runs of recipe modes {' and '.join(found)} "
                f"({counts}); one entry must be one method: report each mode from its own "
                "results directory, or rerun the cells in one mode"
            )
        modes[(str(agent), str(bonus))] = str(found[0])
    return modes


def _fmt_key(key: tuple[Any, ...]) -> str:
    task, agent, bonus, seed = key
    return f"{task}/{agent}/{bonus}/seed{seed}"
