"""Group tasks into suites and turn the runs table into rliable's rectangular arrays.

Normalisation policy (stated in every report): a task's score is normalised with the
constants of its protocol card, ``(score - random) / (reference - random)``, never with
statistics of the result set at hand (those would move whenever a run is added). Tasks
aggregate together only when every task has constants; otherwise each task is its own suite
on raw scores, and the report says so. With constants, sparse and dense tasks additionally
get their own suites, since rankings flip between them (Taiga et al. 2020), and so does
each task of a set of several (an aggregate can hide the one task where a bonus matters).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from explore_bench.reports.load import normalisation, normalise, success_threshold

MAX_CURVE_POINTS = 25


@dataclasses.dataclass(frozen=True)
class Suite:
    """Tasks aggregated together, and the score scale they share."""

    name: str
    tasks: tuple[str, ...]
    #: True: scores are card-normalised; False: raw scores of a single task.
    normalised: bool
    #: Axis label for the score.
    label: str


def make_suites(tasks: list[str], cards: dict[str, dict[str, Any]]) -> list[Suite]:
    if not tasks:
        return []
    if all(normalisation(cards[t]) is not None for t in tasks):
        human = all(cards[t].get("reference_kind") == "human" for t in tasks)
        label = "human-normalised score" if human else "normalised score"
        suites = [Suite("all tasks", tuple(tasks), True, label)]
        sparse = tuple(t for t in tasks if cards[t].get("sparse"))
        dense = tuple(t for t in tasks if not cards[t].get("sparse"))
        if sparse and dense:
            suites += [
                Suite("sparse tasks", sparse, True, label),
                Suite("dense tasks", dense, True, label),
            ]
        if len(tasks) > 1:
            suites += [Suite(t, (t,), True, label) for t in tasks]
        return suites
    return [Suite(t, (t,), False, "raw score") for t in tasks]


def score_arrays(
    runs: pd.DataFrame, suite: Suite, agent: str, raw: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, list[int]]], list[str]]:
    """Per bonus, a (runs, tasks) array of final scores (raw ones if ``raw``); seeds; notes.

    rliable needs rectangular arrays: a bonus with unequal seed counts across the suite's
    tasks uses its first n seeds on every task (n = the smallest count), and says so.
    """
    col = "final_norm" if suite.normalised and not raw else "final_raw"
    done = runs[runs["finished"] & (runs["agent"] == agent) & runs["task"].isin(suite.tasks)]
    arrays, seeds, notes = {}, {}, []
    for bonus in sorted(done["bonus"].unique(), key=str):
        mine = done[done["bonus"] == bonus]
        per_task = {t: mine[mine["task"] == t].sort_values("seed") for t in suite.tasks}
        n = min(len(v) for v in per_task.values())
        if n == 0:
            lacking = [t for t, v in per_task.items() if v.empty]
            notes.append(
                f"{agent}/{bonus} left out of suite '{suite.name}': no finished run "
                f"on {', '.join(lacking)}"
            )
            continue
        if any(len(v) > n for v in per_task.values()):
            notes.append(
                f"{agent}/{bonus} in suite '{suite.name}': unequal seeds across tasks,"
                f" aggregates use the first {n} seeds of each task"
            )
        arrays[bonus] = np.stack([per_task[t][col].to_numpy()[:n] for t in suite.tasks], axis=1)
        seeds[bonus] = {t: per_task[t]["seed"].astype(int).tolist()[:n] for t in suite.tasks}
    return arrays, seeds, notes


def success_thresholds(suite: Suite, cards: dict[str, dict[str, Any]]) -> np.ndarray:
    """Per task of the suite, the success threshold on the suite's scale (NaN if none)."""
    out = []
    for task in suite.tasks:
        thr = success_threshold(cards[task])
        if thr is not None and suite.normalised:
            thr = float(normalise(thr, cards[task]))
            if math.isclose(thr, 0.0, abs_tol=1e-12) and thr > 0:
                thr = float(np.nextafter(0.0, 1.0))
        out.append(math.nan if thr is None else thr)
    return np.array(out, dtype=float)


