"""SparseHalfCheetah and SwimmerGather against the rllab facts (shared/reference/tasks.md)."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import explore_bench  # noqa: F401  (registers the ids)
from explore_bench.envs.swimmer_gather import APPLE, BOMB, sensor_readings

CHEETAH = "explore_bench/SparseHalfCheetah-v0"
GATHER = "explore_bench/SwimmerGather-v0"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # mujoco may write MUJOCO_LOG.TXT into the cwd


# --------------------------------------------------------------------- SparseHalfCheetah


def _cheetah():
    env = gym.make(CHEETAH)
    env.reset(seed=0)
    return env, env.unwrapped


def test_cheetah_observation_is_qpos_qvel_com():
    env, raw = _cheetah()
    obs, *_ = env.step(np.zeros(6, dtype=np.float32))
    assert obs.shape == (20,) == env.observation_space.shape
    np.testing.assert_allclose(obs[:8], raw.data.qpos[1:], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(obs[8:17], raw.data.qvel, rtol=1e-6, atol=1e-6)
    # whole-body centre of mass = mass-weighted mean of the bodies' COMs
    masses = raw.model.body_mass[1:]
    com = (raw.data.xipos[1:] * masses[:, None]).sum(0) / masses.sum()
    np.testing.assert_allclose(obs[17:], com, atol=1e-5)


def test_cheetah_reward_zero_at_reset_and_one_beyond_five_either_way():
    env, raw = _cheetah()
    _, reward, *_ = env.step(np.zeros(6, dtype=np.float32))
    assert reward == 0.0
    offset = raw._com()[0] - raw.data.qpos[0]  # COM_x - root_x for the current pose
    for target, expected in ((5.05, 1.0), (4.95, 0.0), (-5.05, 1.0), (-4.95, 0.0)):
        qpos = raw.data.qpos.copy()
        qpos[0] = target - offset
        raw.set_state(qpos, np.zeros(raw.model.nv))
        obs, reward, _, _, info = env.step(np.zeros(6, dtype=np.float32))
        assert reward == expected, (target, info["com_x"])
        assert abs(info["com_x"] - target) < 0.02
        assert obs[17] == pytest.approx(info["com_x"], abs=1e-5)


def test_cheetah_frame_skip_one():
    env, raw = _cheetah()
    assert raw.frame_skip == 1 and raw.dt == pytest.approx(0.01)
    qvel = np.zeros(raw.model.nv)
    qvel[0] = 1.0  # 1 m/s forward: one agent step must move the root ~1 cm, not 5 cm
    qpos = raw.data.qpos.copy()
    raw.set_state(qpos, qvel)
    env.step(np.zeros(6, dtype=np.float32))
    assert raw.data.qpos[0] - qpos[0] == pytest.approx(0.01, abs=2e-3)


def test_cheetah_truncates_at_500_and_never_terminates():
    env, _ = _cheetah()
    rng = np.random.default_rng(0)
    for t in range(1, 501):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 6).astype(np.float32))
        assert not terminated
        assert truncated == (t == 500)


def test_cheetah_reset_noise_scales():
    env = gym.make(CHEETAH).unwrapped
    qpos, qvel = [], []
    for seed in range(60):
        env.reset(seed=seed)
        qpos.append(env.data.qpos - env.init_qpos)
        qvel.append(env.data.qvel - env.init_qvel)
    assert np.std(qpos) == pytest.approx(0.01, rel=0.2)
    assert np.std(qvel) == pytest.approx(0.1, rel=0.2)


# --------------------------------------------------------------------- SwimmerGather


def test_gather_model_numbers():
    raw = gym.make(GATHER).unwrapped
    opt = raw.model.opt
    assert opt.timestep == pytest.approx(0.001) and raw.frame_skip == 50
    assert raw.dt == pytest.approx(0.05)
    assert opt.integrator == 0  # mjINT_EULER
    assert opt.viscosity == pytest.approx(0.1) and opt.density == pytest.approx(4000)
    np.testing.assert_allclose(raw.model.actuator_ctrlrange, [[-50, 50], [-50, 50]])
    assert not raw.model.geom_contype.any() and not raw.model.geom_conaffinity.any()
    raw.reset(seed=0)
    raw.step(np.array([1.0, -0.5]))
    np.testing.assert_allclose(raw.data.ctrl, [50.0, -25.0])


def test_gather_layout_rules_over_many_resets():
    env = gym.make(GATHER).unwrapped
    allowed = {-6, -4, -2, 0, 2, 4}
    layouts = set()
    for seed in range(300):
        obs, _ = env.reset(seed=seed)
        assert obs.shape == (33,)
        objs = env.objects
        assert [o[2] for o in objs] == [APPLE] * 8 + [BOMB] * 8  # apples placed first
        cells = [(o[0], o[1]) for o in objs]
        assert len(set(cells)) == 16
        assert (0.0, 0.0) not in cells
        assert all(x in allowed and y in allowed for x, y in cells)
        layouts.add(tuple(cells))
    assert len(layouts) == 300
    seen = {c for layout in layouts for c in layout}
    assert len(seen) == 35  # every allowed cell is used by some layout


def _place(env, objects):
    """Swimmer at rest at its initial pose, with hand-placed objects."""
    env.reset(seed=0)
    raw = env.unwrapped
    raw.set_state(raw.init_qpos.copy(), np.zeros(raw.model.nv))
    raw.objects = list(objects)
    return raw.com()


def test_gather_catching_removes_and_pays():
    env = gym.make(GATHER)
    raw = env.unwrapped
    com = _place(env, [])
    far = (4.0, 4.0, BOMB)
    for typ, pay in ((APPLE, 1.0), (BOMB, -1.0)):
        com = _place(env, [(com[0] + 0.5, com[1], typ), far])
        _, reward, terminated, _, _ = env.step(np.zeros(2, dtype=np.float32))
        assert reward == pay
        assert raw.objects == [far] and not terminated
    # just outside the catch radius: nothing happens
    com = _place(env, [(com[0] + 1.05, com[1], APPLE)])
    _, reward, terminated, _, _ = env.step(np.zeros(2, dtype=np.float32))
    assert reward == 0.0 and len(raw.objects) == 1 and not terminated


def test_gather_done_when_no_objects_remain():
    env = gym.make(GATHER)
    com = _place(env, [])
    _place(env, [(com[0] + 0.3, com[1] - 0.3, APPLE), (com[0] - 0.3, com[1], BOMB)])
    _, reward, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))
    assert reward == 0.0  # +1 - 1 in the same step
    assert terminated and not truncated
    assert info["apples_left"] == 0 and info["bombs_left"] == 0


def test_sensor_binning():
    bin_of = lambda readings: int(np.flatnonzero(readings)[0])  # noqa: E731
    apples, bombs = sensor_readings([(3.0, 0.0, APPLE)], 0.0, 0.0, 0.0)
    assert bin_of(apples) == 5 and apples[5] == pytest.approx(0.5) and not bombs.any()
    apples, _ = sensor_readings([(3.0, -3.0, APPLE)], 0.0, 0.0, 0.0)  # -45 degrees
    assert bin_of(apples) == 2 and apples[2] == pytest.approx(1 - math.hypot(3, 3) / 6)
    apples, _ = sensor_readings([(0.0, 3.0, APPLE)], 0.0, 0.0, 0.0)  # +90: edge, last bin
    assert bin_of(apples) == 9
    for behind_or_far in ((-3.0, 0.0, APPLE), (6.5, 0.0, APPLE), (-1.0, -1e-3, APPLE)):
        apples, _ = sensor_readings([behind_or_far], 0.0, 0.0, 0.0)
        assert not apples.any(), behind_or_far
    # relative to the heading and the robot's position
    apples, _ = sensor_readings([(1.0, 5.0, APPLE)], 1.0, 2.0, math.pi / 2)
    assert bin_of(apples) == 5 and apples[5] == pytest.approx(0.5)
    _, bombs = sensor_readings([(3.0, 0.0, BOMB)], 0.0, 0.0, 2 * math.pi)  # heading wraps
    assert bin_of(bombs) == 5


def test_sensor_occlusion_nearer_wins_within_each_sensor():
    objects = [(2.0, 0.0, APPLE), (4.0, 0.1, APPLE), (1.0, 0.0, BOMB)]
    for order in (objects, objects[::-1]):
        apples, bombs = sensor_readings(order, 0.0, 0.0, 0.0)
        assert apples[5] == pytest.approx(1 - 2 / 6)  # the apple at 2 hides the one at 4
        assert bombs[5] == pytest.approx(1 - 1 / 6)  # the bomb does not hide apples
        assert np.count_nonzero(apples) == 1 and np.count_nonzero(bombs) == 1


def test_gather_observation_layout():
    env = gym.make(GATHER)
    raw = env.unwrapped
    com = _place(env, [])
    _place(env, [(com[0] + 3.0, com[1], APPLE), (com[0] + 2.0, com[1] + 2.0, BOMB)])
    obs, *_ = env.step(np.zeros(2, dtype=np.float32))
    assert obs.shape == (33,) and obs.dtype == np.float32
    np.testing.assert_allclose(obs[:5], raw.data.qpos, atol=1e-6)
    np.testing.assert_allclose(obs[5:10], raw.data.qvel, atol=1e-5)
    com = raw.com()
    np.testing.assert_allclose(obs[10:13], com, atol=1e-6)
    apples, bombs = sensor_readings(raw.objects, com[0], com[1], raw.data.qpos[2])
    np.testing.assert_allclose(obs[13:23], apples, atol=1e-6)
    np.testing.assert_allclose(obs[23:33], bombs, atol=1e-6)
    assert apples[5] > 0.4 and bombs[7] > 0.4  # ahead, and 45 degrees to the left


def test_gather_horizon_500():
    assert gym.spec(GATHER).max_episode_steps == 500
    assert gym.spec(CHEETAH).max_episode_steps == 500
