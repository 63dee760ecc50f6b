"""The ``weight_init`` schemes of the learned bonuses (`bonuses._encoders.apply_init`), each
checked against the property its source's code gives the weights: orthogonality and its
gain (RIDE's ``init_``, rllte's ``orthogonal_layer_init``), unit norms of 0.01 (noreward-rl's
``normalized_columns_initializer``), the Glorot bound (noreward-rl's ``conv2d``)."""

from __future__ import annotations

import dataclasses
import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from bonuses.e3b import E3B, E3BConfig
from bonuses.icm import ICM, ICMConfig
from bonuses.ngu import NGU, NGUConfig
from bonuses.ride import RIDE, RIDEConfig
from explore_bench.settings.config import config_differences, resolve
from explore_bench.settings.overrides import config_from_dict

GRID = gym.spaces.Box(0, 10, (3, 7, 7), np.uint8)
ACT = gym.spaces.Discrete(7)
BONUSES = [(ICM, ICMConfig), (E3B, E3BConfig), (RIDE, RIDEConfig), (NGU, NGUConfig)]


def _layers(module: nn.Module) -> list[nn.Linear | nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Linear | nn.Conv2d)]


def _heads(bonus: nn.Module) -> list[nn.Sequential]:
    return [getattr(bonus, name) for name in ("inverse", "forward_model") if hasattr(bonus, name)]


def _orthogonal_gain(layer: nn.Linear | nn.Conv2d) -> float:
    """g where the flattened weight W has W W^T = g^2 I (or W^T W, whichever is smaller)."""
    w = layer.weight.detach().reshape(layer.weight.shape[0], -1).double()
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    scale = float(gram.diagonal().mean())
    eye = torch.eye(len(gram), dtype=torch.float64)
    torch.testing.assert_close(gram, scale * eye, rtol=0, atol=1e-5 * scale)
    return math.sqrt(scale)


def _build(cls: type, config_cls: type, scheme: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return cls(GRID, ACT, config_cls(weight_init=scheme))


@pytest.mark.parametrize(("cls", "config_cls"), BONUSES)
def test_ride_scheme_is_orthogonal_with_relu_gain_and_unit_gain_outputs(
    cls: type, config_cls: type
) -> None:
    bonus = _build(cls, config_cls, "ride")
    for layer in _layers(bonus.encoder):
        assert _orthogonal_gain(layer) == pytest.approx(math.sqrt(2), rel=1e-5)
    for head in _heads(bonus):
        *hidden, out = _layers(head)
        assert [_orthogonal_gain(h) for h in hidden] == pytest.approx([math.sqrt(2)] * len(hidden))
        assert _orthogonal_gain(out) == pytest.approx(1.0, rel=1e-5)
    for layer in _layers(bonus.encoder) + [m for h in _heads(bonus) for m in _layers(h)]:
        assert layer.bias is not None and not layer.bias.any()


@pytest.mark.parametrize(("cls", "config_cls"), BONUSES)
def test_rllte_scheme_gives_the_heads_gain_sqrt2_and_leaves_the_encoder(
    cls: type, config_cls: type
) -> None:
    """rllte's orthogonal_layer_init on every head layer; its MinigridEncoder keeps torch's,
    so the encoder is the very one the "torch" scheme builds from the same seed."""
    rllte, torch_built = _build(cls, config_cls, "rllte"), _build(cls, config_cls, "torch")
    for head in _heads(rllte):
        for layer in _layers(head):
            assert _orthogonal_gain(layer) == pytest.approx(math.sqrt(2), rel=1e-5)
            assert layer.bias is not None and not layer.bias.any()
    for a, b in zip(_layers(rllte.encoder), _layers(torch_built.encoder), strict=True):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


@pytest.mark.parametrize(("cls", "config_cls"), BONUSES)
def test_torch_scheme_keeps_pytorch_default_draws(cls: type, config_cls: type) -> None:
    """What every run before the field was built with: weights and biases uniform within
    1/sqrt(fan_in), the draws of `nn.Linear` / `nn.Conv2d` themselves."""
    bonus = _build(cls, config_cls, "torch")
    for layer in [m for h in _heads(bonus) for m in _layers(h)] + _layers(bonus.encoder):
        bound = 1.0 / math.sqrt(layer.weight[0].numel())
        assert layer.weight.abs().max() <= bound + 1e-7
        assert layer.bias is not None and layer.bias.abs().min() > 0


@pytest.mark.parametrize(
    ("cls", "config_cls", "scheme"),
    [(ICM, ICMConfig, "noreward-rl"), (E3B, E3BConfig, "ride"), (RIDE, RIDEConfig, "ride"),
     (NGU, NGUConfig, "torch")],
)  # fmt: skip
def test_a_default_bonus_is_built_with_its_release_scheme(
    cls: type, config_cls: type, scheme: str
) -> None:
    """The defaults follow the releases (NGU has none): the same draws as naming the scheme."""
    torch.manual_seed(0)
    default = cls(GRID, ACT, config_cls())
    named = _build(cls, config_cls, scheme)
    for a, b in zip(default.parameters(), named.parameters(), strict=True):
        assert torch.equal(a, b)


def test_noreward_rl_scheme_gives_unit_norms_of_a_hundredth_and_glorot_convs() -> None:
    bonus = _build(ICM, ICMConfig, "noreward-rl")
    for head in _heads(bonus):
        for layer in _layers(head):
            norms = layer.weight.norm(dim=1)
            torch.testing.assert_close(norms, torch.full_like(norms, 0.01))
            assert not layer.bias.any()
    for conv in _layers(bonus.encoder):
        fan_in = conv.weight[0].numel()
        fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert conv.weight.abs().max() <= bound
        assert conv.weight.abs().max() > 0.9 * bound
        assert conv.bias is not None and not conv.bias.any()


@pytest.mark.parametrize(("cls", "config_cls"), BONUSES)
def test_unknown_scheme_is_refused_with_the_valid_names(cls: type, config_cls: type) -> None:
    name = cls.__name__.lower()
    valid = f"{name}.weight_init must be one of 'torch', 'ride', 'noreward-rl', 'rllte', got 'x'"
    with pytest.raises(ValueError, match=valid):
        config_cls(weight_init="x")


@pytest.mark.parametrize("config_cls", [ICMConfig, E3BConfig, RIDEConfig, NGUConfig])
def test_a_config_written_before_the_field_reads_as_torch(config_cls: type) -> None:
    stored = json.loads(json.dumps(dataclasses.asdict(config_cls())))
    del stored["weight_init"]
    assert config_from_dict(config_cls, stored).weight_init == "torch"


def test_a_run_config_from_before_the_field_reads_as_torch() -> None:
    """A cell run before the field existed was built with PyTorch's init: `config_differences`
    says so against a bonus whose default now differs (ICM) and not where it does not (NGU),
    so the matrix driver lists the first as run with other settings and resumes the second."""
    for bonus, changes in [("icm", ["bonus.weight_init: 'torch' -> 'noreward-rl'"]), ("ngu", [])]:
        resolved = resolve({"agent": "ppo", "bonus": bonus, "task": "CartPole-v1"})
        stored = json.loads(json.dumps(resolved.to_dict(), default=list))
        del stored["bonus"]["weight_init"]
        assert config_differences(stored, resolved) == changes
