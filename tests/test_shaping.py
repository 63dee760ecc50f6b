"""Normalisers: pure when called, stateful only in update, filtered along time per env."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explore_bench.errors import ConfigError
from explore_bench.runs.shaping import MinMax, ReturnRMS, RewardRMS, coefficient, make_normalizer
from explore_bench.settings.config import ShapingConfig


def _filtered(raw: np.ndarray, gamma: float, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out, filt = np.zeros_like(raw), start.copy()
    for t in range(raw.shape[0]):
        filt = gamma * filt + raw[t]
        out[t] = filt
    return out, filt


def test_return_rms_filters_along_time_per_env_across_batches() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.exponential(size=(5, 3)), rng.exponential(size=(4, 3)) * 10
    norm = ReturnRMS(gamma=0.9)
    norm.update(torch.tensor(a))
    norm.update(torch.tensor(b))
    ra, filt = _filtered(a, 0.9, np.zeros(3))
    rb, filt = _filtered(b, 0.9, filt)
    seen = np.concatenate([ra.ravel(), rb.ravel()])
    assert norm.rms.var == pytest.approx(seen.var(), rel=1e-9)
    assert norm.filter is not None and np.allclose(norm.filter.numpy(), filt)
    x = torch.tensor(b, dtype=torch.float32)
    assert torch.allclose(norm(x), x / np.sqrt(seen.var() + 1e-8), atol=1e-6)


@pytest.mark.parametrize("make", [lambda: ReturnRMS(0.99), lambda: RewardRMS(), MinMax])
def test_calling_a_normaliser_does_not_change_it(make) -> None:
    norm = make()
    norm.update(torch.rand(8, 4) * 3)
    before = repr(norm.state_dict())
    first = norm(torch.rand(8, 4))
    x = torch.rand(8, 4)
    assert torch.equal(norm(x), norm(x))
    assert repr(norm.state_dict()) == before
    assert first.shape == (8, 4)


def test_reward_rms_epsilon_0_divides_a_tiny_bonus_by_its_own_std() -> None:
    """rllte's `rms` (RLeXplore): raw / std with nothing added. At RND-on-a-grid scales (raw
    values ~1e-6) the default epsilon 1e-8 dominates the variance instead."""
    rng = np.random.default_rng(0)
    raw = rng.normal(6e-6, 2.7e-6, size=(32, 8))
    x = torch.tensor(raw, dtype=torch.float32)
    exact = RewardRMS(epsilon=0.0)
    exact.update(x)
    usual = RewardRMS()
    usual.update(x)
    seen = x.double().numpy().ravel()
    assert torch.allclose(exact(x).double(), x.double() / seen.std(), rtol=1e-5)
    assert torch.allclose(usual(x).double(), x.double() / np.sqrt(seen.var() + 1e-8), rtol=1e-5)
    assert exact(x).mean() > 30 * usual(x).mean()  # 2.2 against about 0.06
    flat = RewardRMS(epsilon=0.0)
    flat.update(torch.full((4, 2), 0.5))  # a history of equal values: left unscaled
    assert torch.equal(flat(torch.full((4, 2), 0.5)), torch.full((4, 2), 0.5))
    config = ShapingConfig(normalizer="reward_rms", rms_epsilon=0.0)
    assert make_normalizer("reward_rms", config).rms.epsilon == 0.0
    assert make_normalizer("return_rms", config).rms.epsilon == 0.0
    with pytest.raises(ConfigError, match="rms_epsilon must be >= 0, got -1"):
        ShapingConfig(rms_epsilon=-1.0)


def test_minmax_uses_running_range_not_the_batch() -> None:
    norm = MinMax()
    norm.update(torch.tensor([[0.0, 10.0]]))
    norm.update(torch.tensor([[2.0, 4.0]]))
    assert norm(torch.tensor([[2.0, 4.0]]))[0].tolist() == pytest.approx([0.2, 0.4])


def test_coefficient_schedules() -> None:
    lin = ShapingConfig(coef=1.0, schedule="linear", coef_final=0.0)
    assert coefficient(lin, 0.25, 0) == pytest.approx(0.75)
    exp = ShapingConfig(coef=2.0, schedule="exponential", decay=0.5)
    assert coefficient(exp, 0.0, 3) == pytest.approx(0.25)
    assert coefficient(ShapingConfig(coef=0.3), 0.9, 100) == pytest.approx(0.3)
