"""MiniGrid tasks (Chevalier-Boisvert et al., "Minigrid & Miniworld", NeurIPS 2023; the
Farama ``minigrid`` package) under the suite's protocol.

`make_minigrid` builds a registered MiniGrid id and wraps it in `SymbolicView`:

- Observation: the standard partial, egocentric 7 x 7 x 3 symbolic view (object index,
  colour index, door state; agent at the bottom centre facing up, no seeing through walls)
  moved channel-first, a (3, 7, 7) uint8 Box, as NovelD, RIDE and E3B's MiniGrid runs use
  it. The mission string and the separate direction entry are dropped (as minigrid's
  ``ImgObsWrapper`` does); the task is fixed per id, so the mission carries no information.
- Reward and horizon: the package's own, ``1 - 0.9 * t / T`` on success at step t, else 0,
  truncated at the package's ``max_steps`` T.
- ``info["state_key"]`` (every step): an int64 hash of the fully observable state after the
  step (`state_keys`), the encoded grid (minigrid ``Grid.encode``, what ``FullyObsWrapper``
  shows, the carried object aside) plus the agent's position and direction. Equal states
  give equal keys, here and on the envpool backend (`minigrid_envpool`), which hashes the
  same encoding the same way. NovelD (Zhang et al. 2021) and RIDE (Raileanu & Rocktaeschel
  2020) count exact full-grid observations this way.
- At an episode's last step: ``info["success"]`` (the goal was reached) and
  ``info["episode_coverage"]``, the share of the layout's reachable cells the agent stood on
  (reachable: connected to the start through anything but walls; locked doors count, their
  key is in the level).
"""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from explore_bench.envs.minigrid_view import VIEW, egocentric_view, pad_grid

#: minigrid's object index of a wall (minigrid.core.constants.OBJECT_TO_IDX).
_WALL = 2
#: Largest index per channel of the symbolic view: object (agent = 10), colour (grey = 5),
#: door state (locked = 2); minigrid.core.constants.
VIEW_HIGH = (10, 5, 2)


def view_space() -> spaces.Box:
    """The (3, 7, 7) uint8 space of the channel-first symbolic view."""
    high = np.broadcast_to(np.asarray(VIEW_HIGH, dtype=np.uint8)[:, None, None], (3, 7, 7))
    return spaces.Box(0, high.copy(), dtype=np.uint8)


