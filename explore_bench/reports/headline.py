"""The ranking that leads every leaderboard: entries ranked by the headline metric.

Within each (suite, agent), entries (bonuses and variants) are ranked by the point estimate
of the headline metric (IQM, Agarwal et al. 2021), best first; NaN last. An entry whose 95%
interval overlaps the best entry's interval is marked as tied with it: at this number of
runs the data cannot tell them apart. When every entry of a (suite, agent) has the same
point estimate (every run of every entry scored 0, say), nothing is ranked: a tie of all
entries is no win, so no entry is shown as first or in bold. The same ranking is printed
at the end of ``explore-bench matrix`` and shown first in leaderboard.md / index.html.
"""

from __future__ import annotations

import math

import pandas as pd

#: Column of the leaderboard rows that ranks entries (higher is better), and its label.
HEADLINE = "iqm"
HEADLINE_LABEL = "IQM"


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether closed intervals a and b share a point (False if either is undefined)."""
    if not all(math.isfinite(x) for x in (*a, *b)):
        return False
    return a[0] <= b[1] and b[0] <= a[1]


def rank(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (leaderboard rows) sorted within (suite, agent) by the headline metric, with
    ``rank`` (1 = best; equal points share a rank), ``tied_with_best`` and ``all_tied``
    (every entry of the group has the same finite point estimate: nothing is ranked)."""
    if rows.empty:
        return rows.assign(
            rank=pd.Series(dtype=int),
            tied_with_best=pd.Series(dtype=bool),
            all_tied=pd.Series(dtype=bool),
        )
    parts = []
    for _, group in rows.groupby(["suite", "agent"], sort=False):
        g = group.sort_values(HEADLINE, ascending=False, na_position="last", kind="stable")
        points = g[HEADLINE].tolist()
        finite = [q for q in points if math.isfinite(q)]
        g = g.assign(
            rank=[
                1 + sum(q > p for q in finite) if math.isfinite(p) else len(finite) + 1
                for p in points
            ],
        )
        best = (g[f"{HEADLINE}_lo"].iloc[0], g[f"{HEADLINE}_hi"].iloc[0])
        ties = [
            i > 0 and overlaps((lo, hi), best)
            for i, (lo, hi) in enumerate(zip(g[f"{HEADLINE}_lo"], g[f"{HEADLINE}_hi"]))
        ]
        all_tied = len(points) > 1 and len(finite) == len(points) and len(set(finite)) == 1
        parts.append(g.assign(tied_with_best=ties, all_tied=all_tied))
    return pd.concat(parts, ignore_index=True)


def fmt(x: float) -> str:
    """A figure as the report prints it (context.py, which pulls in matplotlib, reuses it)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.3f}"


def format_text(rows: pd.DataFrame) -> str:
    """The ranking as plain text for a terminal, one block per (suite, agent)."""
    if rows.empty:
        return "no ranking: no (agent, entry) has finished runs on every task of a suite"
    ranked = rank(rows)
    lines = [
        f"ranking by {HEADLINE_LABEL} of the final score (95% stratified-bootstrap interval); "
        "'~' = interval overlaps the best's; 'tie' = every entry has the same point: no ranking"
    ]
    for (suite, agent), g in ranked.groupby(["suite", "agent"], sort=False):
        lines.append(f"{suite} ({g['scale'].iloc[0]}), {agent}:")
        width = max(len(str(b)) for b in g["bonus"])
        for _, r in g.iterrows():
            est = f"{fmt(r[HEADLINE])} [{fmt(r[f'{HEADLINE}_lo'])}, {fmt(r[f'{HEADLINE}_hi'])}]"
            extra = ""
            if "success_rate" in r and pd.notna(r["success_rate"]):
                extra += f"  success {fmt(r['success_rate'])}"
            if str(r.get("overrides", "") or ""):
                extra += f"  ({r['overrides']})"
            place = (
                "tie"
                if r["all_tied"]
                else f"{r['rank']:>2}" + ("~" if r["tied_with_best"] else " ")
            )
            lines.append(f"  {place} {r['bonus']!s:<{width}}  {est}{extra}")
    return "\n".join(lines)
