"""The leaderboard's ranking: order by the headline metric, shared ranks, ties marked."""

from __future__ import annotations

import math

import pandas as pd

from explore_bench.reports.headline import format_text, overlaps, rank


def _rows(entries):
    return pd.DataFrame(
        [
            {
                "suite": "s",
                "scale": "raw score",
                "agent": "ppo",
                "bonus": b,
                "iqm": p,
                "iqm_lo": lo,
                "iqm_hi": hi,
            }
            for b, p, lo, hi in entries
        ]
    )


def test_rank_orders_by_iqm_and_marks_overlap_with_the_best():
    rows = _rows(
        [
            ("none", 0.1, 0.0, 0.2),
            ("count", 0.9, 0.7, 1.0),
            ("rnd", 0.6, 0.3, 0.75),  # overlaps count's [0.7, 1.0]
            ("emi", 0.6, 0.5, 0.65),  # same point as rnd: same rank, no overlap
            ("broken", math.nan, math.nan, math.nan),
        ]
    )
    ranked = rank(rows)
    assert ranked["bonus"].tolist() == ["count", "rnd", "emi", "none", "broken"]
    assert ranked["rank"].tolist() == [1, 2, 2, 4, 5]
    assert ranked["tied_with_best"].tolist() == [False, True, False, False, False]
    text = format_text(rows)
    assert "   1  count" in text and "   2~ rnd" in text


def test_overlap_is_closed_and_undefined_intervals_never_overlap():
    assert overlaps((0.0, 1.0), (1.0, 2.0))
    assert not overlaps((0.0, 0.9), (1.0, 2.0))
    assert not overlaps((math.nan, 1.0), (0.0, 2.0))


def test_separation_needs_intervals_apart_and_is_judged_per_single_task_suite():
    from explore_bench.reports.separation import separation_markdown, separations

    def suite(name, tasks, entries):
        rows = _rows(entries).assign(suite=name, tasks=tasks, runs_per_task=5)
        return rows.assign(
            mean=rows["iqm"],
            mean_lo=rows["iqm_lo"],
            mean_hi=rows["iqm_hi"],
            poi_vs_none=0.7,
            poi_lo=0.5,
            poi_hi=0.9,
        )

    rows = pd.concat(
        [
            suite("all tasks", 2, [("none", 0.0, 0.0, 0.0), ("count", 0.5, 0.1, 0.9)]),
            suite(
                "A",
                1,
                [
                    ("none", 0.1, 0.0, 0.2),
                    ("count", 0.9, 0.7, 1.0),  # wholly above
                    ("rnd", 0.5, 0.2, 0.8),  # touches none's upper bound: overlaps
                    ("icm", -0.5, -0.6, -0.4),  # wholly below
                    ("emi", math.nan, math.nan, math.nan),  # no estimate: cannot separate
                ],
            ),
            suite("B", 1, [("none", 0.0, 0.0, 0.0), ("count", 0.0, 0.0, 0.0)]),
        ],
        ignore_index=True,
    )
    got = {(r.suite, r.bonus): r.verdict for r in separations(rows).itertuples()}
    assert got == {
        ("A", "count"): "above",
        ("A", "rnd"): "overlaps",
        ("A", "icm"): "below",
        ("A", "emi"): "overlaps",
        ("B", "count"): "overlaps",
    }  # the aggregate suite is not judged
    text = separation_markdown(rows)
    assert "| count | 5 | 0.900 [0.700, 1.000] |" in text and "| **above** |" in text
    assert "- **count** (ppo): above on `A`; overlaps on `B`." in text
    assert "- **icm** (ppo): below on `A`." in text
    assert "all tasks" not in text