def grid_hash(encoded: np.ndarray) -> np.uint64:
    """A 64-bit hash (BLAKE2b; stable across processes and runs) of an encoded grid, a
    (width, height, 3) uint8 array as minigrid's ``Grid.encode`` returns it."""
    digest = hashlib.blake2b(np.ascontiguousarray(encoded, np.uint8).tobytes(), digest_size=8)
    return np.uint64(int.from_bytes(digest.digest(), "little"))


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele et al. 2014), elementwise on uint64 (wrapping)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def state_keys(grid: np.ndarray, pos: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """int64 keys of full states: ``grid`` (N,) `grid_hash` values, ``pos`` (N, 2) the
    agent's cells, ``direction`` (N,) its directions. One function of the state on both
    backends, in NumPy so that a vector env keys all its envs at once (a BLAKE2b call per
    env and step cost 2 us each in Python)."""
    pos = np.asarray(pos, dtype=np.uint64).reshape(-1, 2)
    pose = (
        pos[:, 0]
        | (pos[:, 1] << np.uint64(16))
        | (np.asarray(direction, dtype=np.uint64).reshape(-1) << np.uint64(32))
    )
    return _mix(np.asarray(grid, dtype=np.uint64) ^ _mix(pose + np.uint64(1))).view(np.int64)


def reachable_cells(encoded: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """Mask (width, height) of the cells connected to ``start`` by 4-neighbour moves through
    any non-wall cell of a minigrid ``Grid.encode()`` array."""
    open_ = encoded[..., 0] != _WALL
    seen = np.zeros(open_.shape, dtype=bool)
    queue = collections.deque([start])
    seen[start] = True
    while queue:
        x, y = queue.popleft()
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            inside = 0 <= nx < open_.shape[0] and 0 <= ny < open_.shape[1]
            if inside and open_[nx, ny] and not seen[nx, ny]:
                seen[nx, ny] = True
                queue.append((nx, ny))
    return seen


class SymbolicView(gym.Wrapper):
    """A MiniGrid env as a (3, 7, 7) uint8 observation with state keys and coverage in info.

    The grid only changes through the agent's pickup, drop and toggle actions in the static
    tasks registered here (no moving obstacles), and those change only the carried object and
    the cell in front of the agent, so the encoded grid behind ``state_key`` is recomputed
    when the env holds a new grid (a reset) and after such an action changed one of them
    (encoding a 25 x 25 MultiRoom grid costs more than a step).

    ``fast_view`` (default): the view is sliced from that encoding (`minigrid_view`), the
    package's ``gen_obs`` being replaced on this env by `_observe`, which returns the same
    observation (tests/test_minigrid_view.py; ``fast_view=False`` keeps the package's).
    Measured 2026-12-07 on this 2-core machine with nothing else running, three
    alternating pairs each: a SyncVectorEnv of 256 envs stepped with random actions runs
    MultiRoomN6S5 at 6,700-8,500 steps/s against the package view's 3,500-5,000 (x1.7-2.0)
    and DoorKey8x8 at 10,400-11,000 against 5,000-5,400 (x1.9-2.2); PPO ``none`` on
    MultiRoomN6S5 with reproduce-rlexplore's settings (256 x 32, one torch thread, 65,536
    steps, two pairs) spends 9.9-11.4 s acting instead of 17.2-18.6 s.
    """

    def __init__(self, env: gym.Env, fast_view: bool = True) -> None:
        super().__init__(env)
        if env.observation_space["image"].shape != (7, 7, 3):  # type: ignore[index]
            raise ValueError("SymbolicView: only minigrid's default 7 x 7 view is supported")
        self.observation_space = view_space()
        base: Any = env.unwrapped
        self._base = base
        self._mutating = {base.actions.pickup, base.actions.drop, base.actions.toggle}
        self._encoded_grid: Any = None  # the Grid object the encoding below is of
        self._encoded = np.zeros((1, 1, 3), dtype=np.uint8)
        self._padded = pad_grid(self._encoded)
        self._before: tuple[Any, ...] | None = None
        self._grid_hash = np.uint64(0)
        self._reachable = np.zeros((1, 1), dtype=bool)
        self._visited = np.zeros((1, 1), dtype=bool)
        if fast_view and not base.see_through_walls and base.agent_view_size == VIEW:
            base.gen_obs = self._observe  # the package's step and reset end by calling it

    def _view(self, obs: Mapping[str, Any]) -> np.ndarray:
        return np.ascontiguousarray(np.transpose(obs["image"], (2, 0, 1)))

    def _refresh(self) -> None:
        """Re-encode the grid if the env holds a new one or the last action changed it."""
        changed = self._before is not None and self._front() != self._before
        if changed or self._base.grid is not self._encoded_grid:
            self._encoded_grid = self._base.grid
            self._encoded = self._base.grid.encode()
            self._padded = pad_grid(self._encoded)
            self._grid_hash = grid_hash(self._encoded)
        self._before = None

    def _observe(self) -> dict[str, Any]:
        """The package's ``gen_obs()``, from the encoded grid (`minigrid_view`)."""
        self._refresh()
        base = self._base
        carried = base.carrying.encode() if base.carrying else None
        top = base.get_view_exts()[:2]
        image = egocentric_view(self._padded, top, base.agent_dir, carried)
        return {"image": image, "direction": base.agent_dir, "mission": base.mission}

    def state_key(self) -> int:
        """Hash of the full grid, the agent's position and its direction (after the step)."""
        pos = np.asarray(self._base.agent_pos)
        return int(state_keys(np.asarray([self._grid_hash]), pos, self._base.agent_dir)[0])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._before = None
        self._refresh()
        start = tuple(int(v) for v in self._base.agent_pos)
        self._reachable = reachable_cells(self._encoded, start)  # type: ignore[arg-type]
        self._visited = np.zeros_like(self._reachable)
        self._visited[start] = True
        return self._view(obs), {**info, "state_key": self.state_key()}

    def _front(self) -> tuple[Any, ...]:
        """What a pickup, drop or toggle can change: the carried object, the object in front
        of the agent and, for a door, its flags."""
        cell = self._base.grid.get(*self._base.front_pos)
        flags = (cell.is_open, cell.is_locked) if cell is not None and cell.type == "door" else ()
        return self._base.carrying, cell, flags

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._before = self._front() if int(action) in self._mutating else None
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._refresh()  # done already inside the step when `_observe` made the view
        x, y = self._base.agent_pos
        self._visited[int(x), int(y)] = True
        info = {**info, "state_key": self.state_key()}
        if terminated or truncated:
            info["success"] = bool(terminated and float(reward) > 0.0)
            info["episode_coverage"] = float(
                (self._visited & self._reachable).sum() / self._reachable.sum()
            )
        return self._view(obs), float(reward), terminated, truncated, info


def make_minigrid(minigrid_id: str, fast_view: bool = True, **kwargs: Any) -> gym.Env:
    """The minigrid id (its reward and max_steps unchanged) as a `SymbolicView`."""
    import minigrid

    gym.register_envs(minigrid)
    return SymbolicView(gym.make(minigrid_id, **kwargs), fast_view=fast_view)


def shortest_solution(env: gym.Env, max_states: int = 200_000) -> list[int]:
    """The fewest actions that solve the current episode of a MiniGrid env (its layout as
    reset), by breadth-first search over its full states; the env is left as it was.

    Used for the cards' optimal reference scores and for scripted test paths. A state is the
    agent's position, direction and carried object, the grid's contents and every door's
    flags; the search steps the env itself (restoring a snapshot before each expansion), so
    it follows the package's own dynamics. The ``done`` action changes nothing and is left
    out. Raises if no solution is found within ``max_states`` states.
    """
    base: Any = env.unwrapped
    doors = [o for o in base.grid.grid if o is not None and o.type == "door"]
    actions = [int(a) for a in base.actions if a != base.actions.done]

    def snapshot() -> tuple[Any, ...]:
        return (
            tuple(base.agent_pos),
            base.agent_dir,
            base.carrying,
            list(base.grid.grid),
            tuple((d.is_open, d.is_locked) for d in doors),
        )

    def restore(state: tuple[Any, ...]) -> None:
        base.agent_pos, base.agent_dir, base.carrying = state[0], state[1], state[2]
        base.grid.grid[:] = state[3]
        for door, (is_open, is_locked) in zip(doors, state[4], strict=True):
            door.is_open, door.is_locked = is_open, is_locked

    def key(state: tuple[Any, ...]) -> tuple[Any, ...]:
        return (state[0], state[1], id(state[2]), tuple(map(id, state[3])), state[4])

    start = snapshot()
    step_count = base.step_count
    parents: dict[tuple[Any, ...], tuple[tuple[Any, ...], int] | None] = {key(start): None}
    frontier = collections.deque([start])
    found: tuple[tuple[Any, ...], int, tuple[Any, ...]] | None = None
    try:
        while frontier and found is None:
            state = frontier.popleft()
            for action in actions:
                restore(state)
                base.step_count = 0  # the search must never hit the time limit
                _, reward, terminated, _, _ = base.step(action)
                if terminated and float(reward) > 0.0:
                    found = (state, action, snapshot())
                    break
                nxt = snapshot()
                if not terminated and key(nxt) not in parents:
                    parents[key(nxt)] = (key(state), action)
                    frontier.append(nxt)
            if len(parents) > max_states:
                raise RuntimeError(f"shortest_solution: more than {max_states} states")
    finally:
        restore(start)
        base.step_count = step_count
    if found is None:
        raise RuntimeError("shortest_solution: the episode cannot be solved")
    state, last, _ = found
    path = [last]
    link = parents[key(state)]
    while link is not None:
        parent, action = link
        path.append(action)
        link = parents[parent]
    return path[::-1]


def reference_scores(minigrid_id: str, episodes: int, layouts: int) -> tuple[float, float]:
    """(mean return of uniform random actions over ``episodes`` episodes, mean optimal score
    1 - 0.9 t*/T over ``layouts`` layouts), episode k / layout k reset with seed k."""
    env = make_minigrid(minigrid_id)
    rng = np.random.default_rng(0)
    total = 0.0
    for k in range(episodes):
        env.reset(seed=k)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))  # type: ignore[attr-defined]
            total += float(reward)
            done = terminated or truncated
    best = 0.0
    horizon = env.unwrapped.max_steps  # type: ignore[attr-defined]
    for k in range(layouts):
        env.reset(seed=k)
        best += 1.0 - 0.9 * len(shortest_solution(env)) / horizon
    return total / max(episodes, 1), best / max(layouts, 1)


if __name__ == "__main__":  # the cards' reference figures
    import sys

    episodes, layouts = int(sys.argv[1]), int(sys.argv[2])
    for name in sys.argv[3:]:
        print(name, episodes, layouts, reference_scores(name, episodes, layouts), flush=True)
