"""The report's tables: each suite's headline (aggregate metrics, probability of improvement)
with the leaderboard rows behind leaderboard.csv, and the per-task raw-score, coverage and
cost tables."""

from __future__ import annotations

from typing import Any

import pandas as pd

from explore_bench.report import plots, stats
from explore_bench.report.context import Context, fmt, fmt_est, interval, slug
from explore_bench.report.figures import agent_plots
from explore_bench.report.load import normalisation
from explore_bench.report.render import Block, Heading, Para, Table
from explore_bench.report.suites import Suite, eval_curves, score_arrays, success_thresholds


def suite_section(ctx: Context, suite: Suite) -> list[Block]:
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
                row.update(zip((key, f"{key}_lo", f"{key}_hi"), interval(e.get(m))))
            row.update(zip((f"poi_vs_{ctx.baseline}", "poi_lo", "poi_hi"), interval(poi)))
            row.update({"zero_share": zeros, "flags": "; ".join(flags)})
            ctx.rows.append(row)
            cells = {"agent": agent, "bonus": bonus, "runs": f"{arr.shape[0]} x {arr.shape[1]}"}
            cells.update({m: fmt_est(e[m]) for m in metrics})
            if stats.SUCCESS in e:
                cells["Success rate (sparse)"] = fmt_est(e[stats.SUCCESS])
            cells[f"P(bonus > {ctx.baseline})"] = (
                "baseline" if bonus == ctx.baseline else fmt_est(poi) if poi else "n/a"
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
            slug("intervals", suite.name),
            f"Aggregate metrics on {suite.name} (95% stratified-bootstrap intervals).",
        )
    )
    all_bonuses = sorted(ctx.tables.runs["bonus"].unique(), key=str)
    bcolors = plots.palette(all_bonuses)
    for agent, arrays, seeds, _, pois in per_agent:
        blocks += agent_plots(ctx, suite, agent, arrays, seeds, pois, points, bcolors)
    return blocks


def raw_table(runs: pd.DataFrame, cards: dict[str, dict[str, Any]]) -> pd.DataFrame:
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
            "final score (raw)": mean_sd(s),
            "median": fmt(s.median()),
            "min": fmt(s.min()),
            "max": fmt(s.max()),
            "normalised mean": fmt(g["final_norm"].mean())
            if normalisation(cards[task])
            else "n/a (no constants)",
            "success rate": fmt(g["success"].mean()) if cards[task].get("sparse") else "",
            "score from": ",".join(sorted(g["final_source"].unique())),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def mean_sd(s: pd.Series, pct: bool = False) -> str:
    s = s.dropna()
    if s.empty:
        return "n/a"
    f = (lambda x: f"{100 * x:.1f}%") if pct else fmt
    return f(s.mean()) + (f" ± {f(s.std(ddof=1))}" if len(s) > 1 else "")


def coverage_table(runs: pd.DataFrame) -> pd.DataFrame:
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
                **{c: mean_sd(g[c]) for c in cols},
            }
        )
    return pd.DataFrame(rows)


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
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
                "env steps/s": mean_sd(g["sps"]),
                "wall-clock per run (s)": mean_sd(g["wall_s"]),
                "bonus share of run time": mean_sd(g["bonus_share"], pct=True),
            }
        )
    return pd.DataFrame(rows)
