"""Wiring one run's parts: the task's vector env, the agent with its bonus inside the reward
shaper, and evaluation episodes. `runner` trains with them; `explore_bench.api.load` and
``explore-bench evaluate`` rebuild a trained agent from its directory with them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from explore_bench.envs.tasks import Task, read_step, resolve_task
from explore_bench.plugins import registry
from explore_bench.runs.shaping import RewardShaper
from explore_bench.settings.config import ResolvedRun
from explore_bench.store import io


def make_vector_env(task: Task, num_envs: int, kind: str = "auto") -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``task``, same-step autoreset; ``kind`` as `RunSettings.vector`."""
    if kind in ("auto", "native") and task.make_native_vector is not None:
        return task.make_native_vector(num_envs)
    if kind == "native":
        raise ValueError(f"task {task.name!r} has no native vector env")
    fns = [task.make_env for _ in range(num_envs)]
    mode = gym.vector.AutoresetMode.SAME_STEP
    if kind == "async":
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)


def evaluate(agent: Any, envs: gym.vector.VectorEnv, seed: int, deterministic: bool) -> np.ndarray:
    """One episode per env of ``envs``; the raw score of each (info["raw_reward"] if given)."""
    obs, _ = envs.reset(seed=seed)
    n = envs.num_envs
    scores, running = np.full(n, np.nan), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        obs, reward, terminated, truncated, infos = envs.step(agent.act(obs, deterministic))
        raw, _ = read_step(reward, infos, False)
        running += np.where(active, raw, 0.0)
        ended = (terminated | truncated) & active
        scores[ended] = running[ended]
        active &= ~ended
    return scores


def build_agent(resolved: ResolvedRun, task: Task, envs: gym.vector.VectorEnv) -> Any:
    """The run's agent on ``envs``, wired to the harness: its bonus inside the reward shaper,
    the task's coverage tracker and the task-aware step reader (see `agents.hooks`)."""
    run = resolved.run
    bonus_cls = registry.bonuses.load(run.bonus)
    bonus = bonus_cls(
        envs.single_observation_space, envs.single_action_space, resolved.bonus, resolved.device
    )
    return registry.agents.load(run.agent)(
        envs,
        RewardShaper(bonus, resolved.shaping),
        resolved.agent,
        seed=run.seed,
        total_steps=run.steps,
        coverage=task.coverage() if task.coverage else None,
        read_step=read_step,
        device=resolved.device,
    )


def restore(run_dir: Path, num_envs: int | None = None) -> tuple[ResolvedRun, Task, Any]:
    """The config, task and agent of a run directory, the agent loaded from its checkpoint.

    ``num_envs`` replaces the run's env count (the acting networks do not depend on it).
    Raises FileNotFoundError when the run has no config.json or no checkpoint yet.
    """
    run_dir = Path(run_dir)
    for name in ("config.json", "checkpoint.pt"):
        if not (run_dir / name).exists():
            raise FileNotFoundError(
                f"{run_dir} has no {name}: not a run directory, or a run that has not "
                "reached its first checkpoint (run.checkpoint_interval)"
            )
    resolved = ResolvedRun.from_dict(json.loads((run_dir / "config.json").read_text()))
    task = resolve_task(resolved.run.task)
    envs = make_vector_env(task, num_envs or resolved.run.num_envs, "sync")
    agent = build_agent(resolved, task, envs)
    agent.load_state_dict(io.load_checkpoint(run_dir / "checkpoint.pt")["agent"])
    return resolved, task, agent


def eval_vector_kind(run: Any) -> str:
    """The vector env kind evaluations run on (one process: never async)."""
    return "sync" if run.vector == "async" else str(run.vector)


def eval_seed(seed: int, iteration: int) -> int:
    """The seed of the evaluation after agent iteration ``iteration`` of a run."""
    return seed + 100_003 * iteration
