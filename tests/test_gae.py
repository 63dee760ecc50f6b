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
