"""(9) EMI at paper batch: TRPO + EMI with the ``emi-mujoco`` preset (Kim et al. 2019: 10 envs
x 5,000 steps = 50,000-step batches, EMI's MuJoCo defaults with the diversity reward), one
iteration on ``explore_bench/SparseHalfCheetah-v0``, through the runner. A = the diversity
kernel on a grid (``bonus.diversity_kernel=grid``, the default: each kernel mean within
``diversity_tol`` of the exact one), B = the dense 50,000 x 50,000 kernel
(``diversity_kernel=dense``, the reference). The target is on A's bonus share of the
iteration's wall-clock (``time_bonus_s`` over rollout + bonus + update time: EMI's update
plus the reward), shown on CPU time as well; the A/B ratio is the run's speed-up, setup
included."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._common import ours_train
from benchmarks._harness import Measure, Pair, PairResult

TASK = "explore_bench/SparseHalfCheetah-v0"
SHARE_TARGET = 0.2


def iteration(kernel: str, steps: int) -> dict[str, Any]:
    import time

    from agents.base import OnPolicyAgent
    from bonuses.emi import EMI

    # CPU seconds inside the bonus and inside the iterations as well (the runner's timers
    # are wall-clock): a check of the share that other processes' load does not distort.
    spent = {"bonus": 0.0, "iteration": 0.0}

    def timed(method: Any, key: str) -> Any:
        def wrapper(self: Any, *args: Any) -> Any:
            start = time.process_time()
            try:
                return method(self, *args)
            finally:
                spent[key] += time.process_time() - start

        return wrapper

    EMI.update = timed(EMI.update, "bonus")  # type: ignore[method-assign]
    EMI.compute = timed(EMI.compute, "bonus")  # type: ignore[method-assign]
    OnPolicyAgent.train_iteration = timed(OnPolicyAgent.train_iteration, "iteration")  # type: ignore[method-assign]
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
    out["iteration_s"] = out["rollout_s"] + out["bonus_s"] + out["update_s"]
    out["bonus_share"] = out["bonus_s"] / out["iteration_s"]
    out["bonus_cpu_s"] = round(spent["bonus"], 3)
    out["bonus_share_cpu"] = spent["bonus"] / spent["iteration"]
    return out


def share(res: PairResult, side: str = "a", key: str = "bonus_share") -> float:
    return statistics.median(r[key] for r in getattr(res, side))


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
        "| kernel | bonus s | rollout s | update s | run wall s | bonus share | bonus CPU s "
        "| bonus share of CPU time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for side in ("a", "b"):
            label = getattr(res.pair, side).label
            for r in getattr(res, side):
                lines.append(
                    f"| {label} | {r['bonus_s']:.2f} | {r['rollout_s']:.2f} | {r['update_s']:.2f} "
                    f"| {r['wall_s']:.2f} | {r['bonus_share']:.0%} | {r['bonus_cpu_s']:.2f} "
                    f"| {r['bonus_share_cpu']:.0%} |"
                )
        lines.append(
            f"\nMedian bonus share of wall-clock: grid {share(res, 'a'):.0%}, dense "
            f"{share(res, 'b'):.0%} (of CPU time: grid {share(res, 'a', 'bonus_share_cpu'):.0%}, "
            f"dense {share(res, 'b', 'bonus_share_cpu'):.0%}); target <= {SHARE_TARGET:.0%}."
        )
    return lines
