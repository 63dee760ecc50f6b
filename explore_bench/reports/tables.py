"""The report's tables: each suite's headline (aggregate metrics, probability of improvement)
with the leaderboard rows behind leaderboard.csv, and the per-task raw-score, coverage and
cost tables."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from explore_bench.reports import headline as ranking
from explore_bench.reports import plots, stats
from explore_bench.reports.budgets import budget_label, budgets, mixed_budgets
from explore_bench.reports.context import Context, fmt, fmt_est, interval, slug
from explore_bench.reports.figures import agent_plots
from explore_bench.reports.load import normalisation, success_threshold
from explore_bench.reports.render import Block, Heading, Para, Table
from explore_bench.reports.suites import Suite, score_arrays, success_thresholds


def suite_section(ctx: Context, suite: Suite) -> list[Block]:
    runs, cards = ctx.tables.runs, ctx.tables.cards
    agents = sorted(runs.loc[runs["finished"] & runs["task"].isin(suite.tasks), "agent"].unique())
    metrics = ["IQM", "Mean", "Median"] + (["Optimality gap"] if suite.normalised else [])
    thresholds = success_thresholds(suite, cards)
    base_seed = stats.seed_for(ctx.seed, suite.name)
    blocks: list[Block] = [Heading(f"Suite: {suite.name} ({suite.label})", 2)]
    scale_note = Para(f"Tasks: {', '.join(f'`{t}`' for t in suite.tasks)}. " + _scale(ctx, suite))
    blocks.append(scale_note)
    headline, estimates_all, per_agent = [], {}, []
    mixed = mixed_budgets(ctx.tables.runs, suite)
    points = ctx.points
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
        against: dict[str, str] = {}
        if ctx.baseline in arrays:
            for bonus, arr in arrays.items():
                base = _baseline_for(ctx, bonus, arrays)
                if bonus != base:
                    against[bonus] = base
                    pois[bonus] = stats.probability_of_improvement(
                        arr,
                        arrays[base],
                        reps=ctx.small_reps,
                        seed=base_seed,
                        name=f"{agent}/{bonus},{base}",
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
                ctx.notes.append(_degenerate_note(label, suite, zeros, raw_arrays[bonus], cards))
            poi = pois.get(bonus)
            method, overrides = _variant_of(ctx, bonus)
            row = {
                "suite": suite.name,
                "scale": suite.label,
                "agent": agent,
                "bonus": bonus,
                "method": method,
                "overrides": overrides,
                "runs_per_task": arr.shape[0],
                "tasks": arr.shape[1],
                "recipe": ctx.tables.modes.get((agent, bonus), ""),
            }
            for m in [*stats.METRICS, stats.SUCCESS]:
                key = m.lower().replace(" ", "_")
                row.update(zip((key, f"{key}_lo", f"{key}_hi"), interval(e.get(m))))
            row.update(zip((f"poi_vs_{ctx.baseline}", "poi_lo", "poi_hi"), interval(poi)))
            row["poi_against"] = against.get(bonus, "")
            row.update({"zero_share": zeros, "flags": "; ".join(flags)})
            row["found_reward"] = found_reward(raw_arrays[bonus], suite, cards)
            ctx.rows.append(row)
            cells = {
                "agent": agent,
                "bonus": ctx.entry_label(bonus),
                "runs": f"{arr.shape[0]} x {arr.shape[1]}",
            }
            if mixed:
                cells["steps"] = budgets(ctx.tables.runs, suite, agent, bonus)
            cells.update({m: fmt_est(e[m]) for m in metrics})
            if stats.SUCCESS in e:
                cells["Success rate (sparse)"] = fmt_est(e[stats.SUCCESS])
            versus = _baseline_for(ctx, bonus, arrays) if ctx.baseline in arrays else ctx.baseline
            vs = f" (vs {versus})" if versus != ctx.baseline else ""
            cells[f"P(bonus > {ctx.baseline})"] = (
                "baseline" if bonus == versus else fmt_est(poi) + vs if poi else "n/a"
            )
            cells["notes"] = "; ".join(flags)
            headline.append((row, cells))
        estimates_all.update(est)
        per_agent.append((agent, arrays, seeds, against, pois))
    ctx.ranking.append(Heading(f"{suite.name} ({suite.label})", 3))
    if not headline:
        none = Para("No (agent, bonus) has finished runs on every task of this suite.")
        ctx.ranking.append(none)
        blocks.append(none)
        return blocks
    ctx.ranking += [scale_note, _ranking_table(suite, headline)]
    blocks.append(Para("This suite's ranked table is in the Ranking section at the top."))
    if not ctx.draw:
        return blocks
    chart_metrics = [
        *metrics,
        *([stats.SUCCESS] if any(stats.SUCCESS in v for v in estimates_all.values()) else []),
    ]
    # the ranking's order (best at the top), each entry labelled with its budget if they differ
    order = sorted(estimates_all, key=lambda k: _rank_key(estimates_all[k]))
    shown = {budget_label(ctx.tables.runs, suite, k): estimates_all[k] for k in order}
    colors = {
        budget_label(ctx.tables.runs, suite, k): ctx.colors[k.split("/", 1)[1]]
        for k in estimates_all
    }
    blocks.append(
        ctx.plot(
            plots.interval_chart,
            (
                shown,
                chart_metrics,
                suite.label,
                f"{suite.name}: aggregate {suite.label}",
                colors,
                {
                    budget_label(ctx.tables.runs, suite, k)
                    for k in estimates_all
                    if _variant_of(ctx, k.split("/", 1)[1])[0] == ctx.baseline
                },
            ),
            slug("intervals", suite.name),
            f"Aggregate metrics on {suite.name} (95% stratified-bootstrap intervals).",
        )
    )
    for agent, arrays, seeds, against, pois in per_agent:
        blocks += agent_plots(
            ctx, suite, agent, arrays, seeds, pois, points, ctx.colors, against=against
        )
    return blocks


def _rank_key(est: dict[str, stats.Estimate]) -> tuple[bool, float]:
    iqm = est["IQM"].point
    return (not math.isfinite(iqm), -iqm if math.isfinite(iqm) else 0.0)


#: Metrics `best_variant_blocks` may select by (leaderboard columns; higher is better).
SELECTION_METRICS = ("iqm", "mean", "median", "success_rate")


def best_variant_blocks(ctx: Context, metric: str) -> list[Block]:
    """Per (suite, agent, bonus), the entry (the plain bonus or one of its variants) with the
    highest ``metric``, and the warning that the choice is optimistic."""
    rows = pd.DataFrame(ctx.rows)
    label = metric.replace("_", " ")
    blocks: list[Block] = [Heading("Best variant per bonus", 2)]
    if rows.empty or not (rows["overrides"].astype(str) != "").any():
        return [*blocks, Para("No variants in this result set: nothing to select.")]
    out = []
    for (suite, agent, method), g in rows.groupby(["suite", "agent", "method"], sort=False):
        if len(g) < 2:
            continue
        best = g.sort_values(metric, ascending=False, na_position="last").iloc[0]
        out.append(
            {
                "suite": suite,
                "agent": agent,
                "bonus": method,
                "best entry": best["bonus"],
                "its overrides": best["overrides"] or "(the bonus's own settings)",
                label: f"{fmt(best[metric])} [{fmt(best[f'{metric}_lo'])}, "
                f"{fmt(best[f'{metric}_hi'])}]",
                "candidates": ", ".join(g["bonus"].astype(str)),
            }
        )
    warning = (
        f"Each bonus's best variant was selected by the {label} point estimate on the same "
        "runs (seeds) that are reported: the selected score is optimistic (the winner of "
        "several noisy estimates is biased upwards). Confirm a selected setting on fresh seeds."
    )
    ctx.notes.append(warning)
    if not out:
        return [*blocks, Para("No bonus has more than one entry in a suite.")]
    return [
        *blocks,
        Para(f"**Selected by {label}** (highest point estimate). {warning}"),
        Table(pd.DataFrame(out), prose=("candidates", "its overrides")),
    ]


RANKING_NOTE = (
    "Ranked within each agent by the IQM of the final score (best in bold); "
    "'≈' marks an entry whose 95% interval overlaps the best's, which these runs cannot tell "
    "apart from it; 'tie' marks a table whose entries all have the same IQM (all runs 0, "
    "say), which ranks nothing. Runs: seeds per task x tasks. Brackets: 95% stratified-bootstrap "
    "interval. Higher is better except the optimality gap."
)


def _ranking_table(suite: Suite, headline: list[tuple[dict[str, Any], dict[str, str]]]) -> Table:
    """The suite's headline cells as one table, ranked within each agent (`headline.rank`)."""
    rows = pd.DataFrame([row for row, _ in headline])
    ranked = ranking.rank(rows.assign(_k=range(len(rows))))
    frame, bold, data = [], [], []
    for _, r in ranked.iterrows():
        cells = headline[int(r["_k"])][1]
        mark = " ≈" if r["tied_with_best"] else ""
        place = "tie" if r["all_tied"] else f"{r['rank']}{mark}"
        frame.append({"rank": place, **cells})
        bold.append(r["rank"] == 1 and not r["all_tied"])
        data.append(
            {"rank": "tie" if r["all_tied"] else str(r["rank"]), "iqm": repr(float(r["iqm"]))}
        )
    return Table(
        pd.DataFrame(frame),
        cls="ranking headline",
        attrs={"suite": suite.name},
        row_keys=("agent",),
        row_data=[
            {**d, "bonus": str(r["bonus"])}
            for d, (_, r) in zip(data, ranked.iterrows(), strict=True)
        ],
        bold=bold,
        prose=("notes", "bonus"),
    )


