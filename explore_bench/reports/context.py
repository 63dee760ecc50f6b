"""What every part of one report build shares: its inputs, the notes and files it collects,
and the number formats of its tables."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from explore_bench.reports import plots, stats
from explore_bench.reports.headline import fmt
from explore_bench.reports.load import Tables
from explore_bench.reports.painter import Painter
from explore_bench.reports.render import Block, Image
from explore_bench.reports.suites import eval_curves


def fmt_est(e: stats.Estimate | None) -> str:
    return "n/a" if e is None else f"{fmt(e.point)} [{fmt(e.lo)}, {fmt(e.hi)}]"


def interval(e: stats.Estimate | None) -> tuple[float, float, float]:
    """(point, lo, hi) of an estimate, NaN throughout when there is none."""
    return (math.nan, math.nan, math.nan) if e is None else (e.point, e.lo, e.hi)


def slug(*parts: str) -> str:
    import re

    return "-".join(re.sub(r"[^A-Za-z0-9._]+", "_", p).strip("_") for p in parts)


@dataclasses.dataclass
class Context:
    """One report build: its inputs and settings, and what its sections collect."""

    tables: Tables
    out: Path
    plot_dir: Path
    baseline: str
    reps: int
    small_reps: int
    seed: int
    notes: list[str]
    files: list[Path]
    rows: list[dict[str, Any]]
    blocks: list[Block]
    #: Plots are drawn only for the formats that show them (md, html).
    draw: bool = True
    #: The ranking section's blocks, one ranked table per suite (shown first on the page).
    ranking: list[Block] = dataclasses.field(default_factory=list)
    #: One colour per entry (bonus or variant), the same in every chart of the report.
    colors: dict[str, plots.Color] = dataclasses.field(default_factory=dict)
    #: Draws the charts (in worker processes where the machine has the cores).
    painter: Painter | None = None

    @functools.cached_property
    def points(self) -> pd.DataFrame:
        """Every run's evaluation points (`suites.eval_curves`), computed once per report."""
        return eval_curves(self.tables.curves)

    def entry_label(self, entry: str) -> str:
        """``entry``, or for a variant ``name (bonus: overrides)``."""
        runs = self.tables.runs
        mine = runs[runs["bonus"] == entry]
        if "overrides" not in runs or mine.empty or not str(mine["overrides"].iloc[0]):
            return entry
        return f"{entry} ({mine['method'].iloc[0]}: {mine['overrides'].iloc[0]})"

    def plot(
        self, make: Callable[..., Figure], args: tuple[Any, ...], stem: str, caption: str
    ) -> Image:
        """The chart ``make(*args)``, drawn by the painter (now or on another core), as
        ``stem``.png and .svg; its image block."""
        if self.painter is None:
            self.painter = Painter(self.plot_dir, workers=1)
        self.painter.submit(make, args, stem)
        paths = [self.plot_dir / f"{stem}.png", self.plot_dir / f"{stem}.svg"]
        self.files += paths
        return Image(paths[0], caption)
