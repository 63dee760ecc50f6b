"""An agent runs on its own interfaces (`agents.hooks`), without the harness (issue 13)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.config import UpdateBatch
from agents.ppo import PPO, PPOConfig
from bonuses.base import Transitions
from bonuses.none import NoBonus


class _RecordingShaping:
    """A `Shaping` that returns a fixed intrinsic reward and records what it was given."""

    def __init__(self, bonus: NoBonus, value: float) -> None:
        self.bonus = bonus
        self.value = value
        self.calls: list[tuple[tuple[int, ...], float]] = []

    def __call__(
        self, batch: Transitions, progress: float
    ) -> tuple[torch.Tensor, dict[str, float]]:
        self.calls.append((tuple(batch.ext_rewards.shape), progress))
        return torch.full(batch.ext_rewards.shape, self.value), {"stub": 1.0}

    def state_dict(self) -> dict[str, Any]:
        return {"calls": len(self.calls)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


def _agent(value: float, **kwargs: Any) -> tuple[PPO, _RecordingShaping]:
    torch.manual_seed(0)
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(2)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    shaping = _RecordingShaping(
        NoBonus(envs.single_observation_space, envs.single_action_space), value
    )
    config = PPOConfig(num_steps=32, gamma=0.9, gae_lambda=1.0, norm_adv=False)
    return PPO(envs, shaping, config, seed=1, total_steps=256, **kwargs), shaping


def _returns_of_one_iteration(agent: PPO) -> tuple[torch.Tensor, dict[str, float]]:
    captured: list[UpdateBatch] = []
    agent.update = lambda batch: captured.append(batch) or {}  # type: ignore[method-assign]
    metrics = agent.train_iteration()
    return captured[0].returns[:, 0], metrics


def test_a_shaping_hook_is_called_once_per_rollout_and_its_reward_reaches_the_returns() -> None:
    plain, shaping = _agent(0.0)
    ret0, metrics = _returns_of_one_iteration(plain)
    shifted, _ = _agent(1.0)  # same seed, built after the first run: the same rollout
    ret1, _ = _returns_of_one_iteration(shifted)
    # The hook saw the (T, N) rollout before any return, with the budget share it used.
    assert shaping.calls == [((32, 2), 64 / 256)] and metrics["stub"] == 1.0
    assert shifted.state_dict()["shaper"] == {"calls": 1}
    # Same seed, same rollout: with lambda = 1 the return difference is the discounted sum
    # of the constant intrinsic reward up to the episode end or the rollout's end.
    assert torch.equal(plain.buf_obs, shifted.buf_obs)
    dones = (plain.buf_terminated | plain.buf_truncated).numpy()
    extra = np.zeros((32, 2))
    for n in range(2):
        acc = 0.0
        for t in range(31, -1, -1):
            # after an episode end the sum restarts; at a truncation the bootstrap is V of
            # the final observation, identical in both runs
            acc = 1.0 + (0.0 if dones[t, n] else 0.9 * acc)
            extra[t, n] = acc
    diff = (ret1 - ret0).view(32, 2).numpy()
    assert np.allclose(diff, extra, atol=1e-4)


def test_the_step_reader_decides_the_logged_score() -> None:
    def seven_per_step(
        reward: np.ndarray, infos: Mapping[str, Any], need_info: bool
    ) -> tuple[np.ndarray, Mapping[str, np.ndarray] | None]:
        return np.full_like(reward, 7.0), None

    agent, _ = _agent(0.0, read_step=seven_per_step)
    for _ in range(4):
        agent.collect_rollout()
    assert agent.finished, "CartPole episodes end within 256 steps of a random policy"
    assert all(ret == 7.0 * length for ret, length in agent.finished)
    # the learner's reward is the env's; only the score comes from the reader
    assert torch.all(agent.buf_raw_rewards == 7.0) and torch.all(agent.buf_rewards == 1.0)
