"""Composite bonuses (``rnd*count``, ``rnd+icm``): the value is the hand product or sum of
the parts' own computes, NGU's modulator follows its formula, each part keeps its config
(``bonus.<part>.<field>``) and its state, and the episodic / order rules hold."""

from __future__ import annotations

import dataclasses
import io
import tomllib
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
import torch

from bonuses._composite import CompositeBonus, composite_class
from bonuses.base import BonusConfig, IntrinsicBonus, Transitions
from bonuses.count import Count
from bonuses.rnd import RND
from explore_bench.matrices import spec as specs
from explore_bench.plugins import registry
from explore_bench.plugins.testing import check_bonus, random_batch
from explore_bench.settings.config import ConfigError, ResolvedRun, resolve

VEC = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
ACT = gym.spaces.Discrete(3)


def build(name: str, **fields: Any) -> CompositeBonus:
    cls = registry.bonuses.load(name)
    cfg = cls.default_config(VEC, ACT)
    return cls(VEC, ACT, dataclasses.replace(cfg, **fields))


def trained(name: str, **fields: Any) -> tuple[CompositeBonus, Transitions]:
    torch.manual_seed(0)
    bonus = build(name, **fields)
    for seed in range(3):  # past RND's warm-up, with counts and trained models
        bonus.update(random_batch(VEC, ACT, 8, 2, seed))
    return bonus, random_batch(VEC, ACT, 8, 2, seed=9)


def test_product_and_sum_equal_the_hand_combination_of_standalone_parts() -> None:
    bonus, batch = trained("rnd*count")
    # Standalone RND and Count loaded with the parts' states score the same batch.
    rnd, count = RND(VEC, ACT, bonus.config.rnd), Count(VEC, ACT, bonus.config.count)  # type: ignore[attr-defined]
    rnd.load_state_dict(bonus.parts["rnd"].state_dict())
    count.load_state_dict(bonus.parts["count"].state_dict())
    r, c = rnd.compute(batch), count.compute(batch)
    assert r.abs().sum() > 0 and c.abs().sum() > 0
    assert torch.equal(bonus.compute(batch), r * c)
    weighted, batch = trained("rnd+icm", weights=(2.0, 0.5))
    parts = {name: part.compute(batch) for name, part in weighted.part_items()}
    assert torch.allclose(weighted.compute(batch), 2.0 * parts["rnd"] + 0.5 * parts["icm"])


def test_modulator_is_ngus_clipped_standardised_error() -> None:
    torch.manual_seed(1)
    bonus = build("rnd*count", transforms=("modulator", "identity"), max_modulation=1.2)
    rnd = bonus.parts["rnd"]
    seen: list[torch.Tensor] = []
    for seed in range(4):
        batch = random_batch(VEC, ACT, 8, 2, seed)
        seen.append(rnd.compute(batch).reshape(-1))  # the scores the statistics must hold
        bonus.update(batch)
    batch = random_batch(VEC, ACT, 8, 2, seed=7)
    err = rnd.compute(batch)
    history = torch.cat([*seen, err.reshape(-1)]).double()  # this batch included
    alpha = 1 + (err.double() - history.mean()) / history.std(unbiased=False)
    want = alpha.clamp(1.0, 1.2) * bonus.parts["count"].compute(batch).double()
    assert torch.allclose(bonus.compute(batch).double(), want, rtol=1e-5)
    assert (alpha < 1.0).any() and (alpha > 1.2).any()  # both clips are exercised


