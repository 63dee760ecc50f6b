"""The options of `main_report`, checked before anything is read or written.

The same checks serve the ``report`` command's flags and a matrix spec's ``[report]``
table, so that a bad value in a spec stops the matrix before its first cell, not after
the last one. Free of pandas and torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from explore_bench.errors import ConfigError
from explore_bench.settings.config import MAX_SEED

#: Output formats of the report.
FORMATS = ("md", "html", "csv")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_report_options(
    options: Mapping[str, Any], name: Callable[[str], str] = lambda key: f"--{key}"
) -> None:
    """Raise `ConfigError` naming the first bad option; ``name`` spells an option's key as
    the user wrote it (``--final-window`` on the command line, ``[report] final_window``)."""
    for key in ("reps", "profile_reps"):
        if key in options and not _positive_int(options[key]):
            raise ConfigError(f"{name(key)} must be a positive integer, got {options[key]!r}")
    if "seed" in options:
        seed = options["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"{name('seed')} must be an integer in [0, {MAX_SEED}], got {seed!r}")
    if "final_window" in options:
        window = options["final_window"]
        ok = isinstance(window, int | float) and not isinstance(window, bool)
        if not ok or not math.isfinite(window) or not 0.0 < window <= 1.0:
            raise ConfigError(
                f"{name('final_window')} must be a share of training in (0, 1] (0.1: the "
                f"last 10%), got {window!r}"
            )
    if "baseline" in options and not isinstance(options["baseline"], str):
        raise ConfigError(f"{name('baseline')} must be a bonus name, got {options['baseline']!r}")
    if "formats" in options:
        formats = options["formats"]
        if isinstance(formats, str):
            formats = [f.strip() for f in formats.split(",") if f.strip()]
        if not isinstance(formats, list | tuple) or not all(isinstance(f, str) for f in formats):
            raise ConfigError(f"{name('formats')} must be a list of formats, got {formats!r}")
        bad = [f for f in formats if f not in FORMATS]
        if bad or not formats:
            got = ",".join(bad) if bad else "none"
            raise ConfigError(
                f"{name('formats')} {got!r}: give one or more of {', '.join(FORMATS)} "
                "(comma-separated)"
            )
