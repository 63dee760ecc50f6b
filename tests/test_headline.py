"""The leaderboard's ranking: order by the headline metric, shared ranks, ties marked."""

from __future__ import annotations

import math

import pandas as pd

from explore_bench.report.headline import format_text, overlaps, rank


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
