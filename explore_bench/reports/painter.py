"""Draw and save the report's charts on the machine's cores, while the statistics go on.

Drawing is most of a report's time once the bootstrap is vectorised (matplotlib lays out
text and writes a PNG and an SVG per chart). A `Painter` hands each chart (a function of
`plots` and its data) to a pool of worker processes, so the charts are drawn while the main
process computes the next suite's statistics; with one core it draws each chart in place.
The files are the same either way: each chart is drawn by the same function from the same
data, and `plots.save` writes no timestamps.

Measured (`python -m benchmarks.run --only report`, results/evidence: 385 runs, 34 charts,
the 2-core development machine under a load of 5-6 from other jobs): 1.32x the runs per
second of drawing in place (median of 3 rounds, 0.93-1.35); with the cores to itself the
gain is larger, since the charts are about 60% of the report's CPU time.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from explore_bench.reports import plots

#: Most worker processes a report starts (beyond this, charts wait on memory, not cores).
MAX_WORKERS = 4


def available_cores() -> int:
    """Cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def draw(make: Callable[..., Figure], args: tuple[Any, ...], out_dir: Path, stem: str) -> None:
    """Build a chart with ``make(*args)`` and write it as ``stem``.png and .svg."""
    plots.save(make(*args), out_dir, stem)


class Painter:
    """Draws charts in worker processes (``workers`` >= 2) or in place (1)."""

    def __init__(self, out_dir: Path, workers: int | None = None) -> None:
        self.out_dir = out_dir
        self.workers = min(MAX_WORKERS, available_cores()) if workers is None else workers
        self._pool: cf.ProcessPoolExecutor | None = None
        self._pending: list[tuple[cf.Future[None], tuple[Any, ...]]] = []

    def submit(self, make: Callable[..., Figure], args: tuple[Any, ...], stem: str) -> None:
        """Draw ``make(*args)`` into ``stem``.png / .svg, now or in a worker."""
        if self.workers < 2:
            draw(make, args, self.out_dir, stem)
            return
        if self._pool is None:
            # fork: the workers start with matplotlib already imported (spawn re-imports it)
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
            try:
                self._pool = cf.ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context(method)
                )
            except (OSError, NotImplementedError):  # no processes here (a sandbox): in place
                self.workers = 1
                draw(make, args, self.out_dir, stem)
                return
        future = self._pool.submit(draw, make, args, self.out_dir, stem)
        self._pending.append((future, (make, args, stem)))

    def finish(self) -> None:
        """Wait for every chart; re-raise the first error of a chart. A chart whose worker
        died (killed for memory, say) is drawn again in place."""
        try:
            for future, (make, args, stem) in self._pending:
                try:
                    future.result()
                except cf.process.BrokenProcessPool:
                    draw(make, args, self.out_dir, stem)
        finally:
            self.close()

    def close(self) -> None:
        self._pending = []
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
