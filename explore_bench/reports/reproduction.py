"""Our runs held against published figures: the report's "Reproduction" section.

A report given ``published`` figures (`options.published_figures`: per task, an entry, a
value, the measure it uses and its source) shows, per figure and agent, our IQM, mean and
success rate with 95% stratified-bootstrap intervals computed on the figure's measure (the
per-run values of that column of the run table: ``final`` = the card's final score,
``final_mode`` = the argmax policy's evaluation, ``train_return`` = the training episodes'
return; each the mean over the report's final window), the other measures' means beside
them, the number of seeds, the published value and its source, and a verdict:

- ``within``: the published value lies inside our 95% interval of the mean;
- ``below`` / ``above``: our interval lies entirely below / above it;
- ``reproduced``: within, and the figure states an equivalence ``margin`` that our whole
  interval lies inside (value ± margin): the runs pin the mean down to the precision the
  margin asks for. Without a margin "within" is the strongest verdict: a wide interval (few
  seeds, a bimodal task) contains most values, so lying in it proves little;
- ``too few seeds``: fewer than `separation.MIN_SEEDS` runs logged the measure (the
  interval of 1-2 runs says next to nothing);
- ``not run``: no finished run of the entry on the task (never an error: a figure may name
  an entry the results do not hold); ``not logged``: runs finished but none logged the
  measure (``final_mode`` on a task whose final score is the argmax policy's);
- ``context``: a figure of another agent or setting (``context = true``), shown beside our
  runs of the entry it names and never judged.

Where a figure states the ``steps`` it was measured at and our runs' budget differs from it
by more than `BUDGET_TOLERANCE`, the row's note says so: the verdict then compares two
settings, not a reproduction.

The intervals are the report's own (`stats.aggregates`: rliable's stratified bootstrap, the
report's reps), seeded from the report seed, the task and the entry, so adding a figure
moves no other row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from explore_bench.reports import stats
from explore_bench.reports.headline import fmt
from explore_bench.reports.load import success_threshold
from explore_bench.reports.options import MEASURES, Published
from explore_bench.reports.render import Block, Heading, Para, Table
from explore_bench.reports.separation import MIN_SEEDS
from explore_bench.reports.ticks import compact

WITHIN, BELOW, ABOVE, REPRODUCED = "within", "below", "above", "reproduced"
NOT_RUN, NOT_LOGGED, FEW_SEEDS, CONTEXT = "not run", "not logged", "too few seeds", "context"
#: Relative difference of budgets still counted as the published one (RLeXplore's "1M" is
#: 122 iterations of 8,192 steps; a run of 128 iterations, 1,048,576 steps, is 4.9% more).
BUDGET_TOLERANCE = 0.1

NOTE = (
    "Each published figure beside our runs of the entry it names, on the figure's own measure "
    "(`final`: the task card's final score; `final_mode`: the argmax policy's evaluation; "
    "`train_return`: the training episodes' return; each averaged over the final window "
    "of every run). Brackets: 95% stratified-bootstrap interval over runs. Verdict: "
    "**within** = the published value lies in our interval of the mean, **below** / "
    "**above** = our interval lies entirely below / above it, **reproduced** = within and "
    "the whole interval inside the figure's stated margin, **too few seeds** = under "
    f"{MIN_SEEDS} runs, **context** = another agent or setting, not judged. '≈' marks a value "
    "read off a plotted curve. The last columns give our mean on every measure, so where "
    "they differ shows, and a note where our runs' budget is not the figure's."
)


#: The columns of reproduction.csv.
COLUMNS = [
    "task",
    "agent",
    "entry",
    "measure",
    "seeds",
    "steps",
    *(f"{m}{s}" for m in ("iqm", "mean", "success_rate") for s in ("", "_lo", "_hi")),
    *(f"mean_{m}" for m in MEASURES),
    "published",
    "published_steps",
    "read_off",
    "margin",
    "context",
    "source",
    "verdict",
    "notes",
]


def verdict(
    value: float, lo: float, hi: float, n: int, margin: float = math.nan, context: bool = False
) -> str:
    """The one-word verdict of a published ``value`` against our interval [lo, hi] of the
    mean over ``n`` runs (module docstring)."""
    if context:
        return CONTEXT
    if n < MIN_SEEDS:
        return FEW_SEEDS
    if hi < value:
        return BELOW
    if lo > value:
        return ABOVE
    if math.isfinite(margin) and value - margin <= lo and hi <= value + margin:
        return REPRODUCED
    return WITHIN


def reproduction_rows(
    runs: pd.DataFrame,
    cards: dict[str, dict[str, Any]],
    figures: Sequence[Published],
    *,
    reps: int,
    seed: int,
) -> pd.DataFrame:
    """One row per (figure, agent that ran its entry on its task); a figure whose entry did
    not run is one row with verdict "not run" (or "context")."""
    done = runs[runs["finished"]] if "finished" in runs else runs.iloc[0:0]
    rows = []
    for fig in figures:
        mine = done[(done["task"] == fig.task) & (done["bonus"] == fig.entry)]
        if fig.agent:
            mine = mine[mine["agent"] == fig.agent]
        agents = sorted(mine["agent"].unique(), key=str) or [fig.agent]
        for agent in agents:
            rows.append(_row(fig, agent, mine[mine["agent"] == agent], cards, reps, seed))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(
    fig: Published,
    agent: str,
    runs: pd.DataFrame,
    cards: dict[str, dict[str, Any]],
    reps: int,
    seed: int,
) -> dict[str, Any]:
    values = runs[MEASURES[fig.measure]].dropna().to_numpy(float) if len(runs) else np.array([])
    row: dict[str, Any] = dict.fromkeys(COLUMNS, math.nan)
    row.update(
        task=fig.task,
        agent=agent,
        entry=fig.entry,
        measure=fig.measure,
        seeds=len(values),
        steps="/".join(str(int(b)) for b in _budgets(runs)),
        published=fig.value,
        published_steps=fig.steps or math.nan,
        notes=_budget_note(fig, _budgets(runs)),
        read_off=fig.read_off,
        margin=fig.margin,
        context=fig.context,
        source=fig.source,
    )
    for m, col in MEASURES.items():
        if len(runs) and runs[col].notna().any():
            row[f"mean_{m}"] = float(runs[col].mean())
    if len(values):
        thr = success_threshold(cards.get(fig.task, {}))
        label = f"{agent}/{fig.entry}/{fig.measure}"
        est = stats.aggregates(
            {label: values[:, None]},
            reps=reps,
            seed=stats.seed_for(seed, "reproduction", fig.task),
            metrics=("IQM", "Mean"),
            success_thresholds=np.array([math.nan if thr is None else thr]),
        )[label]
        for name, key in (("IQM", "iqm"), ("Mean", "mean"), (stats.SUCCESS, "success_rate")):
            if name in est:
                e = est[name]
                row.update({key: e.point, f"{key}_lo": e.lo, f"{key}_hi": e.hi})
    if fig.context:
        row["verdict"] = CONTEXT
    elif runs.empty:
        row["verdict"] = NOT_RUN
    elif not len(values):
        row["verdict"] = NOT_LOGGED
    else:
        row["verdict"] = verdict(fig.value, row["mean_lo"], row["mean_hi"], len(values), fig.margin)
    return row


def _budgets(runs: pd.DataFrame) -> list[float]:
    """The step budgets of ``runs`` (config.json ``steps``), each once."""
    if runs.empty:
        return []
    return sorted(set(pd.to_numeric(runs["budget"], errors="coerce").dropna().astype(float)))


def _budget_note(fig: Published, budgets: list[float]) -> str:
    """Where our budget is not the figure's, the note that says so ("" otherwise)."""
    off = [b for b in budgets if fig.steps and abs(b - fig.steps) > BUDGET_TOLERANCE * fig.steps]
    if not off:
        return ""
    ours = "/".join(compact(b) for b in budgets)
    return f"our runs: {ours} steps, the figure: {compact(fig.steps)}"


