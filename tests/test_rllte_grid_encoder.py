"""RLeXplore's bonus encoder (`grid_encoder = "rllte"`): the network rllte builds, with
PyTorch's default init, reached by the bonuses that name it (as the encoder of ICM, E3B,
RIDE and NGU; as the whole network of RND, RE3 and Disagreement), and ICM's loss under the
reproduction's settings equal to rllte's ``im_loss + fm_loss``."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import bonuses.icm as icm_module
from bonuses._encoders import GRID_CONV, conv_trunk, rllte_grid_encoder
from bonuses.base import Transitions
from bonuses.disagreement import Disagreement, DisagreementConfig
from bonuses.e3b import E3B, E3BConfig
from bonuses.icm import ICM, ICMConfig
from bonuses.ngu import NGU, NGUConfig
from bonuses.re3 import RE3, RE3Config
from bonuses.ride import RIDE, RIDEConfig
from bonuses.rnd import RND, RNDConfig
from explore_bench.matrices.spec import load_matrix
from explore_bench.settings.config import config_differences, resolve

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


def _equal_weights(net: nn.Module, reference: nn.Module) -> bool:
    ours, theirs = net.state_dict(), reference.state_dict()
    return [t.shape for t in ours.values()] == [t.shape for t in theirs.values()] and all(
        torch.equal(a, b) for a, b in zip(ours.values(), theirs.values(), strict=True)
    )


def test_rllte_rnd_is_two_bare_encoders_drawn_in_rllte_order() -> None:
    """Oracle: rllte rnd.py:82-83 builds predictor then target, each a MinigridEncoder with
    PyTorch's init; under the same seed the suite's networks are those draws exactly (no
    heads, no orthogonal init)."""
    torch.manual_seed(4)
    bonus = RND(GRID, ACT, RNDConfig(grid_encoder="rllte", obs_normalize=False))
    torch.manual_seed(4)
    predictor, _ = rllte_grid_encoder((3, 7, 7))
    target, _ = rllte_grid_encoder((3, 7, 7))
    assert _equal_weights(bonus.predictor, predictor) and _equal_weights(bonus.target, target)
    obs = torch.randint(0, 11, (2, 3, 3, 7, 7), dtype=torch.uint8)
    zeros = torch.zeros(2, 3)
    batch = Transitions(
        obs=obs, actions=zeros.long(), next_obs=obs.roll(1, 0), ext_rewards=zeros,
        terminated=zeros.bool(), truncated=zeros.bool(),
    )  # fmt: skip
    x = obs.roll(1, 0).reshape(-1, 3, 7, 7).float() / 255.0  # rllte: next obs / 255
    expected = (predictor(x) - target(x)).pow(2).mean(1).reshape(2, 3)
    torch.testing.assert_close(bonus.compute(batch), expected)


@pytest.mark.parametrize(
    ("cls", "config", "network"),
    [
        (RE3, RE3Config(grid_encoder="rllte"), "encoder"),
        (Disagreement, DisagreementConfig(grid_encoder="rllte", feature_dim=64), "features"),
    ],
)
def test_rllte_random_features_are_the_bare_encoder(cls: type, config: Any, network: str) -> None:
    """rllte re3.py:88-90 and disagreement.py:85-89: a frozen MinigridEncoder with
    PyTorch's init is the whole feature network (no head, whatever ``weight_init`` says),
    512 features whatever ``feature_dim`` says; it reads s_t / 255 (both read s_t; rllte's
    ``obs_rms`` False)."""
    torch.manual_seed(5)
    bonus = cls(GRID, ACT, config)
    torch.manual_seed(5)
    reference, _ = rllte_grid_encoder((3, 7, 7))
    net = getattr(bonus, network)
    assert _equal_weights(net, reference)
    assert not any(p.requires_grad for p in net.parameters())
    obs = torch.randint(0, 11, (6, 3, 7, 7), dtype=torch.uint8)
    features = bonus.embed(obs) if cls is RE3 else bonus._phi(obs)
    torch.testing.assert_close(features, reference(obs.float() / 255.0))


def test_disagreement_models_predict_the_bare_encoders_512_features() -> None:
    bonus = Disagreement(GRID, ACT, DisagreementConfig(grid_encoder="rllte", feature_dim=64))
    phi = bonus._phi(torch.randint(0, 11, (5, 3, 7, 7), dtype=torch.uint8))
    actions = bonus.action_features(torch.zeros(5, dtype=torch.int64))
    assert bonus.ensemble(phi, actions).shape == (5, 5, 512)  # (members, batch, features)


def test_ngu_rnd_grid_encoder_reaches_its_lifelong_rnd_only() -> None:
    reference, _ = rllte_grid_encoder((3, 7, 7))
    chosen = NGU(GRID, ACT, NGUConfig(rnd_grid_encoder="rllte"))
    for net in (chosen.rnd.predictor, chosen.rnd.target):
        assert [type(m) for m in net] == [type(m) for m in reference]
    assert [type(m) for m in chosen.encoder] != [type(m) for m in reference]  # f keeps its own
    default = NGU(GRID, ACT, NGUConfig())
    assert [type(m) for m in default.rnd.target] != [type(m) for m in reference]


@pytest.mark.parametrize(
    ("cls", "config", "network"),
    [
        (RND, RNDConfig(grid_encoder="rllte", feature_dim=64), "target"),
        (RE3, RE3Config(grid_encoder="rllte"), "encoder"),
        (Disagreement, DisagreementConfig(grid_encoder="rllte", feature_dim=64), "features"),
    ],
)
def test_frames_ignore_the_grid_encoder(cls: type, config: Any, network: str) -> None:
    """A spec over grids and frames may set "rllte" for all: the frames' networks are the
    default ones, ``feature_dim`` wide."""
    frames = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    torch.manual_seed(6)
    chosen = cls(frames, ACT, config)
    torch.manual_seed(6)
    default = cls(frames, ACT, dataclasses.replace(config, grid_encoder="ride"))
    assert _equal_weights(getattr(chosen, network), getattr(default, network))
    assert list(getattr(chosen, network).parameters())[-1].shape[0] == config.feature_dim


@pytest.mark.parametrize(
    "config_cls",
    [ICMConfig, E3BConfig, RIDEConfig, NGUConfig, RNDConfig, RE3Config, DisagreementConfig],
)
def test_unknown_grid_encoder_is_refused_with_the_valid_names(config_cls: type) -> None:
    valid = r"grid_encoder must be one of 'ride', 'rllte', got 'nature'"
    with pytest.raises(ValueError, match=valid):
        config_cls(grid_encoder="nature")


def test_unknown_rnd_grid_encoder_is_refused_with_the_valid_names() -> None:
    valid = r"ngu.rnd_grid_encoder must be one of 'ride', 'rllte', got 'nature'"
    with pytest.raises(ValueError, match=valid):
        NGUConfig(rnd_grid_encoder="nature")


@pytest.mark.parametrize(
    ("bonus", "field"),
    [
        ("rnd", "grid_encoder"),
        ("re3", "grid_encoder"),
        ("disagreement", "grid_encoder"),
        ("ngu", "rnd_grid_encoder"),
    ],
)
def test_a_config_from_before_the_field_reads_as_the_suite_encoder(bonus: str, field: str) -> None:
    """Runs before the field were built with the suite's grid conv: a config.json without it
    reads as "ride", so the matrix driver lists such a cell as run with other settings where
    a spec asks for "rllte", and only there."""
    run = {"agent": "ppo", "bonus": bonus, "task": "CartPole-v1"}
    resolved = resolve(run)
    stored = json.loads(json.dumps(resolved.to_dict(), default=list))
    del stored["bonus"][field]
    assert config_differences(stored, resolved) == []
    wanted = resolve(run, {"bonus": {field: "rllte"}})
    assert config_differences(stored, wanted) == [f"bonus.{field}: 'ride' -> 'rllte'"]


def test_the_reproduction_builds_rlltes_networks_for_its_variants() -> None:
    """The spec's RND, RE3, Disagreement and NGU variants ask for rllte's networks."""
    fields = {
        "rnd-rlexplore": "grid_encoder",
        "re3-rlexplore": "grid_encoder",
        "disagreement-rlexplore": "grid_encoder",
        "ngu-rlexplore": "rnd_grid_encoder",
    }
    matrix, configs, _ = load_matrix("reproduce-rlexplore", None)
    asked = {
        cell.entry: getattr(cfg.bonus, fields[cell.entry])
        for cell, cfg in zip(matrix.cells, configs, strict=True)
        if cell.entry in fields
    }
    assert asked == dict.fromkeys(fields, "rllte")


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
