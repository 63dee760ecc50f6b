"""The vectorised bootstrap against rliable itself, and the report against today's numbers.

Oracles: `rliable.library` (its stratified bootstrap, one statistic call per resample, with
numpy's global generator seeded as the report seeds it), and the leaderboard.csv the report
wrote for tests/data/report_tree before the bootstrap was vectorised (tests/data/README.md).

Tolerance: point estimates must be identical (both are rliable's functions on the same
scores). Intervals come from the very resamples rliable draws, so they may differ only by
floating-point rounding in a different summation order: 1e-12 absolute, far inside the
Monte-Carlo error of the endpoints themselves (stats module docstring: 0.07 percentage
points of quantile level at 50,000 resamples), which a change of resamples would show.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rliable import library as rly
from rliable import metrics as rlm

from explore_bench.reports import stats
from explore_bench.reports.build import main_report

DATA = Path(__file__).parent / "data"
TOL = 1e-12


def _scores(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Scores with the features that matter: ties, exact zeros, values above 1."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0.4, 0.5, shape), 2)
    x[x < 0.1] = 0.0
    return x


def _rliable(scores: object, func: object, reps: int, seed: int) -> tuple[object, np.ndarray]:
    np.random.seed(seed)
    points, cis = rly.get_interval_estimates({"e": scores}, func, reps=reps)  # type: ignore[arg-type]
    return points["e"], np.asarray(cis["e"])


@pytest.mark.parametrize("shape", [(5, 7), (3, 1), (1, 4), (4, 2)])
def test_aggregates_are_rliables(shape: tuple[int, int]) -> None:
    x = _scores(shape, sum(shape))
    thr = np.full(shape[1], 0.5)
    if shape[1] > 1:
        thr[0] = np.nan  # a task without a success threshold
    got = stats.aggregates({"e": x}, reps=2000, seed=4, success_thresholds=thr)["e"]
    funcs = [*stats.METRICS.values()]
    cols = np.flatnonzero(np.isfinite(thr))

    def func(s: np.ndarray) -> np.ndarray:
        return np.array([*(f(s) for f in funcs), np.mean(s[:, cols] >= thr[cols])])

    points, cis = _rliable(x, func, 2000, stats.seed_for(4, "aggregates", "e"))
    for i, name in enumerate([*stats.METRICS, stats.SUCCESS]):
        assert got[name].point == points[i], name
        assert abs(got[name].lo - cis[0, i]) <= TOL, name
        assert abs(got[name].hi - cis[1, i]) <= TOL, name


@pytest.mark.parametrize("runs", [(5, 5), (3, 5)])
def test_probability_of_improvement_is_rliables(runs: tuple[int, int]) -> None:
    x, y = _scores((runs[0], 3), 1), _scores((runs[1], 3), 2)
    got = stats.probability_of_improvement(x, y, reps=1500, seed=3, name="x,y")
    point, cis = _rliable(
        (x, y), rlm.probability_of_improvement, 1500, stats.seed_for(3, "poi", "x,y")
    )
    assert got.point == point
    assert abs(got.lo - cis[0, 0]) <= TOL and abs(got.hi - cis[1, 0]) <= TOL


def test_profiles_and_iqm_curve_are_rliables() -> None:
    x = _scores((4, 3), 5)
    tau = np.linspace(-0.5, 1.5, 41)
    prof, band = stats.performance_profiles({"e": x}, tau, reps=800, seed=2)["e"]
    np.random.seed(stats.seed_for(2, "profile", "e"))
    want, want_band = rly.create_performance_profile({"e": x}, tau, reps=800)
    np.testing.assert_array_equal(prof, want["e"])
    np.testing.assert_allclose(band, want_band["e"], rtol=0, atol=TOL)

    cube = _scores((4, 3, 6), 6)
    point, curve_band = stats.iqm_curve({"e": cube}, reps=800, seed=2)["e"]

    def per_eval(s: np.ndarray) -> np.ndarray:
        return np.array([rlm.aggregate_iqm(s[..., j]) for j in range(s.shape[-1])])

    want_point, want_curve = _rliable(cube, per_eval, 800, stats.seed_for(2, "iqm_curve", "e"))
    np.testing.assert_array_equal(point, want_point)
    np.testing.assert_allclose(curve_band, want_curve, rtol=0, atol=TOL)


def test_report_matches_todays_leaderboard(tmp_path: Path) -> None:
    """The committed 27-run tree: every number of leaderboard.csv as the report wrote it
    before vectorising (points identical; intervals within TOL, at CSV's 10 digits)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main_report(DATA / "report_tree", tmp_path / "r", formats=("csv",))
    before = pd.read_csv(DATA / "report_tree_leaderboard.csv")
    now = pd.read_csv(tmp_path / "r" / "leaderboard.csv")
    keys = ["suite", "agent", "bonus"]
    assert now[keys].equals(before[keys])
    bounds = [c for c in before.columns if c.endswith(("_lo", "_hi"))]
    points = [c for c in before.select_dtypes("number").columns if c not in bounds]
    pd.testing.assert_frame_equal(now[points], before[points], check_exact=True)
    # CSV keeps 10 significant digits: compare at that precision
    diff = (now[bounds] - before[bounds]).abs().to_numpy()
    scale = np.maximum(before[bounds].abs().to_numpy(), 1.0)
    assert np.nanmax(diff / scale) <= 1e-9
    assert (now[bounds].isna() == before[bounds].isna()).all().all()
