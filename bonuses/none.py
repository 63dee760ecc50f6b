"""The no-bonus baseline: every transition scores zero."""

from __future__ import annotations

import torch

from bonuses.base import IntrinsicBonus, Transitions


class NoBonus(IntrinsicBonus):
    """Zero intrinsic reward; the reference every bonus is compared against."""

    description = "No intrinsic reward (the baseline every bonus is compared against)."
    reference = "-"

    def compute(self, batch: Transitions) -> torch.Tensor:
        rewards = batch.ext_rewards
        return torch.zeros(rewards.shape, dtype=torch.float32, device=rewards.device)

    def update(self, batch: Transitions) -> dict[str, float]:
        return {}
