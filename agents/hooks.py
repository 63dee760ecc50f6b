"""What an agent is handed besides its envs and config: the interfaces it owns.

The loop in `agents.base` needs three things from outside the agent, and knows them only by
these protocols; the harness (`explore_bench.runs.runner`) wires the real ones in:

- a `Shaping` (``explore_bench.runs.shaping.RewardShaper``): rollout -> intrinsic rewards. It is
  the one place that decides the hook order (the bonus's compute/update order, the
  normaliser, the coefficient); the agent only adds its output before any return.
- a `StepInfoReader` (``explore_bench.envs.tasks.read_step``): the score and per-env info of one
  vector-env step, which depend on the task's wrappers and the vector env's autoreset
  bookkeeping. Without one, the env reward is the score (`reward_is_score`).
- optionally a `Coverage` tracker of the task's state space.

Tests can pass any object with these methods, so an agent runs without the harness.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

    from bonuses.base import IntrinsicBonus, Transitions


class Shaping(Protocol):
    """Turns a rollout into intrinsic rewards; stateful (normaliser statistics, schedule)."""

    #: The bonus it runs (the agent reads ``episodic`` and saves its state).
    bonus: IntrinsicBonus

    def __call__(
        self, batch: Transitions, progress: float
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """(intrinsic rewards (T, N) to add to the extrinsic ones, metrics of this step);
        ``progress`` is the share of the step budget used, in [0, 1]."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class StepInfoReader(Protocol):
    """Reads one vector-env step's game score and per-env info."""

    def __call__(
        self, reward: np.ndarray, infos: Mapping[str, Any], need_info: bool
    ) -> tuple[np.ndarray, Mapping[str, np.ndarray] | None]:
        """(each env's game score for this step, each env's info for this step).

        The info may be None unless ``need_info``: reading it costs time on every step.
        """


def reward_is_score(
    reward: np.ndarray, infos: Mapping[str, Any], need_info: bool
) -> tuple[np.ndarray, Mapping[str, np.ndarray] | None]:
    """The `StepInfoReader` of an agent run without the harness: the env reward is the
    score, and no per-env info is read."""
    return reward, ({} if need_info else None)


class Coverage(Protocol):
    """Counts how much of a task's state space the agent has visited (logged beside return)."""

    def update(self, next_obs: np.ndarray, infos: Mapping[str, Any]) -> None:
        """Feed one vector-env step: the observations and each env's info for the step."""

    def metrics(self) -> dict[str, float]:
        """Coverage figures so far, e.g. {"coverage_cells": 0.12}."""
