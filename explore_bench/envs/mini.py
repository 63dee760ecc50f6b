"""Small sparse-reward tasks for the one-machine ``mini`` suite.

Each is cheap to simulate, gives reward only at a hard-to-reach goal (so an agent without an
exploration bonus rarely sees any), and reports a state index or position in ``info`` for
coverage metrics. Observations are float32 vectors, so MLP agents and bonuses handle them.

- `SparseMountainCarEnv`: discrete MountainCar (Moore, 1990; gymnasium's MountainCar-v0)
  with reward 1 only on reaching the flag (as in Tang et al., 2017), observation in [-1, 1].
- `DeepSeaEnv`: the deterministic DeepSea of bsuite (Osband et al., ICLR 2020), an N x N
  "go right every step" chain with a per-cell random action mapping and a small move cost.
- `FourRoomsEnv`: a sparse four-rooms grid world (Sutton, Precup & Singh, 1999) with the goal
  in the corner opposite the start.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.mountain_car import MountainCarEnv


class SparseMountainCarEnv(MountainCarEnv):
    """Discrete MountainCar (gymnasium's MountainCar-v0) paying 1.0 at the flag, else 0.0.

    The sparse variant used by Tang et al. (NeurIPS 2017). gymnasium's -1 per step is
    replaced by 1 at the flag so a score is a success rate. The observation is (position,
    velocity) mapped linearly onto [-1, 1]: raw velocity spans +-0.07 against position's
    1.8, so a network, a random projection (SimHash) or a freshly started running
    normaliser (RND) would all but ignore velocity, the dimension that matters. ``info``
    keeps the raw position and velocity (for coverage).
    """

    def __init__(self, render_mode: str | None = None, goal_velocity: float = 0.0) -> None:
        super().__init__(render_mode=render_mode, goal_velocity=goal_velocity)
        self._low = np.array([self.min_position, -self.max_speed], dtype=np.float32)
        self._high = np.array([self.max_position, self.max_speed], dtype=np.float32)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def _observe(self, obs: np.ndarray, info: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        """Scaled observation, and ``info`` with the raw position and velocity added."""
        scaled = (2.0 * (obs - self._low) / (self._high - self._low) - 1.0).astype(np.float32)
        return scaled, {**info, "position": float(obs[0]), "velocity": float(obs[1])}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, _, terminated, truncated, info = super().step(action)
        scaled, info = self._observe(obs, info)
        return scaled, 1.0 if terminated else 0.0, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        return self._observe(*super().reset(**kwargs))


class DeepSeaEnv(gym.Env):
    """Deterministic DeepSea of size N (bsuite's ``deep_sea``), observation one-hot of the cell.

    The agent starts top-left and descends one row per step; one action moves it right
    (costing 0.01 / N), the other left. Which action is "right" is drawn per cell from
    ``mapping_seed`` (fixed per task, so all vector envs share one MDP). Moving right from
    the bottom-right cell pays 1, so the optimal return is 0.99 and a random policy finds
    it once in 2^N episodes. Unlike bsuite, the observation after the last step is a cell of
    an extra terminal row (one-hot over (N + 1) x N) instead of all zeros, so a bonus that
    scores the next observation can tell where the episode ended.
    """

    metadata = {"render_modes": []}

    def __init__(self, size: int = 10, mapping_seed: int = 0, move_cost: float = 0.01) -> None:
        if size < 2:
            raise ValueError(f"DeepSea size must be >= 2, got {size}")
        self.size = size
        self.move_cost = move_cost
        self.action_mapping = np.random.default_rng(mapping_seed).integers(0, 2, (size, size))
        self.observation_space = spaces.Box(0.0, 1.0, shape=((size + 1) * size,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        # A compact index over the cells a step can land in: row r >= 1, column <= min(r, N-1).
        self._index = -np.ones((size + 1, size), dtype=np.int64)
        cells = [(r, c) for r in range(1, size + 1) for c in range(min(r, size - 1) + 1)]
        for i, (r, c) in enumerate(cells):
            self._index[r, c] = i
        self.n_states = len(cells)
        self._row = 0
        self._col = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(((self.size + 1) * self.size,), dtype=np.float32)
        obs[self._row * self.size + self._col] = 1.0
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._row, self._col = 0, 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._row >= self.size:
            raise RuntimeError("DeepSea: step() after the episode ended; call reset()")
        right = int(action) == self.action_mapping[self._row, self._col]
        reward = 0.0
        if right:
            if self._col == self.size - 1:
                reward += 1.0  # only reachable on the last row: right at every step
            reward -= self.move_cost / self.size
            self._col = min(self._col + 1, self.size - 1)
        else:
            self._col = max(self._col - 1, 0)
        self._row += 1
        terminated = self._row == self.size
        info = {"state": int(self._index[self._row, self._col])}
        return self._obs(), reward, terminated, False, info


def four_rooms_layout(room_size: int) -> np.ndarray:
    """Free-cell mask of four square rooms of ``room_size`` cells, a doorway mid-wall each."""
    side = 2 * room_size + 3
    free = np.ones((side, side), dtype=bool)
    free[[0, -1], :] = free[:, [0, -1]] = False
    mid = room_size + 1
    free[mid, :] = free[:, mid] = False
    door = room_size // 2 + 1
    for a, b in ((mid, door), (mid, mid + door), (door, mid), (mid + door, mid)):
        free[a, b] = True
    return free


class FourRoomsEnv(gym.Env):
    """Sparse four-rooms grid world: reward 1 and termination on reaching the goal cell.

    Start top-left, goal bottom-right (opposite rooms, two doorways apart). Actions: up,
    down, left, right; moving into a wall leaves the agent in place. The observation is a
    one-hot of the row concatenated with a one-hot of the column (2 x side), which tells
    every cell apart and lets an MLP generalise along rows and columns.
    """

    metadata = {"render_modes": []}
    _MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))

    def __init__(self, room_size: int = 9) -> None:
        if room_size < 2:
            raise ValueError(f"FourRooms room_size must be >= 2, got {room_size}")
        self.free = four_rooms_layout(room_size)
        self.height, self.width = self.free.shape
        free_cells = np.argwhere(self.free)
        self.start = tuple(int(v) for v in free_cells[0])
        self.goal = tuple(int(v) for v in free_cells[-1])
        self._index = -np.ones(self.free.shape, dtype=np.int64)
        self._index[self.free] = np.arange(len(free_cells))
        self.n_states = len(free_cells)
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(self.height + self.width,), dtype=np.float32
        )
        self.action_space = spaces.Discrete(4)
        self._pos = self.start

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.height + self.width,), dtype=np.float32)
        obs[self._pos[0]] = 1.0
        obs[self.height + self._pos[1]] = 1.0
        return obs

    def _info(self) -> dict[str, Any]:
        return {"state": int(self._index[self._pos])}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._pos = self.start
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        dr, dc = self._MOVES[int(action)]
        row, col = self._pos[0] + dr, self._pos[1] + dc
        if self.free[row, col]:
            self._pos = (row, col)
        terminated = self._pos == self.goal
        return self._obs(), 1.0 if terminated else 0.0, terminated, False, self._info()
