"""MiniGrid on envpool's C++ engine (sail-sg/envpool >= 1.2.5), as the suite's vector env.

`EnvpoolMiniGridVectorEnv` gives what `minigrid_tasks.make_minigrid` envs in a same-step
autoreset gymnasium vector env give (the reference backend, ``run.vector=sync``):

- Observation: the (3, 7, 7) uint8 partial view, channel-first (envpool's ``image``; its
  ``direction`` and ``mission`` are dropped as `SymbolicView` drops them).
- Reward, termination, truncation: envpool's, which its own alignment tests check against
  the minigrid package step by step (``1 - 0.9 t / T`` on success, truncated at T). envpool
  computes the reward in float32; it is returned as float64, within 6e-8 of the package's.
- ``info["state_key"]``: the same function of the same full state as `SymbolicView`'s
  (`minigrid_tasks.state_keys` of the encoded grid, the agent's position and direction),
  so equal states give equal keys on both backends. The grid comes from envpool's
  ``debug_states`` (the package's ``Grid.encode`` layout, checked by the parity tests),
  read after a reset and after a pickup, drop or toggle visibly changed the cell in front
  of the agent or the carried object (the view's cells (3, 5) and (3, 6)): in the static
  tasks nothing else changes the grid.
- At an episode's last step: ``info["success"]`` and ``info["episode_coverage"]`` by the
  same rules (`minigrid_tasks.reachable_cells` of the layout at reset, the cells the agent
  stood on from envpool's ``agent_pos``), and ``info["final_obs"]``, the true final view;
  the returned observation is the next episode's first.

envpool resets an ended env on its *next* step, ignoring that step's action (measured with
1.2.5). To give the suite's same-step contract, the ended envs are stepped once more at
once, by themselves (``step(actions, env_ids)``), which returns their next episode's first
view: 37 us for 2 of 8 envs against 71 us for envpool's ``reset(env_ids)``, which gives the
same observation. Seeding as gymnasium's: ``reset(seed=s)`` seeds env i with s + i (envpool
fixes seeds when a pool is made, so a seeded reset makes a new pool, 0.4 ms). Layouts are
drawn by envpool's generators, not the package's: the same seed gives another layout than
on ``run.vector=sync``, and the two backends agree in distribution (tests/
test_minigrid_envpool.py), not layout for layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import envpool
import gymnasium as gym
import numpy as np

from explore_bench.envs.minigrid_tasks import grid_hash, reachable_cells, state_keys, view_space

#: minigrid's pickup (3), drop (4) and toggle (5): the only actions that change the grid.
PICKUP, TOGGLE = 3, 5


def debug_grids(
    pool: Any, env_ids: np.ndarray, crop: tuple[int, int] | None = None
) -> tuple[list[np.ndarray], list[Any]]:
    """The encoded grids (width, height, 3), as minigrid's ``Grid.encode`` lays them out, of
    envs ``env_ids`` of an envpool MiniGrid pool (cut to ``crop`` = (width, height) when
    given), and their debug states."""
    states = pool.debug_states(np.asarray(env_ids, dtype=np.int32))
    grids = [np.asarray(s.grid, dtype=np.uint8).reshape(s.width, s.height, 3) for s in states]
    if crop is not None:
        grids = [np.ascontiguousarray(g[: crop[0], : crop[1]]) for g in grids]
    return grids, states


class EnvpoolMiniGridVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of an envpool MiniGrid task under the suite's protocol (see the
    module's docstring); ``config`` goes to ``envpool.make`` (e.g. a room count)."""

    def __init__(
        self,
        envpool_id: str,
        num_envs: int,
        *,
        max_steps: int,
        config: Mapping[str, Any] | None = None,
        grid_crop: tuple[int, int] | None = None,
        num_threads: int = 1,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.envpool_id = envpool_id
        self.max_steps = max_steps
        self.grid_crop = grid_crop
        # One thread: a MiniGrid step costs about a microsecond, less than handing it to
        # another thread (DoorKey-8x8, 8 envs: 66k steps/s on one thread, 55k on two).
        self._make_kwargs = {
            **dict(config or {}),
            "env_type": "gymnasium",
            "num_envs": num_envs,
            "num_threads": num_threads,
            "max_episode_steps": max_steps,
        }
        self.num_envs = num_envs
        self.single_observation_space = view_space()
        self.single_action_space = gym.spaces.Discrete(7)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.spaces.MultiDiscrete(np.full(num_envs, 7))
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        self._all = np.ones(num_envs, dtype=bool)
        self._rows = np.arange(num_envs)
        #: The envpool pool (made at the first reset, anew at each seeded one); its
        #: ``debug_states`` show the full state.
        self.pool: Any = None
        self._obs = np.zeros((num_envs, 3, 7, 7), dtype=np.uint8)
        self._grid_hash = np.zeros(num_envs, dtype=np.uint64)
        self._visited = np.zeros((num_envs, 1, 1), dtype=bool)
        self._reachable = np.zeros((num_envs, 1, 1), dtype=bool)

    def _new_pool(self, seed: int | Sequence[int] | None) -> None:
        if isinstance(seed, Sequence):
            if len(seed) != self.num_envs:
                raise ValueError(f"reset: {len(seed)} seeds for {self.num_envs} envs")
            extra: dict[str, Any] = {"seed": 0, "env_seed": [int(s) for s in seed]}
        else:
            # envpool seeds env i with seed + i, as gymnasium's vector envs do; unseeded: random
            drawn = (
                np.random.default_rng().integers(2**31 - self.num_envs) if seed is None else seed
            )
            extra = {"seed": int(drawn)}
        self.pool = envpool.make(self.envpool_id, **self._make_kwargs, **extra)

    def _start(self, env_ids: np.ndarray, pos: np.ndarray) -> None:
        """Layout bookkeeping of episodes that just began: grid hash, reachable cells, the
        start cell visited."""
        grids, _ = debug_grids(self.pool, env_ids, self.grid_crop)
        width, height = grids[0].shape[:2]
        if self._visited.shape[1:] != (width, height):
            self._visited = np.zeros((self.num_envs, width, height), dtype=bool)
            self._reachable = np.zeros_like(self._visited)
        for i, grid, (x, y) in zip(env_ids, grids, pos, strict=True):
            self._grid_hash[i] = grid_hash(grid)
            self._reachable[i] = reachable_cells(grid, (int(x), int(y)))
        self._visited[env_ids] = False
        self._visited[env_ids, pos[:, 0], pos[:, 1]] = True

    @staticmethod
    def _view(obs: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(np.transpose(obs["image"], (0, 3, 1, 2)))

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if options:
            raise ValueError(f"EnvpoolMiniGridVectorEnv.reset takes no options, got {options!r}")
        if seed is not None or self.pool is None:
            self._new_pool(seed)
        obs, info = self.pool.reset()
        self._obs = self._view(obs)
        pos = np.asarray(info["agent_pos"], dtype=np.int64)
        self._start(self._rows, pos)
        keys = state_keys(self._grid_hash, pos, obs["direction"])
        return self._obs.copy(), {"state_key": keys, "_state_key": self._all}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions, dtype=np.int32)
        obs_dict, reward, terminated, truncated, info = self.pool.step(actions)
        obs = self._view(obs_dict)
        pos = np.asarray(info["agent_pos"], dtype=np.int64)
        # a range test, not np.isin: 1 us against 25 us per step at 8 envs
        mutating = (actions >= PICKUP) & (actions <= TOGGLE)
        if mutating.any():  # the front cell or the carried object changed: re-read the grid
            before, after = self._obs[:, :, 3, 5:], obs[:, :, 3, 5:]
            changed = np.flatnonzero(mutating & (before != after).any(axis=(1, 2)))
            if changed.size:
                grids, _ = debug_grids(self.pool, changed, self.grid_crop)
                for i, grid in zip(changed, grids, strict=True):
                    self._grid_hash[i] = grid_hash(grid)
        self._visited[self._rows, pos[:, 0], pos[:, 1]] = True
        keys = state_keys(self._grid_hash, pos, obs_dict["direction"])
        infos: dict[str, Any] = {"state_key": keys, "_state_key": self._all}
        done = terminated | truncated
        if done.any():
            ended = np.flatnonzero(done)
            seen = (self._visited[ended] & self._reachable[ended]).sum(axis=(1, 2))
            coverage = np.zeros(self.num_envs)
            coverage[ended] = seen / self._reachable[ended].sum(axis=(1, 2))
            infos.update(
                success=terminated & (reward > 0),
                _success=done,
                episode_coverage=coverage,
                _episode_coverage=done,
                final_obs=obs.copy(),
                _final_obs=done,
            )
            # envpool's dead step: it resets these envs now, whatever the action
            first, _, _, _, first_info = self.pool.step(np.zeros(ended.size, np.int32), ended)
            order = np.asarray(first_info["env_id"], dtype=np.int64)
            obs[order] = self._view(first)
            self._start(order, np.asarray(first_info["agent_pos"], dtype=np.int64))
        self._obs = obs
        return obs.copy(), reward.astype(np.float64), terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        self.pool = None
