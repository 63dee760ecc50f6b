"""Network details the releases fix and the suite followed only from 2026-12-07: RND's and
Disagreement's leaky-ReLU slope (TensorFlow's 0.2), Disagreement's TensorFlow layer inits,
NovelD's clip of its predictor's gradient. Each is a config field whose old value a
config.json written before it reads as, so the matrix driver tells old cells apart."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import bonuses._noveld_rnd as noveld_rnd_module
from bonuses.base import Transitions
from bonuses.disagreement import Disagreement, DisagreementConfig, EnsembleLinear
from bonuses.ngu import NGUConfig
from bonuses.noveld import NovelD, NovelDConfig
from bonuses.rnd import RND, RNDConfig
from explore_bench.settings.config import config_differences, resolve

GRID = gym.spaces.Box(0, 10, (3, 7, 7), np.uint8)
FRAMES = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
ACT = gym.spaces.Discrete(7)


def _slopes(module: nn.Module) -> set[float]:
    return {m.negative_slope for m in module.modules() if isinstance(m, nn.LeakyReLU)}


def test_rnd_networks_use_tensorflows_leaky_slope() -> None:
    rnd = RND(FRAMES, ACT, RNDConfig())
    assert _slopes(rnd.target) == _slopes(rnd.predictor) == {0.2}
    assert _slopes(RND(FRAMES, ACT, RNDConfig(leaky_slope=0.01)).target) == {0.01}
    assert NGUConfig().rnd_config().leaky_slope == 0.2
    assert NovelDConfig(rnd_model="suite").rnd_config().leaky_slope == 0.2


def test_disagreement_release_init_is_tensorflows() -> None:
    torch.manual_seed(0)
    bonus = Disagreement(FRAMES, ACT, DisagreementConfig())
    convs = [m for m in bonus.features.modules() if isinstance(m, nn.Conv2d)]
    (fc,) = [m for m in bonus.features.modules() if isinstance(m, nn.Linear)]
    for conv in convs:  # Glorot-uniform, zero bias (tf conv2d's defaults)
        fan_out = conv.out_channels * conv.weight[0, 0].numel()
        bound = math.sqrt(6.0 / (conv.weight[0].numel() + fan_out))
        assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
        assert not conv.bias.any()
    norms = fc.weight.norm(dim=1)  # normc_initializer(1.0)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    assert not fc.bias.any()
    layers = [m for m in bonus.ensemble.modules() if isinstance(m, EnsembleLinear)]
    for layer in layers:
        _, fan_in, fan_out = layer.weight.shape
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
        assert not layer.bias.any()
    assert _slopes(bonus.features) == {0.2}
    torch_built = Disagreement(FRAMES, ACT, DisagreementConfig(weight_init="torch"))
    assert all(m.bias.abs().min() > 0 for m in torch_built.ensemble.modules()
               if isinstance(m, EnsembleLinear))  # fmt: skip


def test_disagreement_forward_models_apply_the_slope() -> None:
    """Oracle: one member's forward pass written out with leaky_relu(., 0.2)."""
    torch.manual_seed(1)
    config = DisagreementConfig(ensemble_size=2, residual_blocks=1, hidden_dim=16, feature_dim=8)
    ens = Disagreement(GRID, ACT, config).ensemble
    phi, act = torch.randn(3, 8), nn.functional.one_hot(torch.tensor([0, 3, 6]), 7).float()

    def dense(layer: EnsembleLinear, x: torch.Tensor) -> torch.Tensor:
        return x @ layer.weight[0] + layer.bias[0]

    def cat(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, act], -1)

    h = nn.functional.leaky_relu(dense(ens.inp, cat(phi)), 0.2)
    h = h + dense(ens.second[0], cat(nn.functional.leaky_relu(dense(ens.first[0], cat(h)), 0.2)))
    torch.testing.assert_close(ens(phi, act)[0], dense(ens.out, cat(h)))


def test_noveld_release_predictor_gradient_is_clipped_at_40(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[float] = []

    def record(params: object, max_norm: float) -> torch.Tensor:
        calls.append(max_norm)
        return torch.tensor(0.0)

    monkeypatch.setattr(noveld_rnd_module.nn.utils, "clip_grad_norm_", record)
    bonus = NovelD(GRID, ACT, NovelDConfig(minibatch_size=16))
    steps, envs = 8, 4
    obs = torch.randint(0, 11, (steps, envs, 3, 7, 7), dtype=torch.uint8)
    zeros = torch.zeros(steps, envs)
    batch = Transitions(
        obs=obs, actions=zeros.long(), next_obs=obs.roll(1, 0), ext_rewards=zeros,
        terminated=zeros.bool(), truncated=zeros.bool(),
    )  # fmt: skip
    bonus.update(batch)
    assert calls and set(calls) == {40.0}
    calls.clear()
    NovelD(GRID, ACT, NovelDConfig(minibatch_size=16, max_grad_norm=0.0)).update(batch)
    assert calls == []


@pytest.mark.parametrize(
    ("bonus", "field", "old", "new"),
    [
        ("rnd", "leaky_slope", 0.01, 0.2),
        ("ngu", "rnd_leaky_slope", 0.01, 0.2),
        ("disagreement", "leaky_slope", 0.01, 0.2),
        ("disagreement", "weight_init", "torch", "release"),
        ("noveld", "max_grad_norm", 0.0, 40.0),
    ],
)
def test_a_config_from_before_the_field_reads_as_the_old_value(
    bonus: str, field: str, old: object, new: object
) -> None:
    resolved = resolve({"agent": "ppo", "bonus": bonus, "task": "CartPole-v1"})
    stored = json.loads(json.dumps(resolved.to_dict(), default=list))
    del stored["bonus"][field]
    assert f"bonus.{field}: {old!r} -> {new!r}" in config_differences(stored, resolved)


@pytest.mark.parametrize(
    ("config_cls", "field", "value", "message"),
    [
        (RNDConfig, "leaky_slope", 1.0, "rnd.leaky_slope must be in [0, 1), got 1.0"),
        (DisagreementConfig, "weight_init", "he", "disagreement.weight_init must be one of"),
        (NovelDConfig, "max_grad_norm", -1.0, "noveld.max_grad_norm must be >= 0, got -1.0"),
    ],
)
def test_bad_values_are_refused_by_name(
    config_cls: type, field: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        config_cls(**{field: value})
