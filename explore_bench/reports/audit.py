"""Honest edges: which runs are missing, failed or unfinished, and how many seeds each cell has.

The expected set is the full cross product of the tasks, agents, bonuses and seeds that occur
anywhere in the results directory, except that a matrix variant (an entry with overrides) is
expected only on the (task, agent) pairs it has runs on: a variant may be restricted to some
tasks or agents. To that come the cells the matrix last run into the directory declared
(``declared``, from its cells.json), so that a variant is expected on the tasks it has not
reached yet. A run directory without DONE counts as unfinished.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pandas as pd

from explore_bench.reports.load import KEYS

CELL = ("task", "agent", "bonus")


def _expected(
    runs: pd.DataFrame, keys: tuple[str, ...], declared: Sequence[tuple[object, ...]] = ()
) -> list[tuple[object, ...]]:
    """The expected (task, agent, bonus[, seed]) keys: the cross product, variants only where
    they ran, and the declared cells (see the module docstring)."""
    axes = [sorted(runs[k].unique(), key=str) for k in keys]
    variants = (
        set(runs.loc[runs["overrides"].astype(str) != "", "bonus"])
        if "overrides" in runs
        else set()
    )
    ran = set(zip(runs["task"], runs["agent"], runs["bonus"], strict=True))
    found = [k for k in itertools.product(*axes) if k[2] not in variants or k[:3] in ran]
    return list(dict.fromkeys([*found, *(tuple(c[: len(keys)]) for c in declared)]))


def completeness(runs: pd.DataFrame, declared: Sequence[tuple[object, ...]] = ()) -> pd.DataFrame:
    """One row per expected run that did not finish: its keys, status and error line."""
    index = runs.set_index(list(KEYS))
    rows = []
    for key in _expected(runs, KEYS, declared):
        if key not in index.index:
            rows.append((*key, "missing", ""))
            continue
        run = index.loc[key]
        if not bool(run["finished"]):
            status = "done, no scores" if run["status"] == "done" else run["status"]
            rows.append((*key, status, run["error"]))
    return pd.DataFrame(rows, columns=[*KEYS, "status", "error"])


def completeness_warnings(
    runs: pd.DataFrame, gaps: pd.DataFrame, declared: Sequence[tuple[object, ...]] = ()
) -> list[str]:
    expected = len(_expected(runs, KEYS, declared))
    out = []
    for status, label in (
        ("missing", "missing (no run directory)"),
        ("unfinished", "unfinished (no DONE)"),
        ("failed", "FAILED"),
        ("broken", "broken (DONE or started, but metrics.csv is unreadable or cut short)"),
        ("done, no scores", "finished without any score"),
    ):
        hit = gaps[gaps["status"] == status]
        if len(hit):
            names = ", ".join(_name(r) for r in hit.head(8).itertuples())
            more = f" and {len(hit) - 8} more" if len(hit) > 8 else ""
            out.append(f"{len(hit)} of {expected} expected runs are {label}: {names}{more}")
    return out


def seed_counts(runs: pd.DataFrame, declared: Sequence[tuple[object, ...]] = ()) -> pd.DataFrame:
    """Finished runs per expected (task, agent, bonus) (zeros included)."""
    done = runs[runs["finished"]]
    counts = done.groupby(list(CELL)).size()
    full = pd.MultiIndex.from_tuples(_expected(runs, CELL, declared), names=list(CELL))
    return counts.reindex(full, fill_value=0).rename("runs").reset_index()


def seed_warnings(counts: pd.DataFrame) -> list[str]:
    out = []
    present = counts[counts["runs"] > 0]
    if present["runs"].nunique() > 1:
        top = int(present["runs"].max())
        short = present[present["runs"] < top]
        names = ", ".join(
            f"{r.task}/{r.agent}/{r.bonus} ({r.runs})" for r in short.head(8).itertuples()
        )
        out.append(
            f"unequal seed counts: cells have {int(present['runs'].min())} to {top} finished "
            f"runs; fewer than {top}: {names}"
        )
    single = present[present["runs"] == 1]
    if len(single):
        names = ", ".join(f"{r.task}/{r.agent}/{r.bonus}" for r in single.head(8).itertuples())
        out.append(
            f"{len(single)} cells have a single finished run, so their bootstrap intervals have "
            f"zero width and say nothing about seed variance: {names}"
        )
    return out


def _name(row: object) -> str:
    return f"{row.task}/{row.agent}/{row.bonus}/seed{row.seed}"  # type: ignore[attr-defined]
