"""Test plugins loaded by import path (``--bonus const_bonus:ConstantBonus``)."""

from __future__ import annotations

import dataclasses
import os
import time

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


class FlakyBonus(ConstantBonus):
    """Raises in its update number ``$FLAKY_FAIL_AT`` (when set): a run that dies midway and
    is resumed with the same config once the variable is unset."""

    def update(self, batch: Transitions) -> dict[str, float]:
        out = super().update(batch)
        if int(self.updates) == int(os.environ.get("FLAKY_FAIL_AT", "0")):
            raise RuntimeError(f"FlakyBonus failed at update {int(self.updates)}")
        return out


class SlowBonus(ConstantBonus):
    """Sleeps ``$SLOW_BONUS_S`` seconds per update (when set): a cell that is still running
    when a test looks at it, with the same config as a fast rerun."""

    def update(self, batch: Transitions) -> dict[str, float]:
        time.sleep(float(os.environ.get("SLOW_BONUS_S", "0")))
        return super().update(batch)
