"""`explore-bench report`: results directory -> leaderboard.md, index.html, leaderboard.csv, plots.

Per agent, across bonuses (Agarwal et al. 2021): IQM, mean, median and optimality gap with
stratified-bootstrap 95% intervals, performance profiles, probability of improvement over a
baseline bonus, IQM over environment steps, per-task learning curves; plus per-task raw
scores, coverage, cost and completeness tables, and every caveat the data calls for.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explore_bench.report import audit, plots, stats
from explore_bench.report.load import Tables, load_results, normalisation
from explore_bench.report.render import (
    Block,
    Bullets,
    Heading,
    Image,
    Para,
    Table,
    to_html,
    to_markdown,
)
from explore_bench.report.suites import (
    Suite,
    common_grid,
    curve_arrays,
    eval_curves,
    make_suites,
    on_grid,
    score_arrays,
    success_thresholds,
)

FORMATS = ("md", "html", "csv")


class ReportWarning(UserWarning):
    """Something a reader of the report must know (missing runs, degenerate statistics)."""


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


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    a = abs(x)
    return f"{x:.1f}" if a >= 100 else f"{x:.3f}"


def _fmt_est(e: stats.Estimate | None) -> str:
    return "n/a" if e is None else f"{_fmt(e.point)} [{_fmt(e.lo)}, {_fmt(e.hi)}]"


def _interval(e: stats.Estimate | None) -> tuple[float, float, float]:
    """(point, lo, hi) of an estimate, NaN throughout when there is none."""
    return (math.nan, math.nan, math.nan) if e is None else (e.point, e.lo, e.hi)


def _slug(*parts: str) -> str:
    import re

    return "-".join(re.sub(r"[^A-Za-z0-9._]+", "_", p).strip("_") for p in parts)


@dataclasses.dataclass
class _Ctx:
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

    def plot(self, fig: Any, stem: str, caption: str) -> Image:
        paths = plots.save(fig, self.plot_dir, stem)
        self.files += paths
        return Image(paths[0], caption)


def _suite_section(ctx: _Ctx, suite: Suite) -> list[Block]:
    runs, cards = ctx.tables.runs, ctx.tables.cards
    agents = sorted(runs.loc[runs["finished"] & runs["task"].isin(suite.tasks), "agent"].unique())
    metrics = ["IQM", "Mean", "Median"] + (["Optimality gap"] if suite.normalised else [])
    thresholds = success_thresholds(suite, cards)
    base_seed = stats.seed_for(ctx.seed, suite.name)
    blocks: list[Block] = [Heading(f"Suite: {suite.name} ({suite.label})", 2)]
    blocks.append(
        Para(
            f"Tasks: {', '.join(f'`{t}`' for t in suite.tasks)}. "
            + (
                "Scores normalised with each task's card constants."
                if suite.normalised
                else "**Raw scores, not normalised** (no normalisation constants in the card)."
            )
        )
    )
    headline, estimates_all, per_agent = [], {}, []
    points = eval_curves(ctx.tables.curves)
    for agent in agents:
        arrays, seeds, notes = score_arrays(runs, suite, agent)
        raw_arrays = score_arrays(runs, suite, agent, raw=True)[0]
        ctx.notes.extend(notes)
        if not arrays:
            continue
        est = stats.aggregates(
            {f"{agent}/{b}": a for b, a in arrays.items()},
            reps=ctx.reps,
            seed=base_seed,
            metrics=metrics,
            success_thresholds=thresholds,
        )
        pois: dict[str, stats.Estimate] = {}
        if ctx.baseline in arrays:
            for bonus, arr in arrays.items():
                if bonus != ctx.baseline:
                    pois[bonus] = stats.probability_of_improvement(
                        arr,
                        arrays[ctx.baseline],
                        reps=ctx.small_reps,
                        seed=base_seed,
                        name=f"{agent}/{bonus},{ctx.baseline}",
                    )
        elif len(arrays) > 1 or ctx.baseline != "none":
            ctx.notes.append(
                f"baseline bonus {ctx.baseline!r} has no finished runs for agent "
                f"{agent!r} in suite '{suite.name}': no probability of improvement"
            )
        for bonus, arr in arrays.items():
            label = f"{agent}/{bonus}"
            e = est[label]
            flags = []
            if arr.shape[0] == 1:
                flags.append("1 run per task: zero-width intervals")
            # 0 on either scale: a raw 0 is "never found the reward" on a sparse task
            zeros = max(stats.zero_share(arr), stats.zero_share(raw_arrays[bonus]))
            if zeros >= 0.75:
                flags.append(f"IQM degenerate ({zeros:.0%} of raw or normalised scores are 0)")
                ctx.notes.append(
                    f"IQM is degenerate for {label} in suite '{suite.name}': {zeros:.0%} of run x "
                    "task scores are 0, so the IQM only shows that tie and ignores the runs "
                    "that found reward; read the mean and the success rate"
                )
            poi = pois.get(bonus)
            row = {
                "suite": suite.name,
                "scale": suite.label,
                "agent": agent,
                "bonus": bonus,
                "runs_per_task": arr.shape[0],
                "tasks": arr.shape[1],
            }
            for m in [*stats.METRICS, stats.SUCCESS]:
                key = m.lower().replace(" ", "_")
                row.update(zip((key, f"{key}_lo", f"{key}_hi"), _interval(e.get(m))))
            row.update(zip((f"poi_vs_{ctx.baseline}", "poi_lo", "poi_hi"), _interval(poi)))
            row.update({"zero_share": zeros, "flags": "; ".join(flags)})
            ctx.rows.append(row)
            cells = {"agent": agent, "bonus": bonus, "runs": f"{arr.shape[0]} x {arr.shape[1]}"}
            cells.update({m: _fmt_est(e[m]) for m in metrics})
            if stats.SUCCESS in e:
                cells["Success rate (sparse)"] = _fmt_est(e[stats.SUCCESS])
            cells[f"P(bonus > {ctx.baseline})"] = (
                "baseline" if bonus == ctx.baseline else _fmt_est(poi) if poi else "n/a"
            )
            cells["notes"] = "; ".join(flags)
            headline.append(cells)
        estimates_all.update(est)
        per_agent.append((agent, arrays, seeds, est, pois))
    if not headline:
        blocks.append(Para("No (agent, bonus) has finished runs on every task of this suite."))
        return blocks
    blocks.append(
        Table(
            pd.DataFrame(headline),
            cls="headline",
            attrs={"suite": suite.name},
            row_keys=("agent", "bonus"),
        )
    )
    blocks.append(
        Para(
            "Runs: seeds per task x tasks. Brackets: 95% stratified-bootstrap "
            "interval. Higher is better except the optimality gap."
        )
    )
    if not ctx.draw:
        return blocks
    chart_metrics = [
        *metrics,
        *([stats.SUCCESS] if any(stats.SUCCESS in v for v in estimates_all.values()) else []),
    ]
    colors = plots.palette(list(estimates_all))
    blocks.append(
        ctx.plot(
            plots.interval_chart(
                estimates_all,
                chart_metrics,
                suite.label,
                f"{suite.name}: aggregate {suite.label}",
                colors,
            ),
            _slug("intervals", suite.name),
            f"Aggregate metrics on {suite.name} (95% stratified-bootstrap intervals).",
        )
    )
    all_bonuses = sorted(ctx.tables.runs["bonus"].unique(), key=str)
    bcolors = plots.palette(all_bonuses)
    for agent, arrays, seeds, _, pois in per_agent:
        blocks += _agent_plots(ctx, suite, agent, arrays, seeds, pois, points, bcolors)
    return blocks


def _agent_plots(
    ctx: _Ctx,
    suite: Suite,
    agent: str,
    arrays: dict[str, np.ndarray],
    seeds: dict[str, dict[str, list[int]]],
    pois: dict[str, stats.Estimate],
    points: pd.DataFrame,
    bcolors: dict[str, plots.Color],
) -> list[Block]:
    """One agent's profiles, improvement and IQM-curve charts on ``suite``, across bonuses."""
    base_seed = stats.seed_for(ctx.seed, suite.name)
    blocks: list[Block] = [Heading(f"{suite.name} · {agent}", 3)]
    flat = np.concatenate([a.ravel() for a in arrays.values()])
    lo, hi = float(flat.min()), float(flat.max())
    lo, hi = (min(lo, 0.0), max(hi, 1.0)) if suite.normalised else (lo, hi)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    tau = np.linspace(lo, hi, 101)
    title = f"{suite.name} · {agent}"
    blocks.append(
        ctx.plot(
            plots.profile_chart(
                stats.performance_profiles(arrays, tau, reps=ctx.small_reps, seed=base_seed),
                tau,
                suite.label,
                title,
                bcolors,
            ),
            _slug("profiles", suite.name, agent),
            f"Performance profiles of {agent} on {suite.name}: share of runs scoring above "
            "tau, with 95% bands.",
        )
    )
    if pois:
        blocks.append(
            ctx.plot(
                plots.poi_chart(pois, ctx.baseline, title, bcolors),
                _slug("poi", suite.name, agent),
                f"Probability that {agent} with a bonus beats {agent} with "
                f"`{ctx.baseline}` (95% intervals; 0.5 = no difference).",
            )
        )
    grid, by_share, cubes = curve_arrays(points, suite, agent, seeds, ctx.tables.cards)
    if cubes:
        xlabel = "share of training" if by_share else "environment steps"
        blocks.append(
            ctx.plot(
                plots.iqm_curve_chart(
                    grid,
                    stats.iqm_curve(cubes, reps=ctx.small_reps, seed=base_seed),
                    xlabel,
                    suite.label,
                    title,
                    bcolors,
                ),
                _slug("iqm_curve", suite.name, agent),
                f"IQM of {agent}'s evaluation {suite.label} over {xlabel} (95% bands).",
            )
        )
    else:
        blocks.append(
            Para(f"No IQM curve for {agent}: its runs share fewer than two evaluation points.")
        )
    return blocks


