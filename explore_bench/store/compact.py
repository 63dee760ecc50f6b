"""``explore-bench compact``: keep finished runs' metrics gzip-compressed, 9 digits a number.

A MiniGrid run at 1M-3M steps logs 128-400 rows of ~30 columns; at full float precision its
metrics.csv is 50-150 KB, and a matrix of a few hundred such runs is more than a results
tree that is committed to git should hold. Compacting rewrites a finished run's metrics.csv
as metrics.csv.gz with `io.number_cell`'s 9 significant digits (exact for float32) and
removes the plain file. Measured on this repository's committed trees (716 runs, 2026-12-06):
27.4 MB of metrics.csv -> 11.9 MB gzip alone, 7.8 MB with 9 digits.

Only runs marked DONE whose metrics pass `done_problem` are touched, so a run in flight (or
one a matrix will resume) keeps its plain file. The compressed file is written atomically and
read back before the plain one is removed; every reader of the store takes either form
(`layout.metrics_path`).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from pathlib import Path

from explore_bench.errors import ConfigError
from explore_bench.store import io
from explore_bench.store.layout import METRICS_CSV, METRICS_GZ, done_problem, open_table


@dataclasses.dataclass(frozen=True)
class Compacted:
    """What one `compact_tree` call did."""

    #: Runs whose metrics.csv became metrics.csv.gz.
    runs: int
    #: Bytes of those metrics.csv files before, and of their metrics.csv.gz after.
    bytes_before: int
    bytes_after: int
    #: Finished runs left as they were, with the reason (a metrics problem).
    skipped: tuple[str, ...]


def compact_tree(root: Path) -> Compacted:
    """Compact every finished run under ``root``; runs not DONE are left alone."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{str(root)!r} is not a directory: expected a results tree")
    runs = before = after = 0
    skipped: list[str] = []
    for here, dirs, files in os.walk(root):
        dirs.sort()
        if "DONE" not in files or METRICS_CSV not in files:
            continue
        run_dir = Path(here)
        problem = done_problem(run_dir)
        if problem:
            skipped.append(f"{run_dir}: {problem}")
            continue
        size = (run_dir / METRICS_CSV).stat().st_size
        try:
            after += compact_run(run_dir)
        except ValueError as exc:  # a ragged row, or a copy that reads back otherwise
            skipped.append(f"{run_dir}: {exc}")
            continue
        before += size
        runs += 1
    return Compacted(runs, before, after, tuple(skipped))


def compact_run(run_dir: Path) -> int:
    """metrics.csv -> metrics.csv.gz (same header, same rows, numbers to 9 digits); the
    size of the compressed file. The plain file goes only once the new one reads back
    with every cell equal to the old one's to 9 digits."""
    plain, packed = Path(run_dir) / METRICS_CSV, Path(run_dir) / METRICS_GZ
    with open_table(plain) as fh:
        table = list(csv.reader(fh))
    header, *body = table  # every column in every row, so the header's order holds
    ragged = next((i for i, row in enumerate(body, 1) if len(row) != len(header)), None)
    if ragged is not None:
        raise ValueError(f"row {ragged} of {plain.name} does not have the header's columns")
    io.write_csv(packed, [dict(zip(header, map(io.parse_cell, row), strict=True)) for row in body])
    with open_table(packed) as fh:
        again = list(csv.reader(fh))
    if not _same_table(table, again):
        packed.unlink()
        raise ValueError(f"{packed.name} does not read back as {plain.name}: left uncompacted")
    plain.unlink()
    return packed.stat().st_size


def _same_table(old: list[list[str]], new: list[list[str]]) -> bool:
    return len(old) == len(new) and all(
        len(a) == len(b) and all(map(_same, a, b)) for a, b in zip(old, new, strict=True)
    )


def _same(old: str, new: str) -> bool:
    if old == new:
        return True
    try:
        a, b = float(old), float(new)
    except ValueError:
        return False
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-8, abs_tol=0.0)
