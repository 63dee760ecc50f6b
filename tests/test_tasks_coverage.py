"""Coverage trackers on hand-built trajectories, and through a real vector env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import explore_bench  # noqa: F401  (registers the ids)
from explore_bench.envs.coverage import DistinctCount, GridCoverage, StateCoverage
from explore_bench.envs.mini import DeepSeaEnv
from explore_bench.envs.tasks import resolve_task, step_infos


def _infos(**columns):
    """step_infos-shaped dict: values plus "_key" masks (None marks a missing value)."""
    out = {}
    for key, values in columns.items():
        out[key] = np.array([0.0 if v is None else v for v in values])
        out[f"_{key}"] = np.array([v is not None for v in values])
    return out


def test_grid_coverage_x():
    cov = GridCoverage(("com_x",), (-15.0,), (15.0,), (60,), "coverage_com_cells")
    assert cov.metrics() == {"coverage_com_cells": 0.0}
    cov.update(np.zeros((4, 20)), _infos(com_x=[0.1, 0.2, -14.9, None]))
    assert cov.metrics()["coverage_com_cells"] == pytest.approx(2 / 60)  # 0.1 and 0.2 share
    cov.update(np.zeros((2, 20)), _infos(com_x=[100.0, -0.1]))  # beyond the grid: edge cell
    assert cov.metrics()["coverage_com_cells"] == pytest.approx(4 / 60)
    cov.update(np.zeros((1, 20)), {})  # no info this step: nothing changes
    assert cov.metrics()["coverage_com_cells"] == pytest.approx(4 / 60)


def test_grid_coverage_xy():
    cov = GridCoverage(("com_x", "com_y"), (-7, -7), (7, 7), (14, 14))
    # a straight walk along x at y = 0.5 crosses 14 cells of one row
    xs = np.linspace(-6.99, 6.99, 200)
    cov.update(np.zeros((200, 1)), _infos(com_x=xs, com_y=np.full(200, 0.5)))
    assert cov.metrics()["coverage_cells"] == pytest.approx(14 / 196)
    cov.update(np.zeros((2, 1)), _infos(com_x=[0.5, 0.5], com_y=[-3.5, 0.5]))
    assert cov.metrics()["coverage_cells"] == pytest.approx(15 / 196)


def test_state_coverage_and_rooms():
    cov = StateCoverage(4)
    cov.update(np.zeros((3, 1)), _infos(state=[0, 1, None]))
    cov.update(np.zeros((2, 1)), _infos(state=[1, 1]))
    assert cov.metrics() == {"coverage_states": 0.5}
    rooms = DistinctCount("room", "coverage_rooms")
    rooms.update(np.zeros((3, 1)), _infos(room=[1, 1, 0]))
    rooms.update(np.zeros((2, 1)), _infos(room=[None, 4]))
    assert rooms.metrics() == {"coverage_rooms": 3.0}


def test_metric_names_must_say_coverage():
    with pytest.raises(ValueError, match="coverage_"):
        StateCoverage(3, metric="states")


def test_deep_sea_coverage_through_a_same_step_vector_env():
    # Four envs take the four action pairs of DeepSea(2): together they reach every state,
    # including the terminal row, whose infos arrive in final_info (same-step autoreset).
    size = 2
    envs = gym.vector.SyncVectorEnv(
        [lambda: DeepSeaEnv(size=size) for _ in range(4)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    envs.reset(seed=0)
    mapping = envs.envs[0].action_mapping
    cov = StateCoverage(envs.envs[0].n_states)
    cols = [0, 0, 0, 0]
    for t, wants_right in enumerate(([1, 1, 0, 0], [1, 0, 1, 0])):
        actions = []
        for i, right in enumerate(wants_right):
            a = mapping[t, cols[i]] if right else 1 - mapping[t, cols[i]]
            cols[i] = min(cols[i] + 1, size - 1) if right else max(cols[i] - 1, 0)
            actions.append(a)
        obs, _, terminated, _, infos = envs.step(np.array(actions))
        cov.update(obs, step_infos(infos))
    assert terminated.all()
    assert cov.metrics()["coverage_states"] == 1.0


def test_tasks_carry_their_trackers():
    expected = {
        "explore_bench/SparseHalfCheetah-v0": "coverage_com_cells",
        "explore_bench/SwimmerGather-v0": "coverage_com_cells",
        "explore_bench/MontezumaRevenge-emi-v0": "coverage_rooms",
        "explore_bench/DeepSea20-v0": "coverage_states",
        "explore_bench/FourRooms-v0": "coverage_states",
        "explore_bench/SparseMountainCar-v0": "coverage_cells",
    }
    for name, metric in expected.items():
        task = resolve_task(name)
        assert task.coverage is not None
        assert list(task.coverage().metrics()) == [metric]
    assert resolve_task("explore_bench/Pong-modern-v0").coverage is None
