"""A bonus whose update kills its own process: a worker that dies without a traceback."""

from __future__ import annotations

import os
import signal

import torch

from bonuses.base import Transitions
from bonuses.none import NoBonus


class CrashingBonus(NoBonus):
    """SIGKILLs the process in update, like the kernel's OOM killer would."""

    def update(self, batch: Transitions) -> dict[str, float]:
        os.kill(os.getpid(), signal.SIGKILL)
        return {}


class NaNBonus(NoBonus):
    """Scores every transition NaN: the harness must fail this cell, and only this one."""

    def compute(self, batch: Transitions) -> torch.Tensor:
        return torch.full(batch.ext_rewards.shape, float("nan"))
