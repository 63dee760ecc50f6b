"""(9) EMI at paper batch: TRPO + EMI with the ``emi-mujoco`` preset (Kim et al. 2019: 10 envs
x 5,000 steps = 50,000-step batches, EMI's MuJoCo defaults with the diversity reward), one
iteration on ``explore_bench/SparseHalfCheetah-v0``, through the runner. A = the diversity
kernel on a grid (``bonus.diversity_kernel=grid``, the default: each kernel mean within
``diversity_tol`` of the exact one), B = the dense 50,000 x 50,000 kernel
(``diversity_kernel=dense``, the reference). The target is on A's bonus share of the
iteration's wall-clock (``time_bonus_s / wall_s``: EMI's update plus the reward); the A/B
ratio is the iteration's speed-up."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._common import ours_train
from benchmarks._harness import Measure, Pair, PairResult

TASK = "explore_bench/SparseHalfCheetah-v0"
SHARE_TARGET = 0.2


def iteration(kernel: str, steps: int) -> dict[str, Any]:
    out = ours_train(
        agent="trpo",
        bonus="emi",
        task=TASK,
        steps=steps,
        num_envs=10,
        run_set={"preset": "emi-mujoco"},
        agent_set={"num_steps": steps // 10},
        bonus_set={"diversity_kernel": kernel},
    )
    out["bonus_share"] = out["bonus_s"] / out["wall_s"]
    return out


def share(res: PairResult, side: str = "a") -> float:
    return statistics.median(r["bonus_share"] for r in getattr(res, side))


def pairs(quick: bool) -> list[Pair]:
    steps = 5_000 if quick else 50_000
    return [
        Pair(
            key="emi-trpo",
            title=f"TRPO + EMI (emi-mujoco), SparseHalfCheetah, one {steps:,}-step iteration, "
            "grid vs dense diversity kernel",
            a=Measure("grid", "emi_trpo:iteration", {"kernel": "grid", "steps": steps}),
            b=Measure("dense", "emi_trpo:iteration", {"kernel": "dense", "steps": steps}),
            target=None,
            target_text=f"grid: bonus share of wall-clock <= {SHARE_TARGET:.0%} (issue 16)",
            judge=lambda res: share(res) <= SHARE_TARGET,
        )
    ]


def extra(quick: bool, results: list[PairResult]) -> list[str]:
    lines = [
        "",
        "| kernel | bonus s | rollout s | update s | wall s | bonus share |",
        "|---|---|---|---|---|---|",
    ]
    for res in results:
        for side in ("a", "b"):
            label = getattr(res.pair, side).label
            for r in getattr(res, side):
                lines.append(
                    f"| {label} | {r['bonus_s']:.2f} | {r['rollout_s']:.2f} | {r['update_s']:.2f} "
                    f"| {r['wall_s']:.2f} | {r['bonus_share']:.0%} |"
                )
        lines.append(
            f"\nMedian bonus share: grid {share(res, 'a'):.0%}, dense {share(res, 'b'):.0%}; "
            f"target <= {SHARE_TARGET:.0%}."
        )
    return lines
