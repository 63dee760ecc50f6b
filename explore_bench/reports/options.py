"""The options of `main_report`, checked before anything is read or written.

The same checks serve the ``report`` command's flags and a matrix spec's ``[report]``
table, so that a bad value in a spec stops the matrix before its first cell, not after
the last one. Free of pandas and torch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
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
    if "published" in options and options["published"] is not None:
        published_figures(options["published"], name("published"))


#: A published figure's ``measure`` -> the per-run column of the report's run table that
#: holds it (`load._run_row`): the card's final score, the argmax policy's evaluation, the
#: training episodes' return; each a mean over the final window.
MEASURES = {"final": "final_raw", "final_mode": "final_mode", "train_return": "train_return"}

_FIGURE_KEYS = {
    "entry": "the results' entry (bonus or variant name) the figure is held against",
    "value": "the published number",
    "measure": "which of our measures it is compared on: " + ", ".join(MEASURES),
    "source": "where it is published (paper, table or figure)",
    "read_off": "true: read off a plotted curve (printed with '≈')",
    "context": "true: another agent or setting, shown beside ours, never judged",
    "agent": "the agent it is held against (default: every agent that ran the entry)",
    "margin": "equivalence margin: 'reproduced' when our interval lies within value ± margin",
    "steps": "the environment steps it was measured at (a note where our budget differs)",
}
_REQUIRED = ("entry", "value", "measure", "source")


@dataclasses.dataclass(frozen=True)
class Published:
    """One published figure to hold our runs against (a ``[report.published]`` item)."""

    #: The task it was measured on (a protocol card's name).
    task: str
    #: The entry of our results it corresponds to (a bonus or variant name).
    entry: str
    #: The published number.
    value: float
    #: The measure it uses: a key of `MEASURES`.
    measure: str
    #: Paper, table or figure it comes from.
    source: str
    #: Read off a plotted curve, not printed in a table (shown with "≈").
    read_off: bool = False
    #: Another agent or setting: shown beside ours for context, never given a verdict.
    context: bool = False
    #: The agent to compare with; "" for every agent that ran the entry.
    agent: str = ""
    #: Equivalence margin (same units as value); NaN when none is stated.
    margin: float = math.nan
    #: Environment steps the figure was measured at; 0 when not stated.
    steps: int = 0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def published_figures(table: Any, name: str = "published") -> tuple[Published, ...]:
    """The figures of a ``published`` table (task -> list of figure tables), checked; a
    `ConfigError` naming the first bad task, figure, key or value and what is valid."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{name} must be a table of task name -> list of figures, got {table!r}")
    out = []
    for task, figures in table.items():
        if not isinstance(task, str) or not task:
            raise ConfigError(f"{name}: task names must be non-empty strings, got {task!r}")
        if not isinstance(figures, list | tuple):
            raise ConfigError(
                f"{name}[{task!r}] must be a list of figure tables ({{ entry = ..., value = ..."
                f", measure = ..., source = ... }}), got {figures!r}"
            )
        for i, figure in enumerate(figures):
            out.append(_figure(task, figure, f"{name}[{task!r}][{i}]"))
    return tuple(out)


def _figure(task: str, figure: Any, where: str) -> Published:
    valid = "; ".join(f"{k}: {doc}" for k, doc in _FIGURE_KEYS.items())
    if not isinstance(figure, Mapping):
        raise ConfigError(
            f"{where} must be a table with keys {', '.join(_REQUIRED)}, got {figure!r}"
        )
    unknown = [k for k in figure if k not in _FIGURE_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {valid}")
    missing = [k for k in _REQUIRED if k not in figure]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r} ({_FIGURE_KEYS[missing[0]]})")
    for key in ("entry", "source"):
        if not isinstance(figure[key], str) or not figure[key].strip():
            raise ConfigError(f"{where}: {key} must be a non-empty string, got {figure[key]!r}")
    if not _number(figure["value"]):
        raise ConfigError(f"{where}: value must be a finite number, got {figure['value']!r}")
    if not isinstance(figure["measure"], str) or figure["measure"] not in MEASURES:
        raise ConfigError(
            f"{where}: measure {figure['measure']!r} is not one of {', '.join(MEASURES)}"
        )
    for key in ("read_off", "context"):
        if not isinstance(figure.get(key, False), bool):
            raise ConfigError(f"{where}: {key} must be true or false, got {figure[key]!r}")
    if not isinstance(figure.get("agent", ""), str):
        raise ConfigError(f"{where}: agent must be an agent name, got {figure['agent']!r}")
    margin = figure.get("margin", math.nan)
    if "margin" in figure and not (_number(margin) and margin > 0):
        raise ConfigError(f"{where}: margin must be a positive number, got {margin!r}")
    steps = figure.get("steps", 0)
    if "steps" in figure and not (_number(steps) and isinstance(steps, int) and steps > 0):
        raise ConfigError(f"{where}: steps must be a positive integer, got {steps!r}")
    return Published(
        task=task,
        entry=figure["entry"],
        value=float(figure["value"]),
        measure=figure["measure"],
        source=figure["source"],
        read_off=figure.get("read_off", False),
        context=figure.get("context", False),
        agent=figure.get("agent", ""),
        margin=float(margin),
        steps=steps,
    )


def read_published_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``published`` table of a TOML file: its ``[report.published]`` table (a matrix
    spec serves as is), its ``[published]`` table, or else the whole file (task -> figures)."""
    where = f"--published {str(path)!r}"
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    report = data.get("report")
    if isinstance(report, Mapping) and "published" in report:
        table, key = report["published"], "[report.published]"
    elif "published" in data:
        table, key = data["published"], "[published]"
    else:
        table, key = data, "published"
    published_figures(table, f"{where}: {key}")
    return dict(table)
