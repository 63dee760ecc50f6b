"""rliable aggregates against hand computations (Agarwal et al. 2021)."""

from __future__ import annotations

import numpy as np
import pytest

from explore_bench.reports import stats

# 4 runs x 3 tasks. Pooled sorted: 0 .5 .5 .5 .5 1 2 3 4 5 6 100; the IQM drops 3 from each
# end -> mean(.5 .5 1 2 3 4) = 11/6. Task means: 3, 27.25, 0.5 -> mean 10.25, median 3.
SCORES = np.array([[0.0, 1.0, 0.5], [2.0, 3.0, 0.5], [4.0, 5.0, 0.5], [6.0, 100.0, 0.5]])


def test_iqm_mean_median_match_hand_computation() -> None:
    est = stats.aggregates({"a": SCORES}, reps=200, seed=0, metrics=("IQM", "Mean", "Median"))
    assert est["a"]["IQM"].point == pytest.approx(11 / 6)
    assert est["a"]["Mean"].point == pytest.approx(10.25)
    assert est["a"]["Median"].point == pytest.approx(3.0)
    for e in est["a"].values():
        assert e.lo <= e.point <= e.hi
        assert e.hi > e.lo  # several runs: the interval has width


def test_optimality_gap_clips_at_one() -> None:
    # min(s, 1) = .2 1 .8 .4 -> mean .6 -> gap .4
    scores = np.array([[0.2, 1.5], [0.8, 0.4]])
    est = stats.aggregates({"a": scores}, reps=200, seed=0, metrics=("Optimality gap",))
    assert est["a"]["Optimality gap"].point == pytest.approx(0.4)


def test_single_run_gives_zero_width_interval() -> None:
    est = stats.aggregates({"a": np.array([[0.3, 0.7]])}, reps=200, seed=0)
    iqm = est["a"]["IQM"]
    assert iqm.lo == iqm.hi == pytest.approx(0.5)


def test_success_rate_uses_per_task_thresholds() -> None:
    scores = np.array([[1.0, 0.0], [0.0, 0.2], [1.0, 0.6]])
    thr = np.array([1.0, 0.5])  # task 0: 2 of 3 succeed; task 1: 1 of 3
    est = stats.aggregates(
        {"a": scores}, reps=200, seed=0, metrics=("IQM",), success_thresholds=thr
    )
    assert est["a"][stats.SUCCESS].point == pytest.approx(0.5)
    none = stats.aggregates(
        {"a": scores},
        reps=50,
        seed=0,
        metrics=("IQM",),
        success_thresholds=np.array([np.nan, np.nan]),
    )
    assert stats.SUCCESS not in none["a"]


def test_probability_of_improvement_oracles() -> None:
    y = np.array([[0.1, 2.0], [0.3, 4.0], [0.2, 3.0]])
    dominant = stats.probability_of_improvement(y + 10.0, y, reps=200, seed=0)
    assert (dominant.point, dominant.lo, dominant.hi) == (1.0, 1.0, 1.0)
    tie = stats.probability_of_improvement(y, y.copy(), reps=200, seed=0)
    assert tie.point == pytest.approx(0.5)
    worse = stats.probability_of_improvement(y, y + 10.0, reps=200, seed=0)
    assert worse.point == 0.0
    # one task: x = 1, 3, 4 against y = 2 -> 2 of 3 pairs won
    part = stats.probability_of_improvement(
        np.array([[1.0], [3.0], [4.0]]), np.array([[2.0]]), reps=200, seed=0
    )
    assert part.point == pytest.approx(2 / 3)


def test_intervals_are_reproducible_and_independent_of_other_entries() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    one = stats.aggregates({"a": a}, reps=300, seed=3)
    two = stats.aggregates({"b": b, "a": a}, reps=300, seed=3)
    assert one["a"] == two["a"]
    other_seed = stats.aggregates({"a": a}, reps=300, seed=4)
    assert other_seed["a"]["IQM"].lo != one["a"]["IQM"].lo


def test_iqm_curve_and_profiles_shapes() -> None:
    cube = np.stack([SCORES, SCORES + 1.0], axis=-1)  # (4, 3, 2)
    curve = stats.iqm_curve({"a": cube}, reps=100, seed=0)
    point, ci = curve["a"]
    assert point == pytest.approx([11 / 6, 11 / 6 + 1.0])
    assert ci.shape == (2, 2)
    tau = np.array([-1.0, 2.5, 1000.0])
    prof, cis = stats.performance_profiles({"a": SCORES}, tau, reps=100, seed=0)["a"]
    assert prof == pytest.approx([1.0, 5 / 12, 0.0])  # 3 4 5 6 100 of the 12 exceed 2.5
    assert cis.shape == (2, 3)


def test_zero_share() -> None:
    assert stats.zero_share(np.array([[0.0, 0.0], [0.0, 1.0]])) == 0.75