def _est(row: pd.Series, key: str) -> str:
    if not math.isfinite(row[key]):
        return ""
    return f"{fmt(row[key])} [{fmt(row[f'{key}_lo'])}, {fmt(row[f'{key}_hi'])}]"


def display_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of one task as the page shows them."""
    out = []
    for _, r in rows.iterrows():
        published = ("≈" if r["read_off"] else "") + fmt(r["published"])
        if math.isfinite(r["margin"]):
            published += f" ± {fmt(r['margin'])}"
        if math.isfinite(r["published_steps"]):
            published += f" at {compact(r['published_steps'])}"
        steps = [float(b) for b in str(r["steps"]).split("/") if b]
        out.append(
            {
                "agent": r["agent"],
                "entry": r["entry"],
                "measure": r["measure"],
                "seeds": int(r["seeds"]),
                "steps": "/".join(compact(b) for b in steps),
                "IQM": _est(r, "iqm"),
                "mean": _est(r, "mean"),
                "success rate": _est(r, "success_rate"),
                "published": published,
                "source": r["source"],
                "verdict": r["verdict"],
                **{
                    f"mean {m}": fmt(r[f"mean_{m}"]) if math.isfinite(r[f"mean_{m}"]) else ""
                    for m in MEASURES
                },
                "notes": r["notes"],
            }
        )
    return pd.DataFrame(out)


def reproduction_blocks(rows: pd.DataFrame, level: int = 2) -> list[Block]:
    """The "Reproduction" section: its note and one table per task."""
    blocks: list[Block] = [Heading("Reproduction", level), Para(NOTE)]
    for task, group in rows.groupby("task", sort=False):
        blocks.append(Heading(f"Reproduction: {task}", level + 1))
        blocks.append(Table(display_table(group), cls="reproduction", prose=("source", "notes")))
    return blocks


def summary_line(rows: pd.DataFrame) -> str:
    """The verdicts counted, for the command line ("4 figures: 1 below, 3 not run")."""
    counts = rows["verdict"].value_counts(sort=False)
    return f"{len(rows)} figure{'' if len(rows) == 1 else 's'}: " + ", ".join(
        f"{n} {v}" for v, n in counts.items()
    )
