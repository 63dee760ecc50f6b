"""`SymbolicView`'s view sliced from the encoded grid (`minigrid_view`) is the package's
``gen_obs``: the package's own method, called on the same env, is the oracle."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import minigrid
import numpy as np
import pytest
from minigrid.core.grid import Grid
from minigrid.core.world_object import Ball, Box, Door, Key, Wall

import explore_bench  # noqa: F401  (registers the ids)
from explore_bench.envs.catalog import MINIGRID_TASKS
from explore_bench.envs.minigrid_tasks import SymbolicView, make_minigrid, shortest_solution
from explore_bench.envs.minigrid_view import visible

gym.register_envs(minigrid)
TASKS = {t.name: t for t in MINIGRID_TASKS}
PICKUP, DROP, TOGGLE = 3, 4, 5


def _package_view(env: gym.Env) -> np.ndarray:
    """The package's observation of the env's current state, channel-first."""
    base: Any = env.unwrapped
    return np.transpose(type(base).gen_obs(base)["image"], (2, 0, 1))


def _fast(name: str) -> SymbolicView:
    env = make_minigrid(TASKS[name].minigrid_id)
    assert isinstance(env, SymbolicView)
    assert env.unwrapped.gen_obs == env._observe  # the fast path is on
    return env


@pytest.mark.parametrize("name", list(TASKS))
def test_every_step_of_a_random_walk_sees_what_the_package_sees(name):
    """Random actions, half of them pickup, drop or toggle, over episodes of several
    layouts: doors open and shut, keys, balls and boxes picked up, carried and dropped."""
    env = _fast(name)
    rng = np.random.default_rng(0)
    doors = 0
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        np.testing.assert_array_equal(obs, _package_view(env))
        for _ in range(150):
            action = rng.choice([0, 1, 2, 2, PICKUP, DROP, TOGGLE, TOGGLE])
            obs, _, terminated, truncated, _ = env.step(action)
            np.testing.assert_array_equal(obs, _package_view(env))
            assert obs.dtype == np.uint8 and env.observation_space.contains(obs)
            doors += bool((obs[0] == 4).any())
            if terminated or truncated:
                break
    assert doors > 0  # every catalogued task has doors, and they were in view


def test_a_solution_that_carries_a_key_through_a_door_sees_what_the_package_sees():
    env = _fast("DoorKey5x5")
    env.reset(seed=4)
    path = shortest_solution(env)
    assert PICKUP in path and TOGGLE in path
    carried = False
    for action in path:
        obs, *_ = env.step(action)
        np.testing.assert_array_equal(obs, _package_view(env))
        carried |= env.unwrapped.carrying is not None and obs[0, 3, 6] == 5  # key in view
    assert carried


@pytest.mark.parametrize("name", ["MultiRoomN6S5", "KeyCorridorS3R3", "ObstructedMaze1Dl"])
def test_any_pose_at_any_cell_sees_what_the_package_sees(name):
    """Every direction at random cells, the grid's edges included (the window reaches past
    them), with and without a carried object."""
    env = _fast(name)
    env.reset(seed=1)
    base: Any = env.unwrapped
    rng = np.random.default_rng(1)
    for k in range(400):
        base.agent_pos = (int(rng.integers(base.width)), int(rng.integers(base.height)))
        base.agent_dir = int(rng.integers(4))
        base.carrying = (None, Key("red"), Ball("blue"))[k % 3]
        np.testing.assert_array_equal(base.gen_obs()["image"], type(base).gen_obs(base)["image"])


def test_occlusion_matches_process_vis_on_random_cells():
    rng = np.random.default_rng(2)
    makers = [
        lambda: None,
        lambda: Wall(),
        lambda: Door("red", is_open=True),
        lambda: Door("red"),
        lambda: Door("red", is_locked=True),
        lambda: Key("red"),
        lambda: Box("green"),
    ]
    odds = [0.4, 0.3, 0.08, 0.08, 0.04, 0.05, 0.05]
    for _ in range(2000):
        grid = Grid(7, 7)
        for i in range(7):
            for j in range(7):
                grid.set(i, j, makers[int(rng.choice(7, p=odds))]())
        mask = visible(grid.encode())
        np.testing.assert_array_equal(mask, grid.process_vis(agent_pos=(3, 6)))


def test_the_package_view_stays_available_and_gives_the_same_episode():
    fast = _fast("MultiRoomN6S5")
    slow = make_minigrid(TASKS["MultiRoomN6S5"].minigrid_id, fast_view=False)
    assert "gen_obs" not in vars(slow.unwrapped)
    rng = np.random.default_rng(3)
    a, info_a = fast.reset(seed=5)
    b, info_b = slow.reset(seed=5)
    for _ in range(120):
        np.testing.assert_array_equal(a, b)
        assert info_a["state_key"] == info_b["state_key"]
        action = int(rng.integers(7))
        a, _, done_a, cut_a, info_a = fast.step(action)
        b, _, done_b, cut_b, info_b = slow.step(action)
        assert (done_a, cut_a) == (done_b, cut_b)