def _scale(ctx: Context, suite: Suite) -> str:
    """Which scale the suite's scores are on, and why (a raw task may have constants)."""
    if suite.normalised:
        return "Scores normalised with each task's card constants."
    cards = ctx.tables.cards
    lacking = sorted(t for t in cards if normalisation(cards[t]) is None)
    if all(normalisation(cards[t]) is None for t in suite.tasks):
        return "**Raw scores, not normalised** (no normalisation constants in the card)."
    return (
        "**Raw scores, not normalised**: this task's card has constants, but "
        f"{', '.join(f'`{t}`' for t in lacking)} has none, so every task is reported on its "
        "own raw scale."
    )


def found_reward(raw: Any, suite: Suite, cards: dict[str, dict[str, Any]]) -> float:
    """Share of an entry's run x task raw scores on the suite's sparse tasks that show it
    found reward: above what a run collects without it (0, or the random score if higher;
    DeepSea's move costs keep a failing run at or below 0); NaN without sparse tasks."""
    cols = [j for j, t in enumerate(suite.tasks) if cards[t].get("sparse")]
    if not cols:
        return math.nan
    bars = [max(0.0, float(cards[suite.tasks[j]].get("random_score") or 0.0)) for j in cols]
    return float((raw[:, cols] > bars).mean())