def test_state_dict_round_trip_and_contract() -> None:
    bonus, batch = trained("count*icm")
    buffer = io.BytesIO()
    torch.save(bonus.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(5)
    fresh = build("count*icm")
    assert not torch.equal(fresh.compute(batch), bonus.compute(batch))
    fresh.load_state_dict(torch.load(buffer, weights_only=False))
    assert torch.equal(fresh.compute(batch), bonus.compute(batch))
    check_bonus(registry.bonuses.load("rnd*count"), spaces=[(VEC, ACT)])


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Cfg(BonusConfig):
    #: A constant.
    value: float = 1.0


class _Lifelong(IntrinsicBonus):
    config_cls = _Cfg
    episodic = False
    description = reference = "toy"

    def compute(self, batch: Transitions) -> torch.Tensor:
        return torch.full(batch.ext_rewards.shape, self.config.value)  # type: ignore[attr-defined]

    def update(self, batch: Transitions) -> dict[str, float]:
        return {}


class _OtherLifelong(_Lifelong):
    observation_kinds: ClassVar[frozenset[str]] = frozenset({"vector"})


class _Episodic(_Lifelong):
    episodic = True


class _After(_Lifelong):
    compute_after_update = True


TOYS = {"a": _Lifelong, "b": _OtherLifelong, "e": _Episodic, "z": _After}


def test_episodic_if_any_part_is_and_kinds_intersect() -> None:
    assert composite_class("a*b", TOYS.get).episodic is False
    assert composite_class("a*e", TOYS.get).episodic is True
    assert composite_class("e+a", TOYS.get).episodic is True
    assert composite_class("a+b", TOYS.get).observation_kinds == {"vector"}


def test_parts_of_different_orders_are_refused() -> None:
    cls = composite_class("z*a", TOYS.get)
    with pytest.raises(ValueError, match=r"\['z'\] score after their update"):
        cls(VEC, ACT)
    ordered = composite_class("z+e", {**TOYS, "e": type("E", (_After,), {})}.get)
    assert ordered(VEC, ACT).compute_after_update is True


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rnd*cuont", "did you mean 'count'"),
        ("rnd*count+icm", "mixes"),
        ("rnd*rnd", "repeats"),
        ("rnd*", "empty part"),
    ],
)
def test_bad_composite_names_fail_clearly(name: str, message: str) -> None:
    with pytest.raises(registry.UnknownNameError, match=message):
        registry.bonuses.load(name)


def test_set_reaches_a_parts_field_and_the_config_round_trips() -> None:
    sets = {
        "bonus": {
            "rnd.learning_rate": "3e-3",
            "count.beta": "0.5",
            "transforms": "modulator,identity",
        }
    }
    resolved = resolve({"bonus": "rnd*count", "task": "CartPole-v1"}, sets)
    cfg = resolved.bonus
    assert cfg.rnd.learning_rate == 3e-3 and cfg.count.beta == 0.5
    assert cfg.transforms == ("modulator", "identity")
    again = ResolvedRun.from_dict(resolved.to_dict())
    assert again.bonus == cfg
    with pytest.raises(ConfigError, match=r"bonus\.rnd\.lr is not a field of RNDConfig"):
        resolve({"bonus": "rnd*count", "task": "CartPole-v1"}, {"bonus": {"rnd.lr": "1"}})
    with pytest.raises(ConfigError, match=r"bonus\.rnd\.<field>=value"):
        resolve({"bonus": "rnd*count", "task": "CartPole-v1"}, {"bonus": {"rnd": "1"}})
    with pytest.raises(ConfigError, match="one entry per part"):
        resolve({"bonus": "rnd*count", "task": "CartPole-v1"}, {"bonus": {"weights": "1"}})


def test_a_matrix_spec_reaches_a_parts_config_through_a_table() -> None:
    data = tomllib.loads(
        """
        agents = ["ppo"]
        bonuses = ["none", "rnd*count"]
        tasks = ["CartPole-v1"]
        seeds = 1
        steps = 1000
        [bonus."rnd*count"]
        weights = [1.0, 2.0]
        [bonus."rnd*count".count]
        beta = 0.25
        """
    )
    configs = specs.resolve_cells(specs.plan(data, Path("r"), "t.toml"))
    composite = next(c for c in configs if c.run.bonus == "rnd*count")
    assert composite.bonus.count.beta == 0.25 and composite.bonus.weights == (1.0, 2.0)


def test_global_times_episodic_with_e3b_across_rollouts() -> None:
    """rnd*e3b (Henaff et al. 2023): the product of the parts' own scores on each rollout,
    E3B's episodic memory carried between rollouts by its own update; episodic overall."""
    torch.manual_seed(3)
    bonus = build("rnd*e3b")
    assert bonus.episodic and not bonus.parts["rnd"].episodic
    for seed in range(3):
        batch = random_batch(VEC, ACT, 6, 2, seed)
        parts = {name: part.compute(batch) for name, part in bonus.part_items()}
        assert torch.equal(bonus.compute(batch), parts["rnd"] * parts["e3b"])
        bonus.update(batch)
    assert bonus.parts["e3b"].memory is not None  # committed by the part's update
