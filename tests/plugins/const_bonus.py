"""Test plugins loaded by import path (``--bonus const_bonus:ConstantBonus``)."""

from __future__ import annotations

import dataclasses

import torch

from bonuses.base import BonusConfig, IntrinsicBonus, Transitions


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConstantConfig(BonusConfig):
    #: The bonus every transition gets.
    value: float = 0.5


class ConstantBonus(IntrinsicBonus):
    """Scores every transition with the same value; counts its updates."""

    config_cls = ConstantConfig
    description = "constant (test plugin)"
    config: ConstantConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))

    def compute(self, batch: Transitions) -> torch.Tensor:
        return torch.full(batch.ext_rewards.shape, self.config.value, dtype=torch.float32)

    def update(self, batch: Transitions) -> dict[str, float]:
        self.updates += 1
        return {"updates": float(self.updates)}


class NonEpisodicConstant(ConstantBonus):
    episodic = False


class ExplodingBonus(ConstantBonus):
    """Raises in update: a deliberately failing plugin."""

    def update(self, batch: Transitions) -> dict[str, float]:
        raise RuntimeError("ExplodingBonus exploded on purpose")
