"""RLeXplore's bonus encoder (`grid_encoder = "rllte"`): the network rllte builds, with
PyTorch's default init, reached by the bonuses that name it, and ICM's loss under the
reproduction's settings equal to rllte's ``im_loss + fm_loss``."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import bonuses.icm as icm_module
from bonuses._encoders import GRID_CONV, conv_trunk, rllte_grid_encoder
from bonuses.base import Transitions
from bonuses.e3b import E3B, E3BConfig
from bonuses.icm import ICM, ICMConfig
from bonuses.ngu import NGU, NGUConfig
from bonuses.ride import RIDE, RIDEConfig

GRID = gym.spaces.Box(0, 10, (3, 7, 7), np.uint8)
ACT = gym.spaces.Discrete(7)


def test_rllte_encoder_computes_minigrid_encoder_layer_by_layer() -> None:
    """Oracle: rllte's MinigridEncoder written out with functional ops (minigrid_encoder.py:
    three 2x2 convs 16/32/64 with ReLU, flatten, Linear 512, ReLU) on the same weights."""
    torch.manual_seed(0)
    net, width = rllte_grid_encoder((3, 7, 7))
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    (linear,) = [m for m in net if isinstance(m, nn.Linear)]
    assert width == 512 and [c.out_channels for c in convs] == [16, 32, 64]
    assert all(c.kernel_size == (2, 2) and c.stride == (1, 1) for c in convs)
    assert all(c.padding == (0, 0) for c in convs)
    x = torch.randint(0, 11, (5, 3, 7, 7)).float() / 255.0
    h = x
    for conv in convs:
        h = F.relu(F.conv2d(h, conv.weight, conv.bias))
    expected = F.relu(F.linear(h.reshape(5, -1), linear.weight, linear.bias))
    assert h.shape[1:] == (64, 4, 4)
    torch.testing.assert_close(net(x), expected)


def test_rllte_encoder_keeps_pytorch_default_init() -> None:
    """rllte's class takes no init argument: kaiming-uniform weights within 1/sqrt(fan_in)
    and uniform biases, none of them the zeros an orthogonal init would leave."""
    torch.manual_seed(1)
    net, _ = rllte_grid_encoder((3, 7, 7))
    for m in net:
        if isinstance(m, nn.Conv2d | nn.Linear):
            bound = 1.0 / math.sqrt(m.weight[0].numel())
            assert m.weight.abs().max() <= bound + 1e-7
            assert m.weight.abs().max() > 0.9 * bound  # uniform over the whole range
            assert m.bias is not None and m.bias.abs().min() > 0.0


@pytest.mark.parametrize(
    ("cls", "config"),
    [
        (ICM, ICMConfig(grid_encoder="rllte", hidden_dim=512)),
        (E3B, E3BConfig(grid_encoder="rllte", feature_dim=512)),
        (RIDE, RIDEConfig(grid_encoder="rllte", feature_dim=512)),
        (NGU, NGUConfig(grid_encoder="rllte", embedding_dim=512)),
    ],
)
def test_bonuses_build_the_encoder_they_name(cls: type, config: object) -> None:
    torch.manual_seed(2)
    bonus = cls(GRID, ACT, config)
    reference, _ = rllte_grid_encoder((3, 7, 7))
    assert [type(m) for m in bonus.encoder] == [type(m) for m in reference]
    obs = torch.randint(0, 11, (4, 3, 7, 7), dtype=torch.uint8)
    assert bonus._features(obs).shape == (4, 512)


def test_default_grid_encoder_and_frames_are_unchanged() -> None:
    """ "ride" keeps the shared grid conv; frames ignore the field (it names a grid's)."""
    default = ICM(GRID, ACT, ICMConfig())
    assert [m.out_channels for m in default.encoder if isinstance(m, nn.Conv2d)] == [
        out for out, *_ in GRID_CONV
    ]
    frames = gym.spaces.Box(0, 255, (4, 42, 42), np.uint8)
    plain, _ = conv_trunk(frames.shape, icm_module.ICM_CONV, nn.ELU)
    chosen, _ = conv_trunk(frames.shape, icm_module.ICM_CONV, nn.ELU, "rllte")
    assert [type(m) for m in chosen] == [type(m) for m in plain]


@pytest.mark.parametrize("config_cls", [ICMConfig, E3BConfig, RIDEConfig, NGUConfig])
def test_unknown_grid_encoder_is_refused_with_the_valid_names(config_cls: type) -> None:
    valid = r"grid_encoder must be one of 'ride', 'rllte', got 'nature'"
    with pytest.raises(ValueError, match=valid):
        config_cls(grid_encoder="nature")


def test_icm_loss_under_the_reproduction_settings_is_rllte_im_plus_fm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Oracle: rllte icm.py update (b0057b3, :219-236): cross-entropy of the inverse model
    plus the per-feature mean squared forward error, weighted 1:1, no clip. The suite's
    ``loss_scale * 20 * ((1 - beta) * CE + beta * 0.5 * feature_scale * MSE)`` with
    beta 0.5, feature_scale 2 and loss_scale 0.1 (reproduce-rlexplore's icm-rlexplore)."""
    config = ICMConfig(
        grid_encoder="rllte", hidden_dim=512, beta=0.5, feature_scale=2.0, loss_scale=0.1,
        grad_clip=0.0, learning_rate=1e-3, epochs=1, num_minibatches=1,
    )  # fmt: skip
    torch.manual_seed(3)
    bonus = ICM(GRID, ACT, config)
    captured = {}

    def capture(optimizer, size, epochs, num_minibatches, loss_fn, **kwargs):  # type: ignore[no-untyped-def]
        captured["loss_fn"], captured["max_grad_norm"] = loss_fn, kwargs["max_grad_norm"]
        return {}

    monkeypatch.setattr(icm_module, "train_minibatches", capture)
    steps, envs = 4, 3
    obs = torch.randint(0, 11, (steps, envs, 3, 7, 7), dtype=torch.uint8)
    next_obs = torch.randint(0, 11, (steps, envs, 3, 7, 7), dtype=torch.uint8)
    actions = torch.randint(0, 7, (steps, envs))
    zeros = torch.zeros(steps, envs)
    batch = Transitions(
        obs=obs, actions=actions, next_obs=next_obs, ext_rewards=zeros,
        terminated=zeros.bool(), truncated=zeros.bool(),
    )  # fmt: skip
    bonus.update(batch)
    idx = torch.arange(steps * envs)
    loss, _ = captured["loss_fn"](idx)

    flat_obs = obs.reshape(-1, 3, 7, 7).float() / 255.0
    flat_next = next_obs.reshape(-1, 3, 7, 7).float() / 255.0
    phi, phi_next = bonus.encoder(flat_obs), bonus.encoder(flat_next)
    one_hot = F.one_hot(actions.reshape(-1), 7).float()
    im_loss = F.cross_entropy(bonus.inverse(torch.cat([phi, phi_next], -1)), actions.reshape(-1))
    fm_loss = (bonus.forward_model(torch.cat([phi, one_hot], -1)) - phi_next).pow(2).mean()
    torch.testing.assert_close(loss, im_loss + fm_loss)
    assert captured["max_grad_norm"] == 0.0  # train_minibatches: not clipped
