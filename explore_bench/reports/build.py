"""`explore-bench report`: results directory -> leaderboard.md, index.html, leaderboard.csv, plots.

Per agent, across bonuses (Agarwal et al. 2021): IQM, mean, median and optimality gap with
stratified-bootstrap 95% intervals, performance profiles, probability of improvement over a
baseline bonus, IQM over environment steps, per-task learning curves; plus per-task raw
scores, coverage, cost and completeness tables, and every caveat the data calls for.

This module assembles the page; its parts live beside it: `tables` (suites and tables),
`figures` (charts), `caveats` (warnings, protocol and statistics notes), `render` (Markdown
and HTML).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from explore_bench.reports import audit, caveats, figures, plots, tables
from explore_bench.reports.caveats import ReportWarning
from explore_bench.reports.context import Context
from explore_bench.reports.load import load_results
from explore_bench.reports.options import FORMATS, check_report_options, published_figures
from explore_bench.reports.painter import Painter
from explore_bench.reports.render import (
    Block,
    Contents,
    Heading,
    Para,
    Table,
    to_html,
    to_markdown,
)
from explore_bench.reports.reproduction import reproduction_blocks, reproduction_rows
from explore_bench.reports.separation import separation_markdown
from explore_bench.reports.suites import make_suites

__all__ = ["FORMATS", "ReportSummary", "ReportWarning", "main_report"]


@dataclasses.dataclass(frozen=True)
class ReportSummary:
    """What `main_report` wrote and what it found."""

    out_dir: Path
    #: Every file written (documents and plots).
    files: tuple[Path, ...]
    #: The leaderboard rows (the content of leaderboard.csv).
    table: pd.DataFrame
    #: Caveats, also stated in the report.
    warnings: tuple[str, ...]
    runs_total: int
    runs_finished: int
    runs_failed: int
    runs_unfinished: int
    runs_missing: int
    #: Runs whose metrics.csv is unreadable, or lost or cut short although DONE (listed).
    runs_broken: int = 0
    #: The Reproduction rows (the content of reproduction.csv; empty without ``published``).
    reproduction: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)


_MODE_MEANING = {
    "paper": "each bonus with its paper recipe on top of the agent's defaults",
    "shared": "every bonus under identical agent settings, no paper recipe",
    "unrecorded": "not recorded: runs made before recipe modes, without any paper recipe",
}


def recipe_mode_line(modes: dict[tuple[str, str], str]) -> str:
    """The recipe mode(s) of the entries, for the line above every table."""
    by_mode: dict[str, list[str]] = {}
    for (agent, bonus), mode in sorted(modes.items()):
        by_mode.setdefault(mode, []).append(f"{agent}/{bonus}")
    if len(by_mode) == 1:
        mode = next(iter(by_mode))
        return f"Recipe mode: **{mode}** ({_MODE_MEANING.get(mode, mode)})."
    parts = [f"**{mode}** for {', '.join(by_mode[mode])}" for mode in sorted(by_mode)]
    return "Recipe modes: " + "; ".join(parts) + " (config.json `recipe` of each run)."


def with_recipe_modes(blocks: list[Block], modes: dict[tuple[str, str], str]) -> list[Block]:
    """``blocks`` with the recipe-mode line before every table (no entry mixes modes: the
    loader refuses that)."""
    if not modes:
        return blocks
    line = recipe_mode_line(modes)
    out: list[Block] = []
    for block in blocks:
        if isinstance(block, Table):
            out.append(Para(line))
        out.append(block)
    return out


def _body(ctx: Context, tasks: list[str], gaps: pd.DataFrame) -> list[Block]:
    """The page's sections after the ranking: suites, raw scores, curves, coverage, cost and
    completeness."""
    loaded, runs = ctx.tables, ctx.tables.runs
    body: list[Block] = []
    for suite in make_suites(tasks, loaded.cards):
        body += tables.suite_section(ctx, suite)
    body.append(Heading("Per-task raw scores", 2))
    raw = tables.raw_table(runs, loaded.cards)
    body.append(Table(raw) if not raw.empty else Para("No finished runs."))
    body += figures.learning_curve_blocks(ctx, runs)
    body.append(Heading("Coverage", 2))
    cov = tables.coverage_table(runs)
    body.append(
        Table(cov) if not cov.empty else Para("No run in this result set logged coverage metrics.")
    )
    body.append(Heading("Cost", 2))
    cost = tables.cost_table(runs)
    body.append(Table(cost) if not cost.empty else Para("No finished runs."))
    body.append(
        Para(
            "Steps/s = final env steps / final wall-clock; bonus share = cumulative "
            "`time_bonus_s` / `wall_s` at the end of each run (mean ± sd over runs)."
        )
    )
    body.append(Heading("Completeness", 2))
    n_done = int(runs["finished"].sum())
    expected = len(gaps) + n_done
    body.append(
        Para(
            f"Expected runs (tasks x agents x entries x seeds seen in the directory; a "
            "variant only where it ran): "
            f"{expected}; finished: {n_done}."
        )
    )
    body.append(Table(gaps) if not gaps.empty else Para("Every expected run finished."))

    return body


def _write_reproduction(
    out: Path, results_dir: str | os.PathLike[str], rows: pd.DataFrame, formats: Sequence[str]
) -> list[Path]:
    """reproduction.md (with md) and reproduction.csv (with csv): the Reproduction section
    on its own."""
    written = []
    if "md" in formats:
        blocks = [
            Heading("Reproduction of published figures", 1),
            Para(f"Results: `{Path(results_dir)}`."),
            *reproduction_blocks(rows, level=1)[1:],
        ]
        (out / "reproduction.md").write_text(to_markdown(blocks, out))
        written.append(out / "reproduction.md")
    if "csv" in formats:
        rows.to_csv(out / "reproduction.csv", index=False, float_format="%.10g")
        written.append(out / "reproduction.csv")
    return written


def main_report(
    results_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    baseline: str = "none",
    reps: int = 50_000,
    final_window: float = 0.1,
    formats: Sequence[str] = FORMATS,
    seed: int = 0,
    profile_reps: int = 2_000,
    best_variant: str = "",
    published: Mapping[str, Any] | None = None,
) -> ReportSummary:
    """Write the leaderboard of ``results_dir`` into ``out_dir`` (default DIR/report).

    ``profile_reps`` bootstrap resamples serve profiles, probability of improvement and IQM
    curves (capped at ``reps``). ``best_variant`` (a metric: iqm, mean, median,
    success_rate): add a table of each bonus's best variant by it. ``published``: per task,
    published figures to hold the runs against (`options.published_figures`; the
    "Reproduction" section, reproduction.md and reproduction.csv). Raises `ReportError` when
    the directory holds no runs.
    """
    options = {"reps": reps, "final_window": final_window, "formats": list(formats)}
    check_report_options(
        {**options, "seed": seed, "profile_reps": profile_reps, "published": published}, str
    )
    quoted = published_figures(published) if published else ()
    if best_variant and best_variant not in tables.SELECTION_METRICS:
        raise ValueError(
            f"best_variant {best_variant!r} is not one of {', '.join(tables.SELECTION_METRICS)}"
        )
    loaded = load_results(results_dir, final_window)
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "report"
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    runs = loaded.runs
    gaps = audit.completeness(runs, loaded.declared)
    counts = audit.seed_counts(runs, loaded.declared)
    painter = Painter(plot_dir)
    ctx = Context(
        loaded,
        out,
        plot_dir,
        baseline,
        reps,
        min(profile_reps, reps),
        seed,
        caveats.data_notes(loaded, gaps, counts),
        [],
        [],
        [],
        draw=bool({"md", "html"} & set(formats)),
        colors=plots.palette(sorted(runs["bonus"].unique(), key=str), baseline),
        painter=painter,
    )
    tasks = sorted(runs.loc[runs["finished"], "task"].unique(), key=str)
    n_done = int(runs["finished"].sum())
    try:
        body = _body(ctx, tasks, gaps)
        if best_variant:
            body = tables.best_variant_blocks(ctx, best_variant) + body
        painter.finish()  # every chart is on disk before a page embeds or links it
    finally:
        painter.close()
    # The page leads with the ranking; details, caveats and the protocol follow (issue 19).
    head: list[Block] = [
        Heading("explore-bench leaderboard", 1),
        Para(
            f"Results: `{Path(results_dir)}` — {len(runs)} run directories, {n_done} finished, "
            f"{len(tasks)} tasks, agents: {', '.join(sorted(runs['agent'].unique(), key=str))}, "
            f"entries: {', '.join(sorted(runs['bonus'].unique(), key=str))}."
        ),
        Heading("Ranking", 2),
        Para(tables.RANKING_NOTE),
        *(ctx.ranking or [Para("No finished runs: nothing to rank.")]),
    ]
    reproduction = reproduction_rows(runs, loaded.cards, quoted, reps=reps, seed=seed)
    if quoted:
        head += reproduction_blocks(reproduction)
    head.append(Contents())
    notes = list(dict.fromkeys(caveats.sentence(n) for n in ctx.notes))
    tail = [
        *caveats.warning_blocks(notes),
        *caveats.protocol_blocks(loaded, final_window, reps, ctx.small_reps, seed, baseline),
    ]
    blocks = with_recipe_modes(head + body + tail, loaded.modes)
    table = pd.DataFrame(ctx.rows)
    if "md" in formats:
        (out / "leaderboard.md").write_text(to_markdown(blocks, out))
        ctx.files.append(out / "leaderboard.md")
        (out / "separation.md").write_text(
            f"# Separation from `{baseline}`\n\nResults: `{Path(results_dir)}`.\n\n"
            + separation_markdown(table, baseline, loaded.cards)
        )
        ctx.files.append(out / "separation.md")
    if quoted:
        ctx.files += _write_reproduction(out, results_dir, reproduction, formats)
    if "html" in formats:
        (out / "index.html").write_text(to_html(blocks, "explore-bench leaderboard"))
        ctx.files.append(out / "index.html")
    if "csv" in formats:
        table.to_csv(out / "leaderboard.csv", index=False, float_format="%.10g")
        ctx.files.append(out / "leaderboard.csv")
    caveats.emit(notes)
    status = runs["status"]
    return ReportSummary(
        out_dir=out,
        files=tuple(ctx.files),
        table=table,
        warnings=tuple(notes),
        runs_total=len(runs),
        runs_finished=n_done,
        runs_failed=int((status == "failed").sum()),
        runs_unfinished=int((status == "unfinished").sum()),
        runs_missing=int((gaps["status"] == "missing").sum()),
        runs_broken=int((status == "broken").sum()),
        reproduction=reproduction,
    )
