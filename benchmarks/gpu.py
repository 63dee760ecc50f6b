"""(8) PPO + RND on a GPU vs on the CPU, Montezuma's Revenge, in the same run (issue 18).

Both sides are the same run through the runner: ``explore_bench/MontezumaRevenge-modern-v0``,
8 envs x 128 steps, PPO with the Nature CNN and `benchmarks.atari`'s settings, RND with its
defaults (its paper's Atari networks; the first update only fits observation statistics),
evaluation off; A with ``run.device = cuda``, B with ``run.device = cpu`` and one torch
thread. Reported: the steps/s ratio GPU / CPU, and per side the share of wall-clock spent in
the bonus (``time_bonus_s`` / wall). Skipped where torch sees no CUDA device.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks._common import ours_train
from benchmarks._harness import Measure, Pair, PairResult

TASK = "explore_bench/MontezumaRevenge-modern-v0"
NUM_ENVS, NUM_STEPS = 8, 128


def skip_reason() -> str | None:
    """Why the comparison cannot run here, or None."""
    import torch

    return None if torch.cuda.is_available() else "torch sees no CUDA device on this machine"


def run(device: str, steps: int) -> dict[str, Any]:
    return ours_train(
        agent="ppo",
        bonus="rnd",
        task=TASK,
        steps=steps,
        num_envs=NUM_ENVS,
        agent_set=AGENT,
        run_set={"device": device},
    )


#: benchmarks.atari's PPO settings (rl-zoo's Atari PPO with constant schedules).
AGENT: dict[str, Any] = {
    "num_steps": NUM_STEPS,
    "update_epochs": 4,
    "minibatch_size": 256,
    "lr": 2.5e-4,
    "anneal_lr": False,
    "clip_coef": 0.1,
    "ent_coef": 0.01,
    "vf_coef": 1.0,
    "max_grad_norm": 0.5,
    "cnn": "nature",
    "policy_hidden": "()",
    "value_hidden": "()",
}


def pairs(quick: bool) -> list[Pair]:
    if skip_reason() is not None:
        return []
    steps = NUM_ENVS * NUM_STEPS * (2 if quick else 6)
    return [
        Pair(
            key="gpu-ppo-rnd",
            title=f"PPO + RND on cuda vs on cpu, Montezuma (modern protocol), 8 envs, "
            f"{steps} steps",
            a=Measure("cuda", "gpu:run", {"device": "cuda", "steps": steps}),
            b=Measure("cpu", "gpu:run", {"device": "cpu", "steps": steps}),
            target=None,
            target_text="no target (reported)",
        )
    ]


def extra(quick: bool, results: list[PairResult]) -> list[str]:
    """The bonus's share of wall-clock on each side (median over rounds)."""
    lines = ["", "| side | median bonus share of wall-clock | median steps/s |", "|---|---|---|"]
    for res in results:
        for side, runs in (("cuda", res.a), ("cpu", res.b)):
            share = statistics.median(r["bonus_s"] / r["wall_s"] for r in runs)
            sps = statistics.median(r["sps"] for r in runs)
            lines.append(f"| {side} | {share:.1%} | {sps:,.0f} |")
    return lines
