"""The MiniGrid tasks, driven from outside through gymnasium: view, reward, horizon, coverage,
state keys; and the grid networks agents and bonuses build for their observations."""

from __future__ import annotations

import gymnasium as gym
import minigrid
import numpy as np
import pytest
import torch

import explore_bench  # noqa: F401  (registers the ids)
from explore_bench.envs.catalog import MINIGRID_TASKS, NAMESPACE
from explore_bench.envs.coverage import EpisodeCoverage
from explore_bench.envs.minigrid_tasks import shortest_solution
from explore_bench.envs.tasks import resolve_task
from explore_bench.plugins import registry

gym.register_envs(minigrid)
IDS = {t.name: f"{NAMESPACE}/{t.name}-v0" for t in MINIGRID_TASKS}
DOORKEY = IDS["DoorKey8x8"]
LEFT, RIGHT, FORWARD, PICKUP, DONE = 0, 1, 2, 3, 6
#: (dx, dy) per minigrid direction: right, down, left, up.
DIR_TO_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))
#: Object indices an agent can step onto: empty, floor, goal (open doors checked apart).
PASSABLE = {1, 3, 8}


def _make(name: str) -> gym.Env:
    return resolve_task(name).make_env()


@pytest.mark.parametrize("task", MINIGRID_TASKS, ids=lambda t: t.name)
def test_view_shape_dtype_and_horizon_match_the_package(task):
    env = _make(IDS[task.name])
    raw = gym.make(task.minigrid_id)
    obs, _ = env.reset(seed=3)
    raw_obs, _ = raw.reset(seed=3)
    assert obs.shape == (3, 7, 7) and obs.dtype == np.uint8
    assert env.observation_space.shape == (3, 7, 7) and env.observation_space.contains(obs)
    # channel-first, values unchanged: obs[c, x, y] is the package's image[x, y, c]
    np.testing.assert_array_equal(obs, np.transpose(raw_obs["image"], (2, 0, 1)))
    assert raw.unwrapped.max_steps == task.max_steps == resolve_task(IDS[task.name]).card.horizon
    assert env.action_space.n == 7


def test_multiroom_n4_has_four_rooms():
    env = _make(IDS["MultiRoomN4S5"])
    env.reset(seed=0)
    assert len(env.unwrapped.rooms) == 4


def _solve(name: str, seed: int, delay: int = 0) -> tuple[float, bool, bool, dict, int]:
    """Reset to layout ``seed``, wait ``delay`` steps with the no-op action, then follow the
    shortest solution (planned on a separate env with the same layout)."""
    planner = _make(name)
    planner.reset(seed=seed)
    path = shortest_solution(planner)
    env = _make(name)
    env.reset(seed=seed)
    actions = [DONE] * delay + path
    for t, action in enumerate(actions, start=1):
        _, reward, terminated, truncated, info = env.step(action)
        if t < len(actions):
            assert reward == 0.0 and not terminated and not truncated
    return reward, terminated, truncated, info, len(actions)


@pytest.mark.parametrize("name", ["DoorKey8x8", "KeyCorridorS3R3", "MultiRoomN4S5"])
def test_reaching_the_goal_at_step_t_pays_one_minus_point_nine_t_over_T(name):
    horizon = resolve_task(IDS[name]).card.horizon
    for delay in (0, 7):
        reward, terminated, truncated, info, t = _solve(IDS[name], seed=1, delay=delay)
        assert terminated and not truncated and info["success"] is True
        assert reward == pytest.approx(1.0 - 0.9 * t / horizon)


def test_truncation_at_max_steps():
    env = _make(DOORKEY)
    env.reset(seed=0)
    for t in range(1, 641):
        _, reward, terminated, truncated, info = env.step(DONE)
        assert reward == 0.0 and not terminated
        assert truncated == (t == 640)
    assert info["success"] is False


def _reachable_doorkey(size: int) -> int:
    """Inside cells of a DoorKey grid minus its splitting wall, plus the wall's door cell."""
    inner = size - 2
    return inner * inner - inner + 1


def _dead_reckoned_cells(env: gym.Env, obs: np.ndarray, actions: list[int]) -> set[tuple[int, int]]:
    """Cells visited, tracked from the start pose and the views alone: a forward move
    succeeds when the view's cell in front of the agent (x 3, y 5) can be stepped on."""
    x, y = env.unwrapped.agent_pos
    direction = env.unwrapped.agent_dir
    cells = {(int(x), int(y))}
    for action in actions:
        front = obs[:, 3, 5]
        moves = front[0] in PASSABLE or (front[0] == 4 and front[2] == 0)
        obs, *_ = env.step(action)
        if action == LEFT:
            direction = (direction - 1) % 4
        elif action == RIGHT:
            direction = (direction + 1) % 4
        elif action == FORWARD and moves:
            x, y = x + DIR_TO_VEC[direction][0], y + DIR_TO_VEC[direction][1]
            cells.add((int(x), int(y)))
    return cells


