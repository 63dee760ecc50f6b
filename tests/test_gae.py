"""GAE against hand computations (Schulman et al. 2016), terminated vs truncated."""

from __future__ import annotations

import pytest
import torch

from agents.fast import gae


def test_gae_matches_hand_computation_with_termination_and_truncation() -> None:
    gamma, lam = 0.9, 0.8
    # env 0: terminated at t=1 (next value ignored), truncated at t=3 (bootstraps V=50).
    # env 1: truncated at t=1, whose final observation is worth 7.
    rewards = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]])
    values = torch.tensor([[10.0, 1.0], [20.0, 1.0], [30.0, 1.0], [40.0, 1.0]])
    next_values = torch.tensor([[20.0, 1.0], [99.0, 7.0], [40.0, 1.0], [50.0, 2.0]])
    terminated = torch.tensor([[0, 0], [1, 0], [0, 0], [0, 0]], dtype=torch.bool)
    truncated = torch.tensor([[0, 0], [0, 1], [0, 0], [1, 0]], dtype=torch.bool)

    adv, ret = gae(rewards, values, next_values, terminated, terminated | truncated, gamma, lam)

    # env 0 by hand: d3 = 4 + .9*50 - 40 = 9; d2 = 3 + .9*40 - 30 = 9; A2 = 9 + .72*9;
    # d1 = 2 - 20 = -18 (terminated, and the recursion stops); d0 = 1 + .9*20 - 10 = 9.
    expected0 = [9 + 0.72 * -18, -18.0, 9 + 0.72 * 9, 9.0]
    # env 1: d3 = .9*2 - 1 = .8; d2 = .9 - 1 = -.1; d1 = .9*7 - 1 = 5.3 (truncated); d0 = -.1
    expected1 = [-0.1 + 0.72 * 5.3, 5.3, -0.1 + 0.72 * 0.8, 0.8]
    assert adv[:, 0].tolist() == pytest.approx(expected0)
    assert adv[:, 1].tolist() == pytest.approx(expected1)
    assert torch.allclose(ret, adv + values)


def test_gae_lambda_one_is_discounted_return_minus_value() -> None:
    rewards = torch.tensor([[1.0], [1.0], [1.0]])
    values = torch.tensor([[0.3], [0.2], [0.1]])
    next_values = torch.tensor([[0.2], [0.1], [5.0]])
    never = torch.zeros(3, 1, dtype=torch.bool)
    adv, ret = gae(rewards, values, next_values, never, never, 0.5, 1.0)
    # Monte-Carlo return bootstrapped at the end: 1 + .5 + .25 + .125 * 5
    assert ret[0, 0].item() == pytest.approx(1 + 0.5 + 0.25 + 0.125 * 5)
    assert adv[0, 0].item() == pytest.approx(ret[0, 0].item() - 0.3)


def _rllte_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    last_values: torch.Tensor,
    terminateds: torch.Tensor,
    truncateds: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """rllte's loop, as written (rllte/xploit/storage/vanilla_rollout_storage.py:134-161):
    its flags are stored a row late (row t + 1 holds step t's), and the value after a
    step is the next row's, the reset observation's at an episode end."""
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    acc = torch.zeros_like(rewards[0])
    for step in reversed(range(steps)):
        next_values = last_values if step == steps - 1 else values[step + 1]
        next_non_terminal = 1.0 - terminateds[step + 1]
        delta = rewards[step] + gamma * next_values * next_non_terminal - values[step]
        acc = delta + gamma * lam * next_non_terminal * acc
        acc = acc * (1.0 - truncateds[step + 1])
        advantages[step] = acc
    return advantages


def test_zeroed_truncated_steps_give_rlltes_time_limit_rule() -> None:
    gen = torch.Generator().manual_seed(0)
    steps, envs, gamma, lam = 48, 6, 0.99, 0.95
    rewards, values = torch.rand(steps, envs, generator=gen), torch.rand(steps, envs, generator=gen)
    last = torch.rand(envs, generator=gen)
    terminated = torch.rand(steps, envs, generator=gen) < 0.08
    truncated = (torch.rand(steps, envs, generator=gen) < 0.08) & ~terminated
    assert truncated.sum() > 5 and terminated.sum() > 5
    # The suite's successor values: the next row's value, V(final obs) at a truncation
    # (whatever it is: the rule never reads it).
    next_values = torch.cat([values[1:], last[None]])
    next_values[truncated] = 1e3
    flags = [torch.cat([torch.zeros(1, envs), f.float()]) for f in (terminated, truncated)]

    adv, ret = gae(
        rewards, values, next_values, terminated, terminated | truncated, gamma, lam, truncated
    )

    expected = _rllte_gae(rewards, values, last, *flags, gamma, lam)
    assert torch.allclose(adv, expected, atol=1e-6)
    assert torch.equal(ret[truncated], values[truncated])  # the step's own value
    plain, _ = gae(rewards, values, next_values, terminated, terminated | truncated, gamma, lam)
    assert not torch.allclose(plain, expected, atol=1e-3)  # bootstrapping differs
