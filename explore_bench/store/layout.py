"""The results layout (docs/design.md): ``<root>/<task>/<agent>/<entry>/seed<k>/``, where
the entry is the bonus name or the name of a matrix variant (a named set of overrides).

Kept free of torch so that `report` and `status` can read a results tree cheaply.
"""

from __future__ import annotations

import csv
import gzip
import json
import zlib
from pathlib import Path
from typing import IO, Any

#: A run's metrics table, one row per agent iteration, as the runner writes it.
METRICS_CSV = "metrics.csv"
#: The same table gzip-compressed (``explore-bench compact``): how finished runs are kept in
#: a results tree that is committed (2.3x smaller lossless, 3.5x with 9-digit numbers).
METRICS_GZ = "metrics.csv.gz"
#: The cells of the matrix last run into a results root, ``{"cells": [[task, agent, entry,
#: seed], ...]}``, written by `explore-bench matrix` beside its spec copy: the runs a report
#: of that root expects, variants on the tasks they have not reached yet included.
MATRIX_CELLS = "cells.json"


def metrics_path(run_dir: Path) -> Path:
    """The run's metrics file: the compressed one where it exists, else metrics.csv."""
    compressed = Path(run_dir) / METRICS_GZ
    return compressed if compressed.is_file() else Path(run_dir) / METRICS_CSV


def open_table(path: Path) -> IO[str]:
    """A CSV file opened as text for `csv` readers, gzip-compressed or not (by its suffix)."""
    if Path(path).suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8")
    return open(path, newline="", encoding="utf-8")


def safe_name(name: str) -> str:
    """A task/plugin name as one path component ("/" and ":" are not allowed there).

    Names come from specs and plugins, so the component must stay where it is put: "",
    "." and ".." (which would climb out of the results tree) are refused.
    """
    part = name.replace("/", "__").replace(":", "--").replace("\\", "__")
    if part in ("", ".", "..") or "\x00" in part:
        from explore_bench.errors import ConfigError

        raise ConfigError(f"{name!r} cannot name a directory of the results tree")
    return part


def name_from_path(part: str) -> str:
    """The inverse of `safe_name` (for names without "__" or "--" of their own)."""
    return part.replace("__", "/").replace("--", ":")


def run_dir_for(root: Path, run: Any, entry: str | None = None) -> Path:
    """<root>/<task>/<agent>/<entry>/seed<k> for a run's settings (task, agent, bonus, seed);
    the entry is ``entry`` (a variant's name) or else the bonus."""
    return (
        Path(root)
        / safe_name(run.task)
        / safe_name(run.agent)
        / safe_name(entry or run.bonus)
        / f"seed{run.seed}"
    )


def done_problem(run_dir: Path) -> str:
    """Why a run marked DONE cannot be trusted as finished ("" when it can): its metrics
    table missing, unreadable, or shorter than the run that DONE and config.json describe.

    Every file is read as untrusted data; DONE written before it recorded the row count
    (a bare timestamp) is checked against the budget in config.json only.
    """
    run_dir = Path(run_dir)
    metrics = metrics_path(run_dir)
    if not metrics.is_file():
        return f"DONE but {METRICS_CSV} is missing"
    name = metrics.name
    try:
        with open_table(metrics) as fh:
            rows = list(csv.DictReader(fh))
        last = int(rows[-1]["env_steps"]) if rows else None
    except (
        OSError,
        EOFError,
        zlib.error,
        UnicodeDecodeError,
        csv.Error,
        KeyError,
        TypeError,
        ValueError,
    ):
        return f"DONE but {name} cannot be read (not a metrics table, or cut mid-row)"
    if last is None:
        return f"DONE but {name} holds no rows"
    expected_rows, budget = _json_field(run_dir / "DONE", "rows"), None
    config = _json_field(run_dir / "config.json", "run")
    if isinstance(config, dict):
        budget = config.get("steps")
    if isinstance(expected_rows, int) and len(rows) < expected_rows:
        return f"DONE but {name} holds {len(rows)} of its {expected_rows} rows (truncated)"
    if isinstance(budget, int) and last < budget:
        return f"DONE but {name} ends at env_steps {last} of {budget} (truncated)"
    return ""


def _json_field(path: Path, key: str) -> Any:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data.get(key) if isinstance(data, dict) else None


def read_matrix_cells(root: Path) -> tuple[list[tuple[str, str, str, int]], str]:
    """The (task, agent, entry, seed) keys of ``root``'s `MATRIX_CELLS`, and what is wrong with
    the file ("" when nothing is). No file gives no keys and no problem. The file is data in a
    results tree, so a malformed one is named and its keys are not used."""
    path = Path(root) / MATRIX_CELLS
    if not path.is_file():
        return [], ""
    try:  # an unreadable file gives None, which fails here as a malformed list does
        keys = [(str(t), str(a), str(e), int(s)) for t, a, e, s in _json_field(path, "cells")]
    except (ValueError, TypeError):
        return [], f"{path} is not a list of [task, agent, entry, seed] cells: ignored"
    return keys, ""