def test_coverage_on_scripted_paths():
    tracker = EpisodeCoverage(window=2)
    assert tracker.metrics() == {}
    env = _make(DOORKEY)
    # standing still for the whole episode: only the start cell
    env.reset(seed=0)
    for _ in range(640):
        *_, info = env.step(DONE)
    assert info["episode_coverage"] == pytest.approx(1 / _reachable_doorkey(8))
    tracker.update(None, {"episode_coverage": np.array([info["episode_coverage"], 0.9]),
                          "_episode_coverage": np.array([True, False]),
                          "success": np.array([info["success"], True]),
                          "_success": np.array([True, False])})  # fmt: skip
    # the shortest solution: the cells it passes through, tracked from the views
    planner = _make(DOORKEY)
    planner.reset(seed=2)
    path = shortest_solution(planner)
    obs, _ = env.reset(seed=2)
    cells = _dead_reckoned_cells(env, obs, path[:-1])
    *_, info = env.step(path[-1])
    cells.add(tuple(int(v) for v in env.unwrapped.agent_pos))  # the goal cell
    assert info["success"] and info["episode_coverage"] == pytest.approx(
        len(cells) / _reachable_doorkey(8)
    )
    tracker.update(None, {"episode_coverage": np.array([info["episode_coverage"]]),
                          "_episode_coverage": np.array([True]),
                          "success": np.array([True]), "_success": np.array([True])})  # fmt: skip
    assert tracker.metrics() == {
        "coverage_cells": pytest.approx((1 / 31 + len(cells) / 31) / 2),
        "train_success_rate": 0.5,
    }


def test_state_key_equal_for_equal_states_only():
    env = _make(DOORKEY)
    _, first = env.reset(seed=5)
    _, again = env.reset(seed=5)
    assert first["state_key"] == again["state_key"]
    assert isinstance(first["state_key"], int) and -(2**63) <= first["state_key"] < 2**63
    keys = [first["state_key"]]
    for _ in range(4):  # four left turns come back to the start pose
        keys.append(env.step(LEFT)[4]["state_key"])
    assert keys[4] == keys[0] and len(set(keys[:4])) == 4
    assert env.step(RIGHT)[4]["state_key"] == keys[3]
    assert env.reset(seed=6)[1]["state_key"] != keys[0]  # another layout
    # picking up the key changes the grid, not the pose: the key changes
    env.reset(seed=5)
    path = shortest_solution(env)
    pickup = path.index(PICKUP)
    for action in path[:pickup]:
        before = env.step(action)[4]["state_key"]
    pose = (tuple(env.unwrapped.agent_pos), env.unwrapped.agent_dir)
    after = env.step(PICKUP)[4]["state_key"]
    assert (tuple(env.unwrapped.agent_pos), env.unwrapped.agent_dir) == pose
    assert after != before


def test_state_keys_reach_the_vector_env_infos():
    envs = gym.vector.SyncVectorEnv([lambda: _make(DOORKEY)] * 2)
    _, infos = envs.reset(seed=[5, 5])
    assert infos["state_key"].dtype == np.int64 and infos["state_key"][0] == infos["state_key"][1]


# networks -------------------------------------------------------------------------------


def test_agents_pick_the_grid_network():
    from agents.networks import conv_trunk, encoder

    space = _make(DOORKEY).observation_space
    trunk, width = encoder(space, "nature")
    assert width == 64  # rl-starter-files: 64 features from a 7 x 7 view
    obs = torch.as_tensor(np.stack([_make(DOORKEY).reset(seed=s)[0] for s in range(3)]))
    assert trunk(obs).shape == (3, 64)
    # the frame CNN would not fit: its 8x8 kernel is larger than the view
    with pytest.raises(RuntimeError):
        conv_trunk((3, 7, 7), "nature")
    assert encoder(gym.spaces.Box(0, 255, (4, 52, 52), np.uint8), "emi")[1] == 256


def test_bonus_encoder_factory_builds_the_grid_conv():
    from bonuses._encoders import GRID_CONV, RND_CONV, conv_trunk, frame, frame_shape

    net, width = conv_trunk((3, 7, 7), RND_CONV, torch.nn.ELU)
    assert width == 128
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (o, k, s) for o, k, s, _ in GRID_CONV
    ]
    assert frame_shape((3, 7, 7)) == (3, 7, 7) and frame_shape((4, 52, 52)) == (1, 52, 52)
    x = torch.arange(2 * 4 * 52 * 52).reshape(2, 4, 52, 52)
    assert torch.equal(frame(x), x[:, -1:])
    g = torch.zeros(2, 3, 7, 7)
    assert frame(g) is g


#: Bonuses that declare symbolic grids unsupported (AE-SimHash's autoencoder is for pixels).
REFUSE_GRIDS = {"ae_simhash"}


