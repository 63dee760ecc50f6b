"""The grid speed tricks compute what the plain computation computes: `GridConvStack` against
the same layers run as an `nn.Sequential` (values and gradients), `encode_pairs` against
encoding every row, and the bonuses that reuse compute's work in update against a fresh
copy that does not."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from agents.networks import grid_trunk
from bonuses._encoders import GRID_CONV, conv_trunk, encode_pairs
from bonuses._grid_conv import GridConvStack
from bonuses.base import Transitions
from bonuses.noveld import NovelD, NovelDConfig
from bonuses.re3 import RE3

GRID = gym.spaces.Box(0, 10, (3, 7, 7), np.uint8)
ACT = gym.spaces.Discrete(7)


def _stacks() -> list[tuple[str, nn.Module]]:
    torch.manual_seed(0)
    return [
        ("agent trunk", grid_trunk((3, 7, 7))[0]),
        ("agent trunk 9x11", grid_trunk((3, 9, 11))[0]),
        ("bonus grid conv", conv_trunk((3, 7, 7), GRID_CONV, nn.ELU)[0]),
        ("bonus grid conv 9x11", conv_trunk((3, 9, 11), GRID_CONV, nn.LeakyReLU)[0]),
    ]


@pytest.mark.parametrize("batch", [1, 8, 300])
def test_grid_conv_stack_matches_the_plain_sequential_with_gradients(batch: int) -> None:
    for name, stack in _stacks():
        assert isinstance(stack, GridConvStack) and stack._plan is not None, name
        plain = nn.Sequential(*stack)  # the same modules and parameters
        # values 0..3: many equal patches, so max-pool windows hold ties
        x = torch.randint(0, 4, (batch, *stack.input_shape), dtype=torch.uint8)
        inputs = x if name.startswith("agent") else x.float()
        grads = []
        for net in (stack, plain):
            net.zero_grad(set_to_none=True)
            out = net(inputs)
            (out * torch.linspace(-1, 1, out.shape[1])).square().sum().backward()
            grads.append((out.detach(), [p.grad.clone() for p in net.parameters()]))
        (fast, fast_grads), (ref, ref_grads) = grads
        assert fast.shape == ref.shape, name
        assert torch.allclose(fast, ref, rtol=1e-5, atol=1e-5), name
        for a, b in zip(fast_grads, ref_grads, strict=True):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max())), name


def test_grid_conv_stack_keeps_the_state_dict_and_falls_back_off_its_shape() -> None:
    stack = _stacks()[0][1]
    plain = nn.Sequential(*stack)
    assert list(stack.state_dict()) == list(plain.state_dict())
    other = torch.randint(0, 4, (2, 3, 8, 8), dtype=torch.uint8)  # not the planned shape
    assert torch.equal(stack(other), plain(other))


def test_encode_pairs_encodes_each_row_as_encoding_all_rows_would() -> None:
    t, n = 6, 3
    seq = torch.randint(0, 3, (t + 1, n, 4))
    next_obs = seq[1:].clone()
    next_obs[2, 1] = 9  # an episode end: its true final observation
    next_obs[4] = 7
    obs, nxt = seq[:-1].reshape(t * n, 4), next_obs.reshape(t * n, 4)
    calls: list[int] = []

    def encode(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return torch.stack([x.float().sum(-1), x[:, 0].float()], -1)

    feats, feats_next, encoded = encode_pairs(encode, obs, nxt, n)
    assert torch.equal(feats, encode(obs)) and torch.equal(feats_next, encode(nxt))
    # rows 2*3+1 (episode end), 4*3+0..2 (changed) and the last step's 5*3+0..2
    assert encoded.tolist() == [7, 12, 13, 14, 15, 16, 17]
    assert calls[:2] == [t * n, 7]


def _rollout(seed: int, t: int = 16, n: int = 4) -> Transitions:
    gen = torch.Generator().manual_seed(seed)
    seq = torch.randint(0, 4, (t + 1, n, 3, 7, 7), dtype=torch.uint8, generator=gen)
    ends = torch.rand(t, n, generator=gen) < 0.1
    nxt = seq[1:].clone()
    nxt[ends] = 5
    actions = torch.randint(0, 7, (t, n), generator=gen)
    return Transitions(seq[:-1], actions, nxt, torch.zeros(t, n), ends, torch.zeros_like(ends))


@pytest.mark.parametrize("name", ["re3", "noveld"])
def test_update_after_compute_equals_update_alone(name: str) -> None:
    """RE3 and NovelD reuse compute's encodings in update on the same batch: the update
    gives what an update without a compute before it gives."""
    torch.manual_seed(0)
    # NovelD: a predictor step per 32 env steps, so that every update trains
    bonus = RE3(GRID, ACT) if name == "re3" else NovelD(GRID, ACT, NovelDConfig(minibatch_size=32))
    alone = copy.deepcopy(bonus)
    for seed in range(3):
        batch = _rollout(seed)
        bonus.compute(batch)
        torch.manual_seed(seed)  # the same draws for both updates
        metrics = bonus.update(batch)
        torch.manual_seed(seed)
        assert metrics == pytest.approx(alone.update(_rollout(seed)), rel=1e-5)
        for (key, a), b in zip(bonus.state_dict().items(), alone.state_dict().values()):
            if isinstance(a, torch.Tensor):
                assert torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6), key
    if name == "noveld":
        assert metrics["predictor_loss"] > 0  # the predictor trained