def eval_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Evaluation points of every run: keys, env_steps, score (eval, else training returns).

    A report computes it once (`Context.points`); every suite and chart reads that.
    """
    keys = ["task", "agent", "bonus", "seed"]
    empty = pd.DataFrame(columns=[*keys, "env_steps", "score"])
    if curves.empty:
        return empty
    nan = pd.Series(np.nan, index=curves.index)
    evals = curves.get("eval_return", nan)
    train = curves.get("ext_return", nan)
    has_eval = evals.notna().groupby([curves[k] for k in keys], sort=False).transform("any")
    score = evals.where(has_eval, train)
    out = curves.loc[score.notna(), [*keys, "env_steps"]].assign(score=score[score.notna()])
    if out.empty:
        return empty
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def common_grid(points: pd.DataFrame, by_fraction: bool) -> np.ndarray:
    """Evaluation x-positions shared by all runs in ``points`` (steps or training share)."""
    xs, lo, hi = [], -math.inf, math.inf
    for _, run in points.groupby(["task", "agent", "bonus", "seed"], sort=True):
        x = run["env_steps"].to_numpy(float)
        if by_fraction:
            x = x / max(x.max(), 1.0)
        lo, hi = max(lo, x.min()), min(hi, x.max())
        xs.append(x)
    if not xs or lo > hi:
        return np.array([])
    grid = np.unique(np.concatenate(xs))
    grid = grid[(grid >= lo) & (grid <= hi)]
    if len(grid) > MAX_CURVE_POINTS:
        grid = grid[np.linspace(0, len(grid) - 1, MAX_CURVE_POINTS).round().astype(int)]
    return grid


def on_grid(run: pd.DataFrame, grid: np.ndarray, by_fraction: bool) -> np.ndarray:
    x = run["env_steps"].to_numpy(float)
    if by_fraction:
        x = x / max(x.max(), 1.0)
    order = np.argsort(x, kind="stable")
    return np.interp(grid, x[order], run["score"].to_numpy(float)[order])


def curve_arrays(
    points: pd.DataFrame,
    suite: Suite,
    agent: str,
    seeds: dict[str, dict[str, list[int]]],
    cards: dict[str, dict[str, Any]],
) -> tuple[np.ndarray, bool, dict[str, np.ndarray]]:
    """Per bonus, a (runs, tasks, evals) array on a common grid; the grid; whether by share.

    The x-axis is environment steps when every run of the suite has the same length, else the
    share of each run's training (tasks with different budgets).
    """
    mine = points[(points["agent"] == agent) & points["task"].isin(suite.tasks)]
    mine = mine.loc[
        np.array(
            [
                b in seeds and s in seeds[b].get(t, [])
                for b, t, s in zip(mine["bonus"], mine["task"], mine["seed"])
            ],
            dtype=bool,
        )
    ]
    if mine.empty:
        return np.array([]), False, {}
    lengths = mine.groupby(["task", "bonus", "seed"])["env_steps"].max()
    by_fraction = bool(lengths.max() > 1.01 * lengths.min())
    grid = common_grid(mine, by_fraction)
    if len(grid) < 2:
        return grid, by_fraction, {}
    out = {}
    by_run = dict(tuple(mine.groupby(["bonus", "task", "seed"], sort=False)))
    for bonus, per_task in seeds.items():
        cube = np.empty((len(next(iter(per_task.values()))), len(suite.tasks), len(grid)))
        for j, task in enumerate(suite.tasks):
            for i, seed in enumerate(per_task[task]):
                run = by_run.get((bonus, task, seed))
                y = (
                    on_grid(run, grid, by_fraction)
                    if run is not None
                    else np.full(len(grid), np.nan)
                )
                cube[i, j] = normalise(y, cards[task]) if suite.normalised else y
        if np.isfinite(cube).all():
            out[bonus] = cube
    return grid, by_fraction, out
