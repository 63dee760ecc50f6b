"""The bonus reaches the advantages: the shaping hook runs before GAE (peers.md, item 1)."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from const_bonus import ConstantBonus, ConstantConfig, NonEpisodicConstant

from agents.config import UpdateBatch
from agents.fast import gae
from agents.ppo import PPO, PPOConfig
from bonuses.none import NoBonus
from explore_bench.runs.shaping import RewardShaper
from explore_bench.settings.config import ShapingConfig


def _captured_batch(
    bonus_cls: type, config: PPOConfig, value: float = 0.5
) -> tuple[UpdateBatch, PPO]:
    torch.manual_seed(3)
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(2)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    kwargs = {"config": ConstantConfig(value=value)} if bonus_cls is not NoBonus else {}
    bonus = bonus_cls(envs.single_observation_space, envs.single_action_space, **kwargs)
    agent = PPO(envs, RewardShaper(bonus, ShapingConfig()), config, seed=11)
    captured: list[UpdateBatch] = []
    agent.update = lambda batch: captured.append(batch) or {}  # type: ignore[method-assign]
    agent.train_iteration()
    envs.close()
    return captured[0], agent


@pytest.mark.parametrize("value", [0.5, -2.0])
def test_constant_bonus_shifts_single_head_advantages_exactly(value: float) -> None:
    cfg = PPOConfig(num_steps=64, gamma=0.97, gae_lambda=0.9)
    base, agent = _captured_batch(NoBonus, cfg)
    shifted, _ = _captured_batch(ConstantBonus, cfg, value)
    dones = agent.buf_terminated | agent.buf_truncated
    assert dones.any(), "the rollout should contain episode ends"
    zeros = torch.zeros(64, 2)
    expected, _ = gae(
        torch.full((64, 2), value), zeros, zeros, agent.buf_terminated, dones, 0.97, 0.9
    )
    assert torch.allclose(shifted.advantages - base.advantages, expected.flatten(0, 1), atol=1e-5)
    assert torch.allclose(
        shifted.returns - base.returns, expected.flatten(0, 1)[:, None], atol=1e-5
    )
    assert not torch.allclose(shifted.advantages, base.advantages)


@pytest.mark.parametrize("bonus_cls", [ConstantBonus, NonEpisodicConstant])
def test_constant_bonus_shifts_intrinsic_head_only(bonus_cls: type) -> None:
    cfg = PPOConfig(
        num_steps=64,
        two_value_heads=True,
        gamma=0.999,
        int_gamma=0.9,
        gae_lambda=0.95,
        ext_coef=2.0,
        int_coef=0.5,
    )
    base, agent = _captured_batch(bonus_cls, cfg, 0.0)  # same episodic-ness, zero bonus
    shifted, _ = _captured_batch(bonus_cls, cfg, 1.0)
    if bonus_cls.episodic:
        term, dones = agent.buf_terminated, agent.buf_terminated | agent.buf_truncated
    else:  # a non-episodic intrinsic return ignores episode ends
        term = dones = torch.zeros(64, 2, dtype=torch.bool)
    zeros = torch.zeros(64, 2)
    int_shift, _ = gae(torch.ones(64, 2), zeros, zeros, term, dones, 0.9, 0.95)
    assert torch.allclose(
        shifted.advantages - base.advantages, 0.5 * int_shift.flatten(0, 1), atol=1e-5
    )
    assert torch.allclose(shifted.returns[:, 0], base.returns[:, 0])
    assert torch.allclose(
        shifted.returns[:, 1] - base.returns[:, 1], int_shift.flatten(0, 1), atol=1e-5
    )
