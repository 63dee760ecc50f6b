"""Which entries separate from the baseline: per task, a difference that matters.

An entry *separates* from the baseline (``none``) on a task when all of these hold:

- both have at least `MIN_SEEDS` runs: with 2 runs a task's stratified bootstrap has 3
  distinct resamples, and its interval says next to nothing (Agarwal et al. 2021 study the
  few-run regime from 3 runs up); otherwise the verdict is *too few seeds*;
- the 95% stratified-bootstrap intervals of their IQMs do not overlap; where they share a
  point, these runs cannot tell the two apart, whatever the point estimates say (*overlaps*);
- the difference matters on the task: on a sparse task at least one run of the two found
  reward (the leaderboard's ``found_reward``: a final score above what a run collects
  without reward; ``success_rate`` where a leaderboard predates it), else both only
  collected a failing run's score (DeepSea's move cost) and the verdict is *no reward either
  side*; where the task's card states a ``noise_floor`` (raw score), the gap between the
  intervals exceeds it, else the verdict is *within noise floor*.

Then the verdict is *above* or *below*. The report writes the verdicts as ``separation.md``:
one compact table per single-task suite (IQM, mean, success rate and P(entry > baseline),
each with its interval) and one line per entry listing where it separates and where it does
not, the text the README's headline table is taken from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from explore_bench.reports.headline import HEADLINE, fmt, overlaps, rank
from explore_bench.reports.load import normalisation

ABOVE, BELOW, OVERLAPS = "above", "below", "overlaps"
FEW_SEEDS = "too few seeds"
NO_REWARD = "no reward either side"
NOISE = "within noise floor"
#: The verdicts, in the order the per-entry summary lists them.
VERDICTS = (ABOVE, BELOW, NO_REWARD, NOISE, OVERLAPS, FEW_SEEDS)
#: Fewest runs per task, of the entry and of the baseline, for any verdict.
MIN_SEEDS = 3


def noise_floor(card: Mapping[str, Any], scale: str) -> float:
    """The card's ``noise_floor`` on the suite's scale (0 when the card states none)."""
    floor = card.get("noise_floor")
    if not isinstance(floor, int | float) or isinstance(floor, bool) or not floor > 0:
        return 0.0
    pair = normalisation(card)
    if scale != "raw score" and pair is not None:
        return float(floor) / (pair[1] - pair[0])
    return float(floor)


def _finite(row: pd.Series, key: str) -> float:
    value = row.get(key, math.nan)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def verdict(row: pd.Series, base: pd.Series, card: Mapping[str, Any] | None = None) -> str:
    """One of `VERDICTS` for ``row`` against ``base`` (see the module docstring)."""
    seeds = min(_finite(row, "runs_per_task"), _finite(base, "runs_per_task"))
    if not seeds >= MIN_SEEDS:
        return FEW_SEEDS
    mine = (row[f"{HEADLINE}_lo"], row[f"{HEADLINE}_hi"])
    theirs = (base[f"{HEADLINE}_lo"], base[f"{HEADLINE}_hi"])
    if not all(math.isfinite(x) for x in (*mine, *theirs)) or overlaps(mine, theirs):
        return OVERLAPS
    key = "found_reward" if "found_reward" in row else "success_rate"
    found = (_finite(row, key), _finite(base, key))
    if all(math.isfinite(s) for s in found) and max(found) <= 0.0:
        return NO_REWARD
    gap = mine[0] - theirs[1] if mine[0] > theirs[1] else theirs[0] - mine[1]
    if gap <= noise_floor(card or {}, str(row.get("scale", ""))):
        return NOISE
    return ABOVE if mine[0] > theirs[1] else BELOW


def separations(
    rows: pd.DataFrame,
    baseline: str = "none",
    cards: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """One row per (suite, agent, entry) other than the baseline with its ``verdict``;
    only suites of a single task (the report adds one per task of a normalised set), whose
    name is the task's, the key of ``cards``.

    An entry is judged against what its row's ``poi_against`` names (a variant against the
    baseline's variant of the same budget and settings, as its probability of improvement
    is), else against ``baseline``; the baseline's own variants are baselines, not judged.
    """
    out: list[dict[str, str]] = []
    if rows.empty:
        return pd.DataFrame(out, columns=["suite", "agent", "bonus", "verdict"])
    single = rows[rows["tasks"] == 1]
    for (suite, agent), group in single.groupby(["suite", "agent"], sort=False):
        if not (group["bonus"] == baseline).any():
            continue
        for _, row in group.iterrows():
            if is_baseline(row, baseline):
                continue
            against = str(row.get("poi_against", "") or "") or baseline
            base = group[group["bonus"] == against]
            if base.empty:
                base = group[group["bonus"] == baseline]
            mark = verdict(row, base.iloc[0], (cards or {}).get(str(suite)))
            out.append({"suite": suite, "agent": agent, "bonus": row["bonus"], "verdict": mark})
    return pd.DataFrame(out, columns=["suite", "agent", "bonus", "verdict"])


def is_baseline(row: pd.Series, baseline: str) -> bool:
    """The baseline itself, or one of its variants (its ``method`` is the baseline)."""
    method = row.get("method", row["bonus"])
    return bool(row["bonus"] == baseline or (isinstance(method, str) and method == baseline))


def _interval(row: pd.Series, key: str, lo: str = "", hi: str = "") -> str:
    """``point [lo, hi]`` of a leaderboard column (bounds in ``key_lo`` / ``key_hi``)."""
    if key not in row or not math.isfinite(row[key]):
        return "n/a"
    return f"{fmt(row[key])} [{fmt(row[lo or f'{key}_lo'])}, {fmt(row[hi or f'{key}_hi'])}]"


def separation_markdown(
    rows: pd.DataFrame,
    baseline: str = "none",
    cards: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The per-task tables and the per-entry summary, as Markdown."""
    seps = separations(rows, baseline, cards)
    if seps.empty:
        return f"No single-task suite with a `{baseline}` baseline: nothing to separate.\n"
    poi = f"poi_vs_{baseline}"
    lines = [
        f"Final score normalised with each task's card; 95% stratified-bootstrap intervals. "
        f"An entry separates from `{baseline}` (**above** or **below**) where both have at "
        f"least {MIN_SEEDS} runs (else: too few seeds), its IQM interval lies wholly above or "
        f"below `{baseline}`'s (else: overlaps, the runs cannot tell them apart), and the "
        "difference matters on the task: on a sparse task a run of either found reward (else: "
        "no reward either side, the scores differ only by what failing runs collect, such as "
        "DeepSea's move cost), and the gap between the intervals exceeds the noise floor the "
        "task's card states, if any (else: within noise floor).",
        "",
    ]
    marks = {(r.suite, r.agent, r.bonus): r.verdict for r in seps.itertuples()}
    ranked = rank(rows[rows["tasks"] == 1])
    for (suite, agent), group in ranked.groupby(["suite", "agent"], sort=False):
        if not (group["bonus"] == baseline).any():
            continue
        lines += [
            f"### {suite} ({agent})",
            "",
            f"| entry | runs | IQM | Mean | Success rate | P(entry > {baseline}) | vs {baseline} |",
            "|---|---|---|---|---|---|---|",
        ]
        for _, r in group.iterrows():
            mark = marks.get((suite, agent, r["bonus"]), "baseline")
            against = str(r.get("poi_against", "") or "")
            shown = f"**{mark}**" if mark in (ABOVE, BELOW) else mark
            if mark != "baseline" and against and against != baseline:
                shown += f" (vs {against})"
            p = "-"
            if not is_baseline(r, baseline):
                p = _interval(r, poi, "poi_lo", "poi_hi")
            lines.append(
                f"| {r['bonus']} | {int(r['runs_per_task'])} | {_interval(r, 'iqm')} | "
                f"{_interval(r, 'mean')} | {_interval(r, 'success_rate')} | {p} | {shown} |"
            )
        lines.append("")
    lines += [f"### Where each entry separates from `{baseline}`", ""]
    for (agent, bonus), group in seps.groupby(["agent", "bonus"], sort=True):
        parts = []
        for kind in VERDICTS:
            tasks = group.loc[group["verdict"] == kind, "suite"].tolist()
            if tasks:
                parts.append(f"{kind} on {', '.join(f'`{t}`' for t in tasks)}")
        lines.append(f"- **{bonus}** ({agent}): " + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"
