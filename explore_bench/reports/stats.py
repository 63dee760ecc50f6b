"""Aggregate statistics with stratified bootstrap intervals, all through rliable.

Agarwal et al., "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021. Scores are
arrays (runs, tasks) of final scores, or (runs, tasks, evals) for curves. rliable resamples
with the global ``np.random`` (its ``random_state`` argument has no effect), so every call
here seeds it first from the report seed and the entry's name: intervals are reproducible,
and adding an entry to a report does not move another entry's interval.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from rliable import library as rly
from rliable import metrics as rlm

#: Metric name -> aggregate over a (runs, tasks) array.
METRICS: dict[str, Callable[[np.ndarray], float]] = {
    "IQM": rlm.aggregate_iqm,
    "Mean": rlm.aggregate_mean,
    "Median": rlm.aggregate_median,
    "Optimality gap": rlm.aggregate_optimality_gap,
}
SUCCESS = "Success rate"


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% stratified-bootstrap interval."""

    point: float
    lo: float
    hi: float


def seed_for(seed: int, *parts: str) -> int:
    """A 32-bit seed that depends on the report seed and on what is being estimated."""
    return (zlib.crc32("\x1f".join(parts).encode()) + seed) % 2**32


def _interval(
    name: str,
    scores: np.ndarray | tuple[np.ndarray, ...],
    func: Callable[..., np.ndarray],
    reps: int,
    seed: int,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    np.random.seed(seed_for(seed, what, name))
    points, cis = rly.get_interval_estimates({name: scores}, func, reps=reps)
    return np.atleast_1d(np.asarray(points[name], dtype=float)), np.asarray(cis[name], float)


def aggregates(
    scores: Mapping[str, np.ndarray],
    *,
    reps: int = 50_000,
    seed: int = 0,
    metrics: Sequence[str] = ("IQM", "Mean", "Median", "Optimality gap"),
    success_thresholds: np.ndarray | None = None,
) -> dict[str, dict[str, Estimate]]:
    """Per entry, each metric in ``metrics`` (and the success rate) with its interval.

    ``success_thresholds`` (tasks,) holds, per task, the score a run must reach (inclusive)
    to succeed, NaN for tasks without one; the success rate pools runs of those tasks.
    """
    funcs = [METRICS[m] for m in metrics]
    names = list(metrics)
    if success_thresholds is not None and np.isfinite(success_thresholds).any():
        cols = np.flatnonzero(np.isfinite(success_thresholds))
        thr = success_thresholds[cols]
        funcs.append(lambda s: float(np.mean(s[:, cols] >= thr)))
        names.append(SUCCESS)

    def func(s: np.ndarray) -> np.ndarray:
        return np.array([f(s) for f in funcs], dtype=float)

    out = {}
    for name, arr in scores.items():
        points, cis = _interval(name, np.asarray(arr, float), func, reps, seed, "aggregates")
        out[name] = {
            m: Estimate(*map(float, (points[i], cis[0, i], cis[1, i]))) for i, m in enumerate(names)
        }
    return out


def probability_of_improvement(
    x: np.ndarray, y: np.ndarray, *, reps: int = 2_000, seed: int = 0, name: str = "x,y"
) -> Estimate:
    """P(X > Y): mean over tasks of P(a random run of X beats one of Y); ties count 1/2."""
    points, cis = _interval(
        name,
        (np.asarray(x, float), np.asarray(y, float)),
        rlm.probability_of_improvement,
        reps,
        seed,
        "poi",
    )
    return Estimate(float(points[0]), float(cis[0, 0]), float(cis[1, 0]))


def performance_profiles(
    scores: Mapping[str, np.ndarray], tau: np.ndarray, *, reps: int = 2_000, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per entry, the fraction of runs with score > tau and its (2, len(tau)) interval."""
    out = {}
    for name, arr in scores.items():
        np.random.seed(seed_for(seed, "profile", name))
        prof, cis = rly.create_performance_profile({name: np.asarray(arr, float)}, tau, reps=reps)
        out[name] = (np.asarray(prof[name]), np.asarray(cis[name]))
    return out


def iqm_curve(
    scores: Mapping[str, np.ndarray], *, reps: int = 2_000, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per entry, the IQM at every evaluation point of a (runs, tasks, evals) array."""

    def per_eval(s: np.ndarray) -> np.ndarray:
        return np.array([rlm.aggregate_iqm(s[..., j]) for j in range(s.shape[-1])])

    return {
        name: _interval(name, np.asarray(arr, float), per_eval, reps, seed, "iqm_curve")
        for name, arr in scores.items()
    }


def zero_share(scores: np.ndarray) -> float:
    """Share of run x task scores that are exactly 0 (from 3/4 on, the IQM is 0)."""
    return float(np.mean(np.isclose(scores, 0.0, rtol=0.0, atol=1e-12)))
