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


def _tiny_estimates(names, rng_seed=0):
    """DeepSea-like entries that found nothing: tiny negative scores, optimality gap just
    above 1 (the values of issue 27: ticks read "-0.0168-0.0184" and "1.02, 1.02")."""
    rng = np.random.default_rng(rng_seed)
    est = {}
    for n in names:
        lo = -0.0184 + 0.0016 * rng.random()
        est[n] = {
            "IQM": Estimate(lo + 0.0004, lo, lo + 0.0008),
            "Mean": Estimate(lo + 0.0004, lo, lo + 0.0008),
            "Optimality gap": Estimate(1 - lo - 0.0004, 1 - lo - 0.0008, 1 - lo),
        }
    est[names[-1]] = {m: Estimate(e.point, e.point, e.point) for m, e in est[names[-1]].items()}
    return est


def test_interval_chart_ticks_are_readable_and_tell_values_apart():
    names = [f"ppo/{b}" for b in BONUSES]
    est = _tiny_estimates(names)
    metrics = ["IQM", "Mean", "Optimality gap"]
    fig = plots.interval_chart(est, metrics, "normalised score", "t", plots.palette(names))
    assert plots.overlapping_tick_labels(fig) == []
    for ax in fig.axes:
        texts = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert len(texts) >= 2 and len(set(texts)) == len(texts), texts  # no "1.02, 1.02"
        values = [float(t) for t in texts]
        assert values == sorted(values)
        lo, hi = ax.get_xlim()
        for e in est.values():  # margins: no point on the panel's edge
            metric = metrics[fig.axes.index(ax)]
            assert lo < e[metric].lo and e[metric].hi < hi
    plt.close(fig)


def test_interval_chart_shows_every_entry_in_the_given_order_and_marks_the_baseline():
    names = ["ppo/count", "ppo/rnd", "ppo/none", "ppo/emi"]  # the ranking's order
    est = _tiny_estimates(names)  # ppo/emi: an interval of zero width
    fig = plots.interval_chart(
        est, ["IQM"], "score", "t", plots.palette(names, "ppo/none"), {"ppo/none"}
    )
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # top to bottom = the order given (the y axis counts up from the bottom)
    top_down = [lab for _, lab in sorted(zip(ax.get_yticks(), labels), reverse=True)]
    assert top_down == ["ppo/count", "ppo/rnd", "ppo/none (baseline)", "ppo/emi"]
    markers = [ln for ln in ax.get_lines() if ln.get_marker() not in (None, "None", "")]
    assert len(markers) == len(names)  # a visible marker per entry, zero width or not
    zero = next(ln for ln in markers if np.isclose(ln.get_xdata()[0], est["ppo/emi"]["IQM"].point))
    assert zero.get_markersize() >= 6
    base = [ln for ln in markers if ln.get_marker() == "D"]
    assert len(base) == 1 and np.allclose(base[0].get_color(), (0, 0, 0))
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 1
    plt.close(fig)


def test_palette_gives_distinct_hues_and_a_black_baseline():
    import colorsys

    names = ["count", "disagreement", "e3b", "emi", "icm", "ngu", "none", "noveld", "re3"]
    names += ["ride", "rnd", "count-61k", "none-61k"]
    colors = plots.palette(names)
    assert colors["none"] == (0.0, 0.0, 0.0)
    others = [c for n, c in colors.items() if n != "none"]
    # the colourblind palette gave three oranges (hues within 0.05 of each other, saturated)
    hues = [colorsys.rgb_to_hsv(*c) for c in others]
    close = [
        (a, b)
        for i, a in enumerate(hues)
        for b in hues[i + 1 :]
        if min(abs(a[0] - b[0]), 1 - abs(a[0] - b[0])) < 0.03 and abs(a[2] - b[2]) < 0.25
    ]
    assert close == []
    looks = {
        (plots.line_look(colors, n)["marker"], plots.line_look(colors, n)["linestyle"])
        for n in names
    }
    assert len(looks) == len(names)  # lines that coincide still differ by marker and dashes


def test_improvement_chart_names_what_each_entry_is_compared_with():
    pois = {"count": Estimate(0.7, 0.5, 0.9), "count-61k": Estimate(1.0, 1.0, 1.0)}
    colors = plots.palette(["count", "count-61k", "none", "none-61k"])
    fig = plots.poi_chart(pois, "none", "t", colors, {"count-61k": "none-61k"})
    right = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert right == ["none", "none-61k"]  # not "none" for the 61k variant
    ax = fig.axes[0]
    points = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert [float(ln.get_xdata()[0]) for ln in points] == [0.7, 1.0]  # zero width still drawn
    assert ax.get_xlim()[1] > 1.0  # a point at 1 is not cut by the panel's edge
    plt.close(fig)
