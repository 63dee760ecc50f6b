"""The report's charts: per agent and suite (profiles, improvement, IQM curve) and the
per-task learning curves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explore_bench.reports import plots, stats
from explore_bench.reports.context import Context, slug
from explore_bench.reports.render import Block, Heading, Para
from explore_bench.reports.suites import Suite, common_grid, curve_arrays, on_grid


def agent_plots(
    ctx: Context,
    suite: Suite,
    agent: str,
    arrays: dict[str, np.ndarray],
    seeds: dict[str, dict[str, list[int]]],
    pois: dict[str, stats.Estimate],
    points: pd.DataFrame,
    bcolors: dict[str, plots.Color],
    against: dict[str, str] | None = None,
) -> list[Block]:
    """One agent's profiles, improvement and IQM-curve charts on ``suite``, across bonuses;
    ``against``: what each entry's improvement is measured against, where not the baseline."""
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
            plots.profile_chart,
            (
                stats.performance_profiles(arrays, tau, reps=ctx.small_reps, seed=base_seed),
                tau,
                suite.label,
                title,
                bcolors,
            ),
            slug("profiles", suite.name, agent),
            f"Performance profiles of {agent} on {suite.name}: share of runs scoring above "
            "tau, with 95% bands.",
        )
    )
    if pois:
        blocks.append(
            ctx.plot(
                plots.poi_chart,
                (pois, ctx.baseline, title, bcolors, against),
                slug("poi", suite.name, agent),
                f"Probability that {agent} with a bonus beats {agent} with "
                f"`{ctx.baseline}` (95% intervals; 0.5 = no difference).",
            )
        )
    grid, by_share, cubes = curve_arrays(points, suite, agent, seeds, ctx.tables.cards)
    if cubes:
        xlabel = "share of training" if by_share else "environment steps"
        blocks.append(
            ctx.plot(
                plots.iqm_curve_chart,
                (
                    grid,
                    stats.iqm_curve(cubes, reps=ctx.small_reps, seed=base_seed),
                    xlabel,
                    suite.label,
                    title,
                    bcolors,
                ),
                slug("iqm_curve", suite.name, agent),
                f"IQM of {agent}'s evaluation {suite.label} over {xlabel} (95% bands).",
            )
        )
    else:
        blocks.append(
            Para(f"No IQM curve for {agent}: its runs share fewer than two evaluation points.")
        )
    return blocks


def learning_curve_blocks(ctx: Context, runs: pd.DataFrame) -> list[Block]:
    """Per agent, the per-task learning curves of its finished runs (mean raw evaluation
    score over seeds)."""
    blocks: list[Block] = []
    points = ctx.points
    done_keys = set(
        map(
            tuple,
            runs.loc[runs["finished"], ["task", "agent", "bonus", "seed"]].to_numpy().tolist(),
        )
    )
    keys = map(tuple, points[["task", "agent", "bonus", "seed"]].to_numpy().tolist())
    # A boolean array, never a plain list: an empty list would select no columns instead of
    # no rows (and the next line would fail on a result set without any metrics row).
    points = points.loc[np.array([k in done_keys for k in keys], dtype=bool)]
    bcolors = ctx.colors
    for agent in sorted(points["agent"].unique(), key=str):
        frames = []
        for task in sorted(points.loc[points["agent"] == agent, "task"].unique(), key=str):
            sub = points[(points["agent"] == agent) & (points["task"] == task)]
            # one grid per entry: entries may have different budgets (variants)
            grids = {
                b: common_grid(g, by_fraction=False) for b, g in sub.groupby("bonus", sort=True)
            }
            for (bonus, s), run in sub.groupby(["bonus", "seed"], sort=True):
                grid = grids[bonus]
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
            blocks.append(
                ctx.plot(
                    plots.learning_curves,
                    (
                        pd.concat(frames, ignore_index=True),
                        f"{agent}: evaluation score per task",
                        bcolors,
                        ctx.seed,
                    ),
                    slug("curves", agent),
                    f"Per-task learning curves of {agent}: mean raw evaluation score over seeds, "
                    "95% bootstrap band.",
                )
            )
    return blocks
