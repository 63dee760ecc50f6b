"""Which entries separate from the baseline: per task, whose 95% intervals do not overlap.

An entry *separates* from the baseline (``none``) on a suite when the 95% stratified-bootstrap
interval of its IQM lies wholly above (or below) the baseline's; where the intervals share a
point, these runs cannot tell the two apart, whatever the point estimates say. The report
writes the verdicts as ``separation.md``: one compact table per single-task suite (IQM,
mean, success rate and P(entry > baseline), each with its interval) and one line per entry
listing where it separates and where it does not, the text the README's headline table is
taken from.
"""

from __future__ import annotations

import math

import pandas as pd

from explore_bench.reports.headline import HEADLINE, fmt, overlaps, rank

ABOVE, BELOW, OVERLAPS = "above", "below", "overlaps"


def verdict(row: pd.Series, base: pd.Series) -> str:
    """``above`` / ``below`` when the IQM intervals do not overlap, else ``overlaps``."""
    mine = (row[f"{HEADLINE}_lo"], row[f"{HEADLINE}_hi"])
    theirs = (base[f"{HEADLINE}_lo"], base[f"{HEADLINE}_hi"])
    if not all(math.isfinite(x) for x in (*mine, *theirs)) or overlaps(mine, theirs):
        return OVERLAPS
    return ABOVE if mine[0] > theirs[1] else BELOW


def separations(rows: pd.DataFrame, baseline: str = "none") -> pd.DataFrame:
    """One row per (suite, agent, entry) other than the baseline with its ``verdict``;
    only suites of a single task (the report adds one per task of a normalised set)."""
    out: list[dict[str, str]] = []
    if rows.empty:
        return pd.DataFrame(out, columns=["suite", "agent", "bonus", "verdict"])
    single = rows[rows["tasks"] == 1]
    for (suite, agent), group in single.groupby(["suite", "agent"], sort=False):
        base = group[group["bonus"] == baseline]
        if base.empty:
            continue
        for _, row in group[group["bonus"] != baseline].iterrows():
            mark = verdict(row, base.iloc[0])
            out.append({"suite": suite, "agent": agent, "bonus": row["bonus"], "verdict": mark})
    return pd.DataFrame(out, columns=["suite", "agent", "bonus", "verdict"])


def _interval(row: pd.Series, key: str, lo: str = "", hi: str = "") -> str:
    """``point [lo, hi]`` of a leaderboard column (bounds in ``key_lo`` / ``key_hi``)."""
    if key not in row or not math.isfinite(row[key]):
        return "n/a"
    return f"{fmt(row[key])} [{fmt(row[lo or f'{key}_lo'])}, {fmt(row[hi or f'{key}_hi'])}]"


def separation_markdown(rows: pd.DataFrame, baseline: str = "none") -> str:
    """The per-task tables and the per-entry summary, as Markdown."""
    seps = separations(rows, baseline)
    if seps.empty:
        return f"No single-task suite with a `{baseline}` baseline: nothing to separate.\n"
    poi = f"poi_vs_{baseline}"
    lines = [
        f"Final score normalised with each task's card; 95% stratified-bootstrap intervals. "
        f"An entry separates from `{baseline}` where its IQM interval lies wholly above "
        f"(**above**) or below (**below**) `{baseline}`'s; otherwise the runs cannot tell "
        "them apart (overlaps).",
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
            mark = f"**{mark}**" if mark in (ABOVE, BELOW) else mark
            p = "-"
            if r["bonus"] != baseline:
                p = _interval(r, poi, "poi_lo", "poi_hi")
            lines.append(
                f"| {r['bonus']} | {int(r['runs_per_task'])} | {_interval(r, 'iqm')} | "
                f"{_interval(r, 'mean')} | {_interval(r, 'success_rate')} | {p} | {mark} |"
            )
        lines.append("")
    lines += [f"### Where each entry separates from `{baseline}`", ""]
    for (agent, bonus), group in seps.groupby(["agent", "bonus"], sort=True):
        parts = []
        for kind in (ABOVE, BELOW, OVERLAPS):
            tasks = group.loc[group["verdict"] == kind, "suite"].tolist()
            if tasks:
                parts.append(f"{kind} on {', '.join(f'`{t}`' for t in tasks)}")
        lines.append(f"- **{bonus}** ({agent}): " + "; ".join(parts) + ".")
    return "\n".join(lines) + "\n"
