"""Oracles for Disagreement (Pathak et al. 2019): the bonus is the variance across the
ensemble's predictions, averaged over features: zero when the members agree, growing as the
square of their spread."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from bonuses import _encoders
from bonuses.disagreement import Disagreement, DisagreementConfig
from explore_bench.plugins import registry
from explore_bench.plugins.testing import check_bonus, random_batch
from explore_bench.settings.config import RunSettings, ShapingConfig, apply_overrides

VEC = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
ACT = gym.spaces.Discrete(3)
SMALL = DisagreementConfig(feature_dim=16, hidden_dim=32, hidden_sizes=(32,), warmup_updates=0)


def agreeing(bonus: Disagreement) -> None:
    """Copy member 0's weights into every member."""
    with torch.no_grad():
        for p in bonus.ensemble.parameters():
            p.copy_(p[:1].expand_as(p))


def test_zero_when_members_agree_and_quadratic_in_their_spread() -> None:
    torch.manual_seed(0)
    bonus = Disagreement(VEC, ACT, SMALL)
    batch = random_batch(VEC, ACT, 4, 3, seed=0)
    agreeing(bonus)
    assert torch.equal(bonus.compute(batch), torch.zeros(4, 3))
    offsets = torch.randn(5, 1, 16)  # a fixed offset per member on the output layer
    base = bonus.ensemble.out.bias.detach().clone()
    # The predictions differ by s * offsets, so the variance is s^2 * var(offsets), averaged.
    closed_form = offsets.var(0, unbiased=False).mean().item()
    for s in (0.5, 1.0, 2.0):
        with torch.no_grad():
            bonus.ensemble.out.bias.copy_(base + s * offsets)
        got = bonus.compute(batch)
        assert torch.allclose(got, torch.full((4, 3), s**2 * closed_form), rtol=1e-4)


def test_variance_is_the_population_variance_over_members() -> None:
    bonus = Disagreement(VEC, ACT, SMALL)
    pred = torch.tensor([[[1.0, 0.0]], [[3.0, 0.0]], [[2.0, 6.0]]])  # (E=3, B=1, F=2)
    # Feature 0: mean 2, var (1 + 1 + 0) / 3; feature 1: mean 2, var (4 + 4 + 16) / 3.
    assert bonus.disagreement(pred).item() == pytest.approx((2 / 3 + 8) / 2)


def test_warm_up_scores_zero_and_training_lowers_disagreement_on_seen_data() -> None:
    torch.manual_seed(1)
    cfg = DisagreementConfig(feature_dim=16, hidden_dim=32, hidden_sizes=(32,), learning_rate=1e-3)
    bonus = Disagreement(VEC, ACT, cfg)
    seen = random_batch(VEC, ACT, 32, 4, seed=1)
    assert torch.equal(bonus.compute(seen), torch.zeros(32, 4))
    assert bonus.update(seen)["warmup"] == 1.0
    before = bonus.compute(seen).mean().item()
    for _ in range(30):
        bonus.update(seen)
    assert bonus.compute(seen).mean().item() < 0.5 * before


@pytest.mark.skipif(
    not hasattr(_encoders, "GRID_CONV"), reason="the shared grid encoder (issue 20) is not here"
)
def test_grids_and_the_contract() -> None:
    grid = gym.spaces.Box(0, 10, (3, 7, 7), np.uint8)
    check_bonus(Disagreement, spaces=[(grid, ACT)], config=SMALL)


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="ensemble_size"):
        DisagreementConfig(ensemble_size=1)
    with pytest.raises(ValueError, match="keep_prob"):
        DisagreementConfig(keep_prob=0.0)


def test_84_pixel_frame_stacks_and_continuous_actions() -> None:
    frames84 = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    bonus = Disagreement(frames84, ACT, SMALL)
    assert bonus.compute(random_batch(frames84, ACT, 3, 2, seed=0)).shape == (3, 2)
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    bonus = Disagreement(VEC, box, SMALL)
    assert bonus.ensemble.inp.weight.shape[1] == 16 + 2  # features + the action's values


@pytest.mark.parametrize("name", ["re3", "disagreement", "ae_simhash"])
def test_paper_recipes_name_real_config_fields(name: str) -> None:
    for key, recipe in registry.bonuses.load(name).recipes.items():
        for agent in ("ppo", "trpo") if key == "*" else (key,):
            agent_cls = registry.agents.load(agent)
            apply_overrides(agent_cls.config_cls(), dict(recipe.agent), "agent")
        apply_overrides(ShapingConfig(), dict(recipe.shaping), "shaping")
        apply_overrides(RunSettings(), dict(recipe.run), "run")
        assert recipe.source
