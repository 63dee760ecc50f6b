"""A bonus plugin that forgot to implement ``update``: loading it must say so."""

from __future__ import annotations

import torch

from bonuses.base import IntrinsicBonus, Transitions


class NoUpdate(IntrinsicBonus):
    """Scores transitions but has no ``update``."""

    def compute(self, batch: Transitions) -> torch.Tensor:
        return torch.zeros(batch.ext_rewards.shape)
