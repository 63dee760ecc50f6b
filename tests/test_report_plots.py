"""Leaderboard charts: tick labels never run together, legends never cover lines."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from explore_bench.reports import plots
from explore_bench.reports.stats import Estimate

BONUSES = ["count", "emi", "none", "rnd"]


def test_the_overlap_check_finds_labels_that_run_together():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_xticks(np.linspace(75_000, 200_000, 8))  # the bug as seen: 75000100000125000...
    ax.set_xlim(75_000, 200_000)
    assert plots.overlapping_tick_labels(fig)
    plt.close(fig)


def test_compact_labels():
    xs = (0, 75_000, 2e6, -0.0075, 0.5, 125_000, 1600, 800)
    assert [plots.compact(x) for x in xs] == [
        "0",
        "75k",
        "2M",
        "-0.0075",
        "0.5",
        "125k",
        "1.6k",
        "800",
    ]


def test_interval_chart_on_deepsea_like_raw_scores_has_readable_ticks():
    # DeepSea's raw scores without reward: tiny negative move costs, the values once seen
    rng = np.random.default_rng(0)
    est = {}
    for b in BONUSES:
        lo = -0.0075 + 0.001 * rng.random()
        est[f"ppo/{b}"] = {
            m: Estimate(lo + 0.0005, lo, lo + 0.0015) for m in ("IQM", "Mean", "Median")
        }
    colors = plots.palette([f"ppo/{b}" for b in BONUSES])
    fig = plots.interval_chart(est, ["IQM", "Mean", "Median"], "raw score", "t", colors)
    assert plots.overlapping_tick_labels(fig) == []
    plt.close(fig)


def test_curves_over_200k_steps_have_readable_ticks_and_legends_beside_the_axes():
    grid = np.linspace(0, 200_000, 25)
    curves = {b: (np.linspace(0, 1, 25), np.stack([np.zeros(25), np.ones(25)])) for b in BONUSES}
    colors = plots.palette(BONUSES)
    fig = plots.iqm_curve_chart(grid, curves, "environment steps", "score", "t", colors)
    assert plots.overlapping_tick_labels(fig) == []
    _legend_outside(fig)
    tau = np.linspace(-0.0075, 0.99, 101)
    fig = plots.profile_chart(curves | {}, tau[:25], "raw score", "t", colors)
    assert plots.overlapping_tick_labels(fig) == []
    _legend_outside(fig)
    points = pd.DataFrame(
        [
            {"task": t, "bonus": b, "seed": s, "env_steps": x, "score": float(s)}
            for t in ("DeepSea20", "FourRooms", "CartPole")
            for b in BONUSES
            for s in (0, 1)
            for x in grid
        ]
    )
    fig = plots.learning_curves(points, "t", colors, seed=0)
    assert plots.overlapping_tick_labels(fig) == []
    fig.canvas.draw()
    (legend,) = fig.legends  # one legend, right of every panel
    right = max(ax.get_window_extent().x1 for ax in fig.axes if ax.get_visible())
    assert legend.get_window_extent().x0 >= right
    plt.close("all")


def _legend_outside(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    legend = ax.get_legend()
    assert legend is not None
    box, area = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert box.x0 >= area.x1  # entirely right of the plotting area


@pytest.mark.parametrize("n", [1, 5, 12])
def test_palette_is_one_colour_per_name(n):
    names = [f"b{i}" for i in range(n)]
    colors = plots.palette(names)
    assert list(colors) == names and len(set(colors.values())) == n
