"""(11) `explore-bench report` (issue 27): where a leaderboard's time went, measured as ratios.

- ``report-bootstrap``: the report's aggregates (IQM, mean, median, optimality gap, success
  rate; 50,000 stratified-bootstrap resamples) of one entry on a suite of 7 tasks x 5 seeds,
  the shape of results/evidence's "all tasks" suite, by `explore_bench.reports.stats`
  (vectorised, the same resamples) vs rliable's `get_interval_estimates` (one Python call of
  the statistic per resample). Entries per second.
- ``report-workers``: `main_report` on results/evidence (385 runs, every format, 34 charts)
  with charts drawn by 2 worker processes vs drawn in place. Runs reported per second of
  wall-clock, imports excluded; on a 2-core machine.

``--quick``: 5,000 resamples, and the 27-run tree of tests/data for the report.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._harness import ROOT, Measure, Pair

EVIDENCE = ROOT / "results" / "evidence"
SMALL = ROOT / "tests" / "data" / "report_tree"


def _scores() -> np.ndarray:
    rng = np.random.default_rng(0)
    scores = rng.random((5, 7))
    scores[scores < 0.5] = 0.0  # sparse tasks: many zeros, as in the evidence
    return scores


def aggregates(engine: str, reps: int) -> dict[str, Any]:
    """One entry's aggregates with intervals, by ``engine`` ("vectorised" or "rliable")."""
    from rliable import library as rly

    from explore_bench.reports import stats

    scores = _scores()
    thresholds = np.full(scores.shape[1], 0.5)
    start, cpu = time.perf_counter(), time.process_time()
    if engine == "vectorised":
        stats.aggregates({"e": scores}, reps=reps, success_thresholds=thresholds)
    else:
        funcs = list(stats.METRICS.values())

        def func(s: np.ndarray) -> np.ndarray:
            return np.array([*(f(s) for f in funcs), np.mean(s >= thresholds)])

        np.random.seed(0)
        rly.get_interval_estimates({"e": scores}, func, reps=reps)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"sps": 1 / wall, "sps_cpu": 1 / cpu, "wall_s": round(wall, 3)}


def report(workers: int, tree: str) -> dict[str, Any]:
    """`main_report` on ``tree`` with ``workers`` chart processes (1: in place)."""
    from explore_bench.reports import painter
    from explore_bench.reports.build import main_report

    painter.MAX_WORKERS = workers
    with tempfile.TemporaryDirectory(prefix="eb-report-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        summary = main_report(tree, Path(tmp) / "report")
        wall = time.perf_counter() - start
    return {"sps": summary.runs_total / wall, "wall_s": round(wall, 2), "workers": workers}


def pairs(quick: bool) -> list[Pair]:
    reps = 5_000 if quick else 50_000
    tree = str(SMALL if quick or not EVIDENCE.is_dir() else EVIDENCE)
    return [
        Pair(
            key="report-bootstrap",
            title=f"report aggregates, 1 entry x 7 tasks x 5 seeds, {reps} resamples: "
            "vectorised vs rliable's loop",
            a=Measure("vectorised", "report:aggregates", {"engine": "vectorised", "reps": reps}),
            b=Measure("rliable", "report:aggregates", {"engine": "rliable", "reps": reps}),
            target=20.0,
            target_text="vectorised >= 20x rliable's loop (same resamples)",
        ),
        Pair(
            key="report-workers",
            title=f"main_report on {Path(tree).relative_to(ROOT)}: charts on 2 worker "
            "processes vs in place",
            a=Measure("2 workers", "report:report", {"workers": 2, "tree": tree}),
            b=Measure("in place", "report:report", {"workers": 1, "tree": tree}),
            target=1.25,
            target_text="2 workers >= 1.25x in place (2 cores)",
        ),
    ]
