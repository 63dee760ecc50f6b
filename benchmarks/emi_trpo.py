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
from benchmarks._harness import Measure, Pair, PairResult, run_measure

TASK = "explore_bench/SparseHalfCheetah-v0"
SHARE_TARGET = 0.2


def iteration(kernel: str, steps: int) -> dict[str, Any]:
    import time

    from agents.base import OnPolicyAgent
    from bonuses.emi import EMI

    # CPU seconds inside the bonus and inside the iterations as well (the runner's timers
    # are wall-clock): a check of the share that other processes' load does not distort.
    spent = {"bonus": 0.0, "reward": 0.0, "iteration": 0.0}

    def timed(method: Any, *keys: str) -> Any:
        def wrapper(self: Any, *args: Any) -> Any:
            start = time.process_time()
            try:
                return method(self, *args)
            finally:
                for key in keys:
                    spent[key] += time.process_time() - start

        return wrapper

    EMI.update = timed(EMI.update, "bonus")  # type: ignore[method-assign]
    EMI.compute = timed(EMI.compute, "bonus", "reward")  # type: ignore[method-assign]
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
    out["compute_s"] = round(spent["reward"], 3)  # CPU s of the diversity reward alone
    out["bonus_share_cpu"] = spent["bonus"] / spent["iteration"]
    return out


def update_step(rows_list: list[int], batch: int = 50_000) -> dict[str, Any]:
    """Seconds per Adam step of EMI's update (emi-mujoco defaults, SparseHalfCheetah spaces)
    at each minibatch size in ``rows_list``: the loss on ``rows`` random rows, its backward
    and the optimiser step, best of 5 repetitions. Tiny minibatches measure the per-step cost
    that does not grow with the rows (dispatch, autograd, Adam); large ones the cost that
    does, which no implementation of the paper's schedule avoids (``floor``, below)."""
    import time

    import torch

    from bonuses.emi import EMI
    from explore_bench.envs.tasks import resolve_task

    env = resolve_task(TASK).make_env()
    bonus = EMI(env.observation_space, env.action_space)
    cfg = bonus.config
    out: dict[str, Any] = {"sps": 1.0, "minibatch": cfg.minibatch_size}
    out["steps"] = cfg.epochs * (batch // cfg.minibatch_size)

    def steps(s: torch.Tensor, a: torch.Tensor, s2: torch.Tensor, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            bonus.train_step(s, a, s2)
        return (time.perf_counter() - start) / n

    for rows in rows_list:
        s = torch.randn(rows, *env.observation_space.shape)
        a = torch.rand(rows, *env.action_space.shape) * 2 - 1
        s2, reps = torch.randn_like(s), max(3, 30_000 // rows)
        steps(s, a, s2, reps)  # warm-up
        times = [steps(s, a, s2, reps) for _ in range(5)]
        out[f"step_s_{rows}"] = min(times)
    return out


def floor(rest_s: float, reward_s: float, batch: int) -> list[str]:
    """The bonus share a zero per-step overhead would leave: EMI's row-proportional update
    work (the cost at 5,120-row steps less the whole cost of a 16-row step, per 512 rows)
    times the update's steps (the paper's 291 at a 50k batch), plus the diversity reward,
    over that plus the rest of the iteration (rollout and TRPO update, from the pair)."""
    kwargs = {"rows_list": [16, 512, 5120], "batch": batch}
    r = run_measure(Measure("update steps", "emi_trpo:update_step", kwargs))
    mb, big = r["minibatch"], 5120
    work = (r[f"step_s_{big}"] - r["step_s_16"]) * mb / big
    lowest = r["steps"] * work + reward_s
    return [
        "",
        f"EMI's update, per Adam step (one process, best of 5): {r['step_s_16'] * 1e3:.2f} ms "
        f"at 16 rows (the per-step cost that does not grow with the rows), "
        f"{r[f'step_s_{mb}'] * 1e3:.2f} ms at the paper's {mb}, "
        f"{r[f'step_s_{big}'] * 1e3 / (big / mb):.2f} ms per {mb} rows at {big}. Work that "
        f"grows with the rows: {work * 1e3:.2f} ms per {mb}-row step, x {r['steps']} steps = "
        f"{r['steps'] * work:.2f} s; with the diversity reward ({reward_s:.2f} s) against the "
        f"rest of the iteration ({rest_s:.2f} s): a bonus share of {lowest / (lowest + rest_s):.0%}"
        " if every per-step overhead were zero.",
    ]


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
        if res.a:
            rest = statistics.median(r["rollout_s"] + r["update_s"] for r in res.a)
            reward = statistics.median(r["compute_s"] for r in res.a)
            lines += floor(rest, reward, 5_000 if quick else 50_000)
    return lines