def _raw_table(runs: pd.DataFrame, cards: dict[str, dict[str, Any]]) -> pd.DataFrame:
    done = runs[runs["finished"]]
    rows = []
    for (task, agent, bonus), g in done.groupby(["task", "agent", "bonus"], sort=True):
        s = g["final_raw"]
        row = {
            "task": task,
            "agent": agent,
            "bonus": bonus,
            "runs": len(g),
            "seeds": ",".join(str(x) for x in sorted(g["seed"])),
            "final score (raw)": _mean_sd(s),
            "median": _fmt(s.median()),
            "min": _fmt(s.min()),
            "max": _fmt(s.max()),
            "normalised mean": _fmt(g["final_norm"].mean())
            if normalisation(cards[task])
            else "n/a (no constants)",
            "success rate": _fmt(g["success"].mean()) if cards[task].get("sparse") else "",
            "score from": ",".join(sorted(g["final_source"].unique())),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def _mean_sd(s: pd.Series, pct: bool = False) -> str:
    s = s.dropna()
    if s.empty:
        return "n/a"
    f = (lambda x: f"{100 * x:.1f}%") if pct else _fmt
    return f(s.mean()) + (f" ± {f(s.std(ddof=1))}" if len(s) > 1 else "")


def _coverage_table(runs: pd.DataFrame) -> pd.DataFrame:
    cols = sorted(c for c in runs.columns if str(c).startswith("coverage_"))
    done = runs[runs["finished"]]
    if not cols or done[cols].isna().all().all():
        return pd.DataFrame()
    rows = []
    for (task, agent, bonus), g in done.groupby(["task", "agent", "bonus"], sort=True):
        rows.append(
            {
                "task": task,
                "agent": agent,
                "bonus": bonus,
                "runs": len(g),
                **{c: _mean_sd(g[c]) for c in cols},
            }
        )
    return pd.DataFrame(rows)


def _cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (task, agent, bonus), g in runs[runs["finished"]].groupby(
        ["task", "agent", "bonus"], sort=True
    ):
        rows.append(
            {
                "task": task,
                "agent": agent,
                "bonus": bonus,
                "runs": len(g),
                "env steps/s": _mean_sd(g["sps"]),
                "wall-clock per run (s)": _mean_sd(g["wall_s"]),
                "bonus share of run time": _mean_sd(g["bonus_share"], pct=True),
            }
        )
    return pd.DataFrame(rows)


def _protocol_blocks(
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


def main_report(
    results_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    baseline: str = "none",
    reps: int = 50_000,
    final_window: float = 0.1,
    formats: Sequence[str] = FORMATS,
    seed: int = 0,
    profile_reps: int = 2_000,
) -> ReportSummary:
    """Write the leaderboard of ``results_dir`` into ``out_dir`` (default DIR/report).

    ``profile_reps`` bootstrap resamples serve profiles, probability of improvement and IQM
    curves (capped at ``reps``). Raises `ReportError` when the directory holds no runs.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"--format {','.join(bad)} unknown; valid: {', '.join(FORMATS)}")
    if reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps}")
    tables = load_results(results_dir, final_window)
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "report"
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    runs = tables.runs
    gaps = audit.completeness(runs)
    counts = audit.seed_counts(runs)
    ctx = _Ctx(
        tables,
        out,
        plot_dir,
        baseline,
        reps,
        min(profile_reps, reps),
        seed,
        [*tables.warnings, *audit.completeness_warnings(runs, gaps), *audit.seed_warnings(counts)],
        [],
        [],
        [],
        draw=bool({"md", "html"} & set(formats)),
    )
    tasks = sorted(runs.loc[runs["finished"], "task"].unique(), key=str)
    suites = make_suites(tasks, tables.cards)
    raw_tasks = [t for t in tasks if normalisation(tables.cards[t]) is None]
    if raw_tasks:
        ctx.notes.append(
            f"no normalisation constants for {', '.join(raw_tasks)}: scores stay raw (not "
            "normalised) and every task is aggregated on its own"
        )
    if not tasks:
        ctx.notes.append("no finished runs: nothing to aggregate")
    body: list[Block] = []
    for suite in suites:
        body += _suite_section(ctx, suite)
    body.append(Heading("Per-task raw scores", 2))
    raw = _raw_table(runs, tables.cards)
    body.append(Table(raw) if not raw.empty else Para("No finished runs."))
    points = eval_curves(tables.curves)
    done_keys = set(
        map(
            tuple,
            runs.loc[runs["finished"], ["task", "agent", "bonus", "seed"]].to_numpy().tolist(),
        )
    )
    points = points[
        [
            k in done_keys
            for k in map(tuple, points[["task", "agent", "bonus", "seed"]].to_numpy().tolist())
        ]
    ]
    bcolors = plots.palette(sorted(runs["bonus"].unique(), key=str))
    for agent in sorted(points["agent"].unique(), key=str):
        frames = []
        for task in sorted(points.loc[points["agent"] == agent, "task"].unique(), key=str):
            sub = points[(points["agent"] == agent) & (points["task"] == task)]
            grid = common_grid(sub, by_fraction=False)
            for (bonus, s), run in sub.groupby(["bonus", "seed"], sort=True):
                if len(grid):
                    frames.append(
                        pd.DataFrame(
                            {
                                "task": task,
                                "bonus": bonus,
                                "seed": s,
                                "env_steps": grid,
                                "score": on_grid(run, grid, False),
                            }
                        )
                    )
        if frames and ctx.draw:
            body.append(
                ctx.plot(
                    plots.learning_curves(
                        pd.concat(frames, ignore_index=True),
                        f"{agent}: evaluation score per task",
                        bcolors,
                        seed,
                    ),
                    _slug("curves", agent),
                    f"Per-task learning curves of {agent}: mean raw evaluation score over seeds, "
                    "95% bootstrap band.",
                )
            )
    body.append(Heading("Coverage", 2))
    cov = _coverage_table(runs)
    body.append(
        Table(cov) if not cov.empty else Para("No run in this result set logged coverage metrics.")
    )
    body.append(Heading("Cost", 2))
    cost = _cost_table(runs)
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
            f"Expected runs (tasks x agents x bonuses x seeds seen in the directory): "
            f"{expected}; finished: {n_done}."
        )
    )
    body.append(Table(gaps) if not gaps.empty else Para("Every expected run finished."))

    head: list[Block] = [
        Heading("explore-bench leaderboard", 1),
        Para(
            f"Results: `{Path(results_dir)}` — {len(runs)} run directories, {n_done} finished, "
            f"{len(tasks)} tasks, agents: {', '.join(sorted(runs['agent'].unique(), key=str))}, "
            f"bonuses: {', '.join(sorted(runs['bonus'].unique(), key=str))}."
        ),
        *_protocol_blocks(tables, final_window, reps, ctx.small_reps, seed, baseline),
    ]
    notes = list(dict.fromkeys(ctx.notes))
    if notes:
        head += [Heading("Warnings", 2), Bullets(notes)]
    blocks = head + body
    table = pd.DataFrame(ctx.rows)
    if "md" in formats:
        (out / "leaderboard.md").write_text(to_markdown(blocks, out))
        ctx.files.append(out / "leaderboard.md")
    if "html" in formats:
        (out / "index.html").write_text(to_html(blocks, "explore-bench leaderboard"))
        ctx.files.append(out / "index.html")
    if "csv" in formats:
        table.to_csv(out / "leaderboard.csv", index=False, float_format="%.10g")
        ctx.files.append(out / "leaderboard.csv")
    for note in notes:
        warnings.warn(note, ReportWarning, stacklevel=2)
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
    )
