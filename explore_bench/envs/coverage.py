"""Coverage trackers: how much of a task's state space the agent has visited.

They implement `explore_bench.envs.tasks.CoverageTracker` and read values the task's environment
puts into ``info`` (``update`` receives `explore_bench.envs.tasks.step_infos` output: per-env
arrays plus ``"_key"`` presence masks). Logged beside return, as Tang et al. (2017) and the
EMI paper (Kim et al., 2019) discuss exploration in terms of rooms / area reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Atari games whose RAM holds the current room, and the byte (Montezuma's Revenge: byte 3).
#: Their tasks log room coverage from it (`DistinctCount` over ``info["room"]``), so they run
#: on the gymnasium stack: ale-py 0.12.1's AtariVectorEnv returns no RAM.
ROOM_RAM_BYTE = {"MontezumaRevenge": 3}


def _present(infos: Mapping[str, Any], key: str) -> np.ndarray | None:
    """Values of ``key`` for the envs that reported it this step, or None."""
    if key not in infos:
        return None
    values = np.asarray(infos[key])
    mask = infos.get(f"_{key}")
    if mask is not None:
        values = values[np.asarray(mask, dtype=bool)]
    return values


class GridCoverage:
    """Share of the cells of a regular grid over info values (e.g. a centre of mass) visited.

    Values outside ``[low, high]`` count in the edge cells, so the share never exceeds 1.
    """

    def __init__(
        self,
        keys: Sequence[str],
        low: Sequence[float],
        high: Sequence[float],
        bins: Sequence[int],
        metric: str = "coverage_cells",
    ) -> None:
        if not (len(keys) == len(low) == len(high) == len(bins)) or not keys:
            raise ValueError("GridCoverage: keys, low, high and bins must have one entry per axis")
        if any(h <= lo for lo, h in zip(low, high)) or any(b < 1 for b in bins):
            raise ValueError(
                f"GridCoverage: need high > low and bins >= 1, got {low}, {high}, {bins}"
            )
        if not metric.startswith("coverage_"):
            raise ValueError(f"GridCoverage: metric {metric!r} must start with 'coverage_'")
        self.keys = tuple(keys)
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.bins = np.asarray(bins, dtype=np.int64)
        self.metric = metric
        self._visited = np.zeros(tuple(self.bins), dtype=bool)

    def update(self, next_obs: np.ndarray, infos: Mapping[str, Any]) -> None:
        columns = [_present(infos, key) for key in self.keys]
        if any(c is None for c in columns):
            return
        points = np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=-1)
        if points.size == 0:
            return
        scaled = (points - self.low) / (self.high - self.low) * self.bins
        cells = np.clip(np.floor(scaled).astype(np.int64), 0, self.bins - 1)
        self._visited[tuple(cells.T)] = True

    def metrics(self) -> dict[str, float]:
        return {self.metric: float(self._visited.mean())}


class StateCoverage:
    """Share of a finite set of states visited; the env reports a state index in ``info``."""

    def __init__(self, n_states: int, key: str = "state", metric: str = "coverage_states") -> None:
        if n_states < 1:
            raise ValueError(f"StateCoverage: n_states must be >= 1, got {n_states}")
        if not metric.startswith("coverage_"):
            raise ValueError(f"StateCoverage: metric {metric!r} must start with 'coverage_'")
        self.key = key
        self.metric = metric
        self._visited = np.zeros(n_states, dtype=bool)

    def update(self, next_obs: np.ndarray, infos: Mapping[str, Any]) -> None:
        states = _present(infos, self.key)
        if states is not None and states.size:
            self._visited[np.asarray(states, dtype=np.int64)] = True

    def metrics(self) -> dict[str, float]:
        return {self.metric: float(self._visited.mean())}


class DistinctCount:
    """Number of distinct values of an info key seen, e.g. rooms of Montezuma's Revenge."""

    def __init__(self, key: str = "room", metric: str = "coverage_rooms") -> None:
        if not metric.startswith("coverage_"):
            raise ValueError(f"DistinctCount: metric {metric!r} must start with 'coverage_'")
        self.key = key
        self.metric = metric
        self._seen: set[int] = set()

    def update(self, next_obs: np.ndarray, infos: Mapping[str, Any]) -> None:
        values = _present(infos, self.key)
        if values is not None:
            self._seen.update(int(v) for v in values.ravel())

    def metrics(self) -> dict[str, float]:
        return {self.metric: float(len(self._seen))}


class EpisodeCoverage:
    """Per-episode coverage and success of tasks whose layout changes every episode (MiniGrid).

    Layouts are drawn anew every episode, so a share of cells visited over all of training
    would mix layouts; the env instead reports, at each episode's last step,
    ``info["episode_coverage"]`` (the share of its own layout's reachable cells the agent
    stood on) and ``info["success"]``. Logged: the mean over the last ``window`` finished
    episodes (``coverage_cells``) and the share of them that reached the goal
    (``train_success_rate``).
    """

    def __init__(self, window: int = 100) -> None:
        if window < 1:
            raise ValueError(f"EpisodeCoverage: window must be >= 1, got {window}")
        self.window = window
        # Plain lists (not deques): the agent's checkpoint holds this state, and a checkpoint
        # holds only tensors and plain containers.
        self._coverage: list[float] = []
        self._success: list[bool] = []

    def update(self, next_obs: np.ndarray, infos: Mapping[str, Any]) -> None:
        coverage, success = _present(infos, "episode_coverage"), _present(infos, "success")
        if coverage is not None and success is not None:
            self._coverage = [*self._coverage, *map(float, coverage.ravel())][-self.window :]
            self._success = [*self._success, *map(bool, success.ravel())][-self.window :]

    def metrics(self) -> dict[str, float]:
        if not self._coverage:
            return {}
        return {
            "coverage_cells": float(np.mean(self._coverage)),
            "train_success_rate": float(np.mean(self._success)),
        }
