"""(3) The ceiling: a raw gymnasium SyncVectorEnv stepped with pre-drawn random actions,
against our rollout collection alone (``agent.collect_rollout``: policy sampling, buffers,
episode bookkeeping and the batched log-prob/value pass), HalfCheetah-v5, 1 and 8 envs."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks._harness import Measure, Pair

TASK = "HalfCheetah-v5"
ROLLOUT = 2048


def _envs(num_envs: int) -> Any:
    import gymnasium as gym

    return gym.vector.SyncVectorEnv(
        [lambda: gym.make(TASK) for _ in range(num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )


def _figures(rollouts: int, start: float, cpu: float, envs: Any) -> dict[str, Any]:
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    envs.close()
    steps = rollouts * ROLLOUT
    return {"sps": steps / wall, "sps_cpu": steps / cpu, "wall_s": round(wall, 3)}


def raw(num_envs: int, rollouts: int) -> dict[str, Any]:
    envs = _envs(num_envs)
    envs.reset(seed=0)
    per_env = ROLLOUT // num_envs
    space = envs.action_space
    rng = np.random.default_rng(0)
    actions = rng.uniform(space.low, space.high, (per_env, *space.shape)).astype(space.dtype)
    for a in actions:  # warm-up rollout, as ours gets one
        envs.step(a)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(rollouts):
        for a in actions:
            envs.step(a)
    return _figures(rollouts, start, cpu, envs)


def ours(num_envs: int, rollouts: int) -> dict[str, Any]:
    import torch

    from agents.ppo import PPO, PPOConfig
    from bonuses.none import NoBonus
    from explore_bench.runs.shaping import RewardShaper
    from explore_bench.settings.config import ShapingConfig

    torch.manual_seed(0)
    envs = _envs(num_envs)
    bonus = NoBonus(envs.single_observation_space, envs.single_action_space)
    config = PPOConfig(num_steps=ROLLOUT // num_envs)
    agent = PPO(envs, RewardShaper(bonus, ShapingConfig()), config, seed=0)
    agent.collect_rollout()  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(rollouts):
        agent.collect_rollout()
    return _figures(rollouts, start, cpu, envs)


def pairs(quick: bool) -> list[Pair]:
    rollouts = 1 if quick else 8
    return [
        Pair(
            key=f"rollout-{n}env",
            title=f"rollout collection vs raw SyncVectorEnv, HalfCheetah-v5, {n} env"
            f"{'s' if n > 1 else ''}, {rollouts} x {ROLLOUT} steps",
            a=Measure("collect_rollout", "rollout:ours", {"num_envs": n, "rollouts": rollouts}),
            b=Measure("raw env", "rollout:raw", {"num_envs": n, "rollouts": rollouts}),
            target=0.6,
            target_text="rollout >= 60% of raw",
        )
        for n in (1, 8)
    ]
