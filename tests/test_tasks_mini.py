"""The mini suite's tasks: DeepSea, four rooms, sparse MountainCar."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
import pytest

import explore_bench  # noqa: F401  (registers the ids)
from explore_bench.envs.mini import DeepSeaEnv, FourRoomsEnv, SparseMountainCarEnv


def _deep_sea_return(env: DeepSeaEnv, go_right: bool) -> tuple[float, int, bool]:
    env.reset(seed=0)
    total, steps, terminated = 0.0, 0, False
    while not terminated:
        right = env.action_mapping[env._row, env._col]
        _, reward, terminated, truncated, _ = env.step(right if go_right else 1 - right)
        assert not truncated
        total += reward
        steps += 1
    return total, steps, terminated


def test_deep_sea_returns_and_length():
    env = DeepSeaEnv(size=20)
    assert _deep_sea_return(env, go_right=True) == (pytest.approx(0.99), 20, True)
    assert _deep_sea_return(env, go_right=False) == (0.0, 20, True)
    # one left move anywhere loses the treasure: the last column is then unreachable
    env.reset(seed=0)
    total = 0.0
    for t in range(20):
        right = env.action_mapping[env._row, env._col]
        total += env.step(1 - right if t == 3 else right)[1]
    assert total == pytest.approx(-0.01 * 19 / 20)


def test_deep_sea_observation_and_shared_mapping():
    env = DeepSeaEnv(size=5)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (30,) and obs.sum() == 1.0 and obs[0] == 1.0
    right = env.action_mapping[0, 0]
    obs, *_ = env.step(right)
    assert obs[1 * 5 + 1] == 1.0 and obs.sum() == 1.0
    # the action mapping is part of the task, not of the episode seed
    other = DeepSeaEnv(size=5)
    other.reset(seed=99)
    np.testing.assert_array_equal(env.action_mapping, other.action_mapping)
    assert not np.array_equal(env.action_mapping, DeepSeaEnv(size=5, mapping_seed=1).action_mapping)
    assert env.n_states == sum(min(r, 4) + 1 for r in range(1, 6))


def _shortest_path(env: FourRoomsEnv) -> list[int]:
    prev = {env.start: None}
    queue = deque([env.start])
    while queue:
        cell = queue.popleft()
        for a, (dr, dc) in enumerate(env._MOVES):
            nxt = (cell[0] + dr, cell[1] + dc)
            if env.free[nxt] and nxt not in prev:
                prev[nxt] = (cell, a)
                queue.append(nxt)
    actions, cell = [], env.goal
    while prev[cell] is not None:
        cell, a = prev[cell]
        actions.append(a)
    return actions[::-1]


def test_four_rooms_layout_and_goal():
    env = gym.make("explore_bench/FourRooms-v0")
    raw = env.unwrapped
    assert raw.n_states == 4 * 11 * 11 + 4 and raw.free.shape == (25, 25)
    path = _shortest_path(raw)
    assert len(path) == 44  # corner to opposite corner through two doorways
    env.reset(seed=0)
    rewards = [env.step(a)[1] for a in path[:-1]]
    assert rewards == [0.0] * 43
    obs, reward, terminated, _, info = env.step(path[-1])
    assert reward == 1.0 and terminated and info["state"] == raw.n_states - 1
    assert obs.sum() == 2.0 and obs[raw.goal[0]] == 1.0 and obs[25 + raw.goal[1]] == 1.0


def test_four_rooms_walls_block_and_horizon():
    env = gym.make("explore_bench/FourRooms-v0")
    env.reset(seed=0)
    start = env.unwrapped._pos
    for action in (0, 2):  # up and left from the top-left corner hit the outer wall
        _, _, terminated, truncated, _ = env.step(action)
        assert env.unwrapped._pos == start and not terminated and not truncated
    flags = [env.step(0)[2:4] for _ in range(3, 201)]  # steps 3..200
    assert flags[-1] == (False, True) and not any(any(f) for f in flags[:-1])


def test_sparse_mountain_car_pays_only_at_the_flag():
    env = gym.make("explore_bench/SparseMountainCar-v0")
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and obs[1] == 0.0  # starts at rest
    obs, reward, terminated, _, info = env.step(2)
    assert reward == 0.0 and not terminated
    assert obs[1] == pytest.approx(info["velocity"] / 0.07, abs=1e-6)  # scaled to [-1, 1]
    env.unwrapped.state = np.array([0.49, 0.05])
    _, reward, terminated, _, info = env.step(2)
    assert reward == 1.0 and terminated and info["position"] >= 0.5
    assert gym.spec("explore_bench/SparseMountainCar-v0").max_episode_steps == 200
    assert isinstance(env.unwrapped, SparseMountainCarEnv)
