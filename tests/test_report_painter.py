"""Charts drawn in worker processes are the charts drawn in place, and one core suffices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explore_bench.reports import painter, plots
from explore_bench.reports.stats import Estimate


def _charts() -> list[tuple[object, tuple[object, ...], str]]:
    names = ["ppo/count", "ppo/none", "ppo/rnd"]
    est = {
        n: {"IQM": Estimate(0.1 * i, 0.05 * i, 0.2 * i), "Mean": Estimate(0.3, 0.2, 0.4)}
        for i, n in enumerate(names)
    }
    colors = plots.palette(names, "ppo/none")
    grid = np.linspace(0, 50_000, 11)
    curves = {n: (np.linspace(0, 1, 11), np.stack([np.zeros(11), np.ones(11)])) for n in names}
    return [
        (plots.interval_chart, (est, ["IQM", "Mean"], "score", "t", colors, {"ppo/none"}), "a"),
        (plots.iqm_curve_chart, (grid, curves, "steps", "score", "t", colors), "b"),
    ]


def _draw(out: Path, workers: int) -> dict[str, bytes]:
    out.mkdir()
    p = painter.Painter(out, workers=workers)
    for make, args, stem in _charts():
        p.submit(make, args, stem)  # type: ignore[arg-type]
    p.finish()
    return {f.name: f.read_bytes() for f in sorted(out.iterdir())}


def test_workers_write_the_same_files_as_drawing_in_place(tmp_path: Path) -> None:
    here = _draw(tmp_path / "one", 1)
    there = _draw(tmp_path / "two", 2)
    assert sorted(here) == ["a.png", "a.svg", "b.png", "b.svg"]
    assert here == there


def test_one_core_draws_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(painter, "available_cores", lambda: 1)
    p = painter.Painter(tmp_path)
    assert p.workers == 1
    make, args, stem = _charts()[0]
    p.submit(make, args, stem)  # type: ignore[arg-type]
    assert p._pool is None and (tmp_path / "a.png").is_file()  # written before finish
    p.finish()


def test_a_chart_error_in_a_worker_reaches_the_caller(tmp_path: Path) -> None:
    p = painter.Painter(tmp_path, workers=2)
    p.submit(plots.interval_chart, ({}, ["IQM"], "x", "t", {}), "bad")  # no entries: fails
    with pytest.raises((ZeroDivisionError, IndexError, ValueError, KeyError)):
        p.finish()
