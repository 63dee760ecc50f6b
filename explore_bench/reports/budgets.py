"""Entries run at different step budgets (a 4k smoke entry beside a 61k variant): which
suites mix budgets, and the labels that say so in tables and charts."""

from __future__ import annotations

import pandas as pd

from explore_bench.reports.suites import Suite
from explore_bench.reports.ticks import compact


def budgets(runs: pd.DataFrame, suite: Suite, agent: str, entry: str) -> str:
    """The step budget(s) of an entry's finished runs on the suite's tasks ("61.4k")."""
    mine = runs[
        runs["finished"]
        & (runs["agent"] == agent)
        & (runs["bonus"] == entry)
        & runs["task"].isin(suite.tasks)
    ]
    found = sorted(set(pd.to_numeric(mine["budget"], errors="coerce").dropna().astype(float)))
    return "/".join(compact(b) for b in found)


def mixed_budgets(runs: pd.DataFrame, suite: Suite) -> bool:
    """Whether the suite's entries were run at different step budgets on some task."""
    mine = runs[runs["finished"] & runs["task"].isin(suite.tasks)]
    budget = pd.to_numeric(mine["budget"], errors="coerce")
    return bool((budget.groupby(mine["task"]).nunique(dropna=True) > 1).any())


def budget_label(runs: pd.DataFrame, suite: Suite, label: str) -> str:
    """A chart's "agent/entry" label, with the entry's budget where the suite mixes them."""
    if not mixed_budgets(runs, suite):
        return label
    agent, entry = label.split("/", 1)
    return f"{label} ({budgets(runs, suite, agent, entry)} steps)"