def _degenerate_note(
    label: str, suite: Suite, zeros: float, raw: Any, cards: dict[str, dict[str, Any]]
) -> str:
    """The degenerate-IQM warning; says whether any run found reward at all (reached the
    card's success threshold, or beat the random score on a card without one)."""

    def bar(card: dict[str, Any]) -> float:
        thr = success_threshold(card)
        return thr if thr is not None else float(card.get("random_score") or 0.0) + 1e-12

    found = any((raw[:, j] >= bar(cards[t])).any() for j, t in enumerate(suite.tasks))
    head = (
        f"IQM is degenerate for {label} in suite '{suite.name}': {zeros:.0%} of run x task "
        "scores are 0, "
    )
    if found:
        return head + (
            "so the IQM only shows that tie and ignores the runs that found reward; read the "
            "mean and the success rate"
        )
    return head + (
        f"and no run found reward (none of its {raw.size} run x task scores reached the success "
        "threshold), which is all its IQM of 0 says"
    )


def _baseline_for(ctx: Context, entry: str, arrays: dict[str, Any]) -> str:
    """What ``entry`` is compared with: the baseline's variant with the same overrides (e.g.
    count-61k against none-61k: the same budget and settings) if the suite has one, else the
    baseline itself."""
    overrides = _variant_of(ctx, entry)[1]
    if not overrides:
        return ctx.baseline
    for other in arrays:
        if _variant_of(ctx, other) == (ctx.baseline, overrides):
            return other
    return ctx.baseline


def _variant_of(ctx: Context, entry: str) -> tuple[str, str]:
    """(the bonus an entry runs, its overrides label): (entry, "") for a plain bonus."""
    runs = ctx.tables.runs
    mine = runs[runs["bonus"] == entry]
    if "method" not in runs or mine.empty:
        return entry, ""
    return str(mine["method"].iloc[0]), str(mine["overrides"].iloc[0])


def raw_table(runs: pd.DataFrame, cards: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Per (task, agent, entry): the final score's spread, and beside it the other measures
    a published figure may use where runs logged them (`extra_measures`)."""
    done = runs[runs["finished"]]
    extra = extra_measures(done)
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
        row.update({label: mean_sd(g[col]) if g[col].notna().any() else "" for col, label in extra})
        rows.append(row)
    return pd.DataFrame(rows)


def extra_measures(done: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, label) of the measures to show beside the final score: the argmax policy's
    evaluation where a run logged it (a "sampled" card's runs), the training return where a
    final score is an evaluation (else the column would repeat the final score)."""
    shown = [("final_mode", "argmax policy (final_mode)")]
    if (done.get("final_source", pd.Series(dtype=str)) != "ext_return").any():
        shown.append(("train_return", "training episodes (train_return)"))
    return [(c, label) for c, label in shown if c in done and done[c].notna().any()]


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