@pytest.mark.parametrize("bonus", registry.bonuses.names())
def test_every_bonus_scores_minigrid_views(bonus):
    from bonuses.base import Transitions, UnsupportedSpaceError

    env = _make(DOORKEY)
    cls = registry.bonuses.load(bonus)
    if bonus in REFUSE_GRIDS:  # a pixel autoencoder: refused with a message, never mis-run
        with pytest.raises(UnsupportedSpaceError, match="symbolic grids are not supported"):
            cls(env.observation_space, env.action_space,
                cls.default_config(env.observation_space, env.action_space))  # fmt: skip
        return
    model = cls(env.observation_space, env.action_space,
                cls.default_config(env.observation_space, env.action_space))  # fmt: skip
    steps, n = 16, 2
    obs = np.zeros((steps + 1, n, 3, 7, 7), np.uint8)
    actions = np.random.default_rng(0).integers(0, 7, (steps, n))
    for i in range(n):
        obs[0, i] = env.reset(seed=i)[0]
        for t in range(steps):
            obs[t + 1, i] = env.step(int(actions[t, i]))[0]
    batch = Transitions(
        obs=torch.as_tensor(obs[:-1]),
        actions=torch.as_tensor(actions),
        next_obs=torch.as_tensor(obs[1:]),
        ext_rewards=torch.zeros(steps, n),
        terminated=torch.zeros(steps, n, dtype=torch.bool),
        truncated=torch.zeros(steps, n, dtype=torch.bool),
    )
    for _ in range(2):
        model.update(batch)
        scores = model.compute(batch)
        assert scores.shape == (steps, n) and torch.isfinite(scores).all()


def test_the_rollout_hands_state_keys_to_the_bonus():
    """Transitions.state_keys[t, n] is the key of the state after step t of env n: replaying
    the rollout's actions in a fresh env with the same seeds gives the same keys, including
    at episode ends (the final state's key, not the reset's)."""
    from agents.ppo import PPO, PPOConfig
    from bonuses.none import NoBonus
    from explore_bench.envs.tasks import read_step
    from explore_bench.runs.shaping import RewardShaper
    from explore_bench.runs.wiring import make_vector_env
    from explore_bench.settings.config import ShapingConfig

    name = IDS["MultiRoomN2S4"]  # 40-step episodes: the rollout crosses episode ends
    envs = make_vector_env(resolve_task(name), 2, "sync")  # the package (envpool: its own test)
    shaper = RewardShaper(NoBonus(envs.single_observation_space, envs.single_action_space),
                          ShapingConfig())  # fmt: skip
    agent = PPO(envs, shaper, PPOConfig(num_steps=100), seed=3, read_step=read_step)
    batch = agent.collect_rollout()
    assert batch.state_keys is not None and batch.state_keys.shape == (100, 2)
    assert batch.state_keys.dtype == torch.int64 and batch.truncated.any()
    for n in range(2):
        env = _make(name)
        env.reset(seed=3 + n)  # the vector env seeds env n with seed + n
        for t in range(100):
            _, _, terminated, truncated, info = env.step(int(batch.actions[t, n]))
            assert info["state_key"] == batch.state_keys[t, n]
            if terminated or truncated:
                env.reset()
    # without a reader that passes per-env info there are no keys (never stale ones)
    plain = PPO(envs, shaper, PPOConfig(num_steps=4), seed=3)
    assert plain.collect_rollout().state_keys is None


def test_a_minigrid_run_checkpoints_its_coverage_and_resumes(tmp_path):
    """The episode-coverage window travels in the checkpoint (tensors and plain containers
    only) and comes back on resume, so a resumed MiniGrid run logs the same coverage."""
    from explore_bench.runs.runner import run
    from explore_bench.settings.config import resolve
    from explore_bench.store.io import load_checkpoint

    def resolved(steps: int):
        return resolve(
            {"task": DOORKEY, "bonus": "none", "steps": steps, "num_envs": 4},
            {"run": {"eval_episodes": 0, "checkpoint_interval": 1}, "agent": {"num_steps": 64}},
        )

    run_dir = run(resolved(512), tmp_path / "run", progress=False)
    state = load_checkpoint(run_dir / "checkpoint.pt")["agent"]["coverage"]
    assert isinstance(state["_coverage"], list) and len(state["_coverage"]) <= 100
    (run_dir / "DONE").unlink()
    run(resolved(512), run_dir, progress=False)  # resumes from the final checkpoint
    assert (run_dir / "DONE").exists()


def test_state_keys_follow_a_last_rollout_cut_to_the_budget(tmp_path, monkeypatch):
    """320 steps on 4 envs x 64-step rollouts: the last rollout is cut to 16 steps, and the
    state keys the bonus gets are cut with it (the keys of that very rollout's steps)."""
    from bonuses.ride import RIDE
    from explore_bench.runs.runner import run
    from explore_bench.settings.config import resolve

    shapes = []
    compute = RIDE.compute

    def recording(self, batch):
        assert batch.state_keys is not None
        shapes.append((tuple(batch.state_keys.shape), tuple(batch.ext_rewards.shape)))
        return compute(self, batch)

    monkeypatch.setattr(RIDE, "compute", recording)
    resolved = resolve(
        {"task": DOORKEY, "bonus": "ride", "steps": 320, "num_envs": 4},
        {"run": {"eval_episodes": 0}, "agent": {"num_steps": 64}},
    )
    run(resolved, tmp_path / "run", progress=False)
    assert shapes == [((64, 4), (64, 4)), ((16, 4), (16, 4))]
