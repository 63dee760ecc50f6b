"""What a reader must know beside the numbers: the warnings (missing runs, too few seeds,
raw-scale tasks), and the protocol, normalisation and statistics the report is based on."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from explore_bench.reports import audit
from explore_bench.reports.load import Tables, normalisation
from explore_bench.reports.render import Block, Bullets, Heading, Para, Table


class ReportWarning(UserWarning):
    """Something a reader of the report must know (missing runs, degenerate statistics)."""


def data_notes(tables: Tables, gaps: pd.DataFrame, counts: pd.DataFrame) -> list[str]:
    """The caveats the loaded results call for before any statistic: load problems, missing
    runs, too few seeds, tasks without normalisation constants, nothing finished."""
    runs = tables.runs
    notes = [
        *tables.warnings,
        *audit.completeness_warnings(runs, gaps, tables.declared),
        *audit.seed_warnings(counts),
    ]
    tasks = sorted(runs.loc[runs["finished"], "task"].unique(), key=str)
    raw_tasks = [t for t in tasks if normalisation(tables.cards[t]) is None]
    if raw_tasks:
        notes.append(
            f"no normalisation constants for {', '.join(raw_tasks)}: scores stay raw (not "
            "normalised) and every task is aggregated on its own"
        )
    if not tasks:
        notes.append("no finished runs: nothing to aggregate")
    return notes


def sentence(note: str) -> str:
    """``note`` ending with a full stop, as every warning is printed (CLI, page, summary)."""
    note = note.strip()
    return note if note.endswith((".", "!", "?")) else note + "."


def warning_blocks(notes: list[str]) -> list[Block]:
    """The report's Warnings section (empty without notes)."""
    return [Heading("Warnings", 2), Bullets(notes)] if notes else []


def emit(notes: list[str]) -> None:
    """Repeat every note as a `ReportWarning` for the caller."""
    for note in notes:
        warnings.warn(note, ReportWarning, stacklevel=3)


def protocol_blocks(
    t: Tables, final_window: float, reps: int, small_reps: int, seed: int, baseline: str
) -> list[Block]:
    proto: list[dict[str, Any]] = []
    norm: list[dict[str, Any]] = []
    notes: list[str] = []
    for task in sorted(t.cards, key=str):
        c, s = t.cards[task], t.settings.get(task, {})
        proto.append(
            {
                "task": task,
                "env id": c.get("env_id", ""),
                "budget (steps)": s.get("steps", ""),
                "eval every": s.get("eval_interval") or (s["steps"] // 10 if "steps" in s else ""),
                "eval episodes": s.get("eval_episodes", ""),
                "frame skip": c.get("frame_skip", ""),
                "sticky actions": c.get("sticky_actions", ""),
                "horizon": c.get("horizon", ""),
                "reward clip": c.get("reward_clip", ""),
                "observation": c.get("observation", ""),
                "termination": c.get("termination", ""),
            }
        )
        if c.get("notes"):
            notes.append(f"`{task}`: {c['notes']}")
        pair = normalisation(c)
        norm.append(
            {
                "task": task,
                "random score": c.get("random_score", ""),
                "reference score": c.get("reference_score", ""),
                "reference kind": c.get("reference_kind", ""),
                "scale": "normalised" if pair else "raw (no constants)",
                "sparse": "yes" if c.get("sparse") else "no",
                "success threshold": c.get("success_threshold")
                if c.get("success_threshold") is not None
                else ("> random score" if c.get("sparse") else ""),
            }
        )
    task_notes: list[Block] = [Para("Task notes:"), Bullets(notes)] if notes else []
    return [
        Heading("Protocol and normalisation", 2),
        Para(
            f"**Final score** of a run: the mean evaluation return (raw score) over the "
            f"evaluations in the last {final_window:.0%} of its training steps (runs that "
            "logged no evaluation fall back to training-episode returns, flagged below)."
        ),
        Para(
            "**Normalisation**: `(score - random) / (reference - random)` with the FIXED "
            "constants of each task's protocol card (human scores for Atari), never "
            "statistics of this result set. Tasks are aggregated together only when every "
            "task has constants; otherwise each task is reported on its own, on raw scores, "
            "flagged as not normalised. With constants, sparse and dense tasks also get "
            "separate suites."
        ),
        Para(
            f"**Statistics** (rliable; Agarwal et al. 2021): per agent, across bonuses; "
            f"stratified bootstrap over runs within tasks, 95% percentile intervals, "
            f"{reps} resamples for aggregates and {small_reps} for performance profiles, "
            f"probability of improvement (vs bonus `{baseline}`) and IQM curves; numpy seeded "
            f"with {seed} and each entry's name before each call. IQM = 25% trimmed mean of "
            "all runs x tasks; optimality gap = mean shortfall below 1.0 (normalised suites "
            "only). Sparse tasks show the success rate (final score >= the card's threshold, "
            "or > the random score without one) beside the IQM."
        ),
        Table(pd.DataFrame(proto)),
        *task_notes,
        Table(pd.DataFrame(norm)),
    ]
