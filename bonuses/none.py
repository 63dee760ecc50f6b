"""The no-bonus baseline: every transition scores zero."""

from __future__ import annotations

import torch

from bonuses.base import IntrinsicBonus, Transitions


class NoBonus(IntrinsicBonus):
    """Zero intrinsic reward; the reference every bonus is compared against."""

    description = "No intrinsic reward (the baseline every bonus is compared against)."
    reference = "-"

    def compute(self, batch: Transitions) -> torch.Tensor:
        return torch.zeros(batch.ext_rewards.shape, dtype=torch.float32)

    def update(self, batch: Transitions) -> dict[str, float]:
        return {}
