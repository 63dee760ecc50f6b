"""Atari protocol cards: EMI protocol (no sticky actions, 52x52x4, clipped reward, 4,500),
on both backends: the gymnasium stack (`make_atari` per env) and ale-py's native vector env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import explore_bench  # noqa: F401  (registers the ids)
from explore_bench.envs.atari import ClipRewardRawInInfo, NativeAtariVectorEnv, make_atari
from explore_bench.envs.catalog import ATARI_SCORES, EMI_GAMES, MODERN_GAMES
from explore_bench.envs.tasks import raw_rewards, resolve_task, step_infos
from explore_bench.plugins import registry
from explore_bench.runs.wiring import make_vector_env
from explore_bench.settings.config import ConfigError, resolve

BACKENDS = ("sync", "native")


def _rollout(
    env_id: str, seed: int, kind: str = "sync", steps: int = 120
) -> tuple[np.ndarray, list[dict]]:
    """Frames and per-step infos of one env (a vector env of 1 of ``kind``)."""
    envs = make_vector_env(resolve_task(env_id), 1, kind)
    obs, info = envs.reset(seed=seed)
    frames, infos = [obs[0]], [info]
    actions = np.random.default_rng(123).integers(envs.single_action_space.n, size=steps)
    for a in actions:
        obs, _, _, _, info = envs.step(np.array([a]))
        frames.append(obs[0])
        infos.append(step_infos(info))
    envs.close()
    return np.array(frames), infos


@pytest.mark.parametrize("kind", BACKENDS)
def test_emi_protocol_has_no_sticky_actions(kind: str) -> None:
    # Without sticky actions ALE is deterministic: the same actions give the same frames even
    # from different seeds; with sticky actions (modern card) they do not.
    a, infos = _rollout("explore_bench/Freeway-emi-v0", 0, kind)
    b, _ = _rollout("explore_bench/Freeway-emi-v0", 1, kind)
    np.testing.assert_array_equal(a, b)
    c, _ = _rollout("explore_bench/Freeway-modern-v0", 0, kind)
    d, _ = _rollout("explore_bench/Freeway-modern-v0", 1, kind)
    assert not np.array_equal(c, d)
    e, _ = _rollout("explore_bench/Freeway-modern-v0", 0, kind)
    np.testing.assert_array_equal(c, e)  # same seed reproduces even with sticky actions
    # frame skip 4: four emulator frames per agent step
    frames = [int(i["frame_number"][0]) for i in infos]
    assert set(np.diff(frames)) == {4}


def test_backends_give_the_same_frames_rewards_and_final_observations() -> None:
    # No sticky actions: ale-py's vector env and the gymnasium stack must agree step for
    # step, through truncations (horizon 40 here) and autoresets, on 3 envs from one seed.
    horizon, n = 40, 3
    stack = gym.vector.SyncVectorEnv(
        [lambda: gym.wrappers.TimeLimit(make_atari("Frostbite", "emi"), horizon)] * n,
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    native = NativeAtariVectorEnv("Frostbite", "emi", n, max_episode_steps=horizon)
    assert native.single_observation_space == stack.single_observation_space
    assert native.single_action_space == stack.single_action_space
    obs_s, _ = stack.reset(seed=3)
    obs_n, _ = native.reset(seed=3)
    np.testing.assert_array_equal(obs_n, obs_s)
    assert obs_n.dtype == np.uint8 and obs_n.shape == (n, 4, 52, 52)
    rng = np.random.default_rng(0)
    ends, raw_max = 0, 0.0
    for _ in range(100):
        actions = rng.integers(stack.single_action_space.n, size=n)
        out_s, out_n = stack.step(actions), native.step(actions)
        for x, y in zip(out_s[:4], out_n[:4], strict=True):
            np.testing.assert_array_equal(y, x)
        raw_s = raw_rewards(out_s[1], step_infos(out_s[4]))
        raw_n = raw_rewards(out_n[1], step_infos(out_n[4]))
        np.testing.assert_array_equal(raw_n, raw_s)
        np.testing.assert_array_equal(out_n[1], np.clip(raw_n, -1, 1))
        raw_max = max(raw_max, raw_n.max())
        done = out_s[2] | out_s[3]
        for i in np.flatnonzero(done):
            np.testing.assert_array_equal(out_n[4]["final_obs"][i], out_s[4]["final_obs"][i])
            assert not np.array_equal(out_n[4]["final_obs"][i], out_n[0][i])
        ends += done.sum()
    assert ends == 2 * n  # two truncations per env, each with its true final observation
    assert raw_max == 10  # Frostbite pays 10 a floe: the learner sees 1, the score is 10


def test_native_final_observation_at_game_over() -> None:
    # Breakout without fire reset under random actions ends within a few hundred steps.
    stack = gym.vector.SyncVectorEnv(
        [lambda: make_atari("Breakout", "emi")], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    native = NativeAtariVectorEnv("Breakout", "emi", 1, max_episode_steps=4500)
    stack.reset(seed=0)
    native.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(3000):
        a = rng.integers(4, size=1)
        out_s, out_n = stack.step(a), native.step(a)
        np.testing.assert_array_equal(out_n[0], out_s[0])
        if out_s[2][0]:
            assert out_n[2][0] and not out_n[3][0]
            np.testing.assert_array_equal(out_n[4]["final_obs"][0], out_s[4]["final_obs"][0])
            break
    else:
        pytest.fail("no game over in 3,000 steps")


def test_run_vector_picks_the_backend_and_refuses_native_without_ram() -> None:
    frostbite = resolve_task("explore_bench/Frostbite-emi-v0")
    monte = resolve_task("explore_bench/MontezumaRevenge-emi-v0")
    assert isinstance(make_vector_env(frostbite, 2), NativeAtariVectorEnv)
    assert isinstance(make_vector_env(frostbite, 2, "sync"), gym.vector.SyncVectorEnv)
    # Montezuma's room coverage reads RAM, which ale-py's vector env does not return
    assert isinstance(make_vector_env(monte, 1), gym.vector.SyncVectorEnv)
    with pytest.raises(ConfigError, match="no native vector env"):
        resolve({"task": monte.name, "vector": "native"})
    with pytest.raises(ConfigError, match=r"run\.vector must be one of auto, native, sync"):
        resolve({"task": frostbite.name, "vector": "gpu"})
    assert resolve({"task": frostbite.name, "vector": "native"}).run.vector == "native"


def test_observations_and_action_sets():
    env = gym.make("explore_bench/MontezumaRevenge-emi-v0")
    obs, info = env.reset(seed=0)
    assert obs.shape == (4, 52, 52) and obs.dtype == np.uint8
    assert env.observation_space.shape == (4, 52, 52)
    ale = env.unwrapped.ale
    assert ale.getFloat("repeat_action_probability") == 0.0
    assert env.action_space.n == 18  # minimal set of Montezuma's Revenge is all 18
    assert info["room"] == 1  # the start room (RAM byte 3)
    obs, *_ = env.step(0)
    assert obs.shape == (4, 52, 52)
    modern = gym.make("explore_bench/Pong-modern-v0")
    obs, _ = modern.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert modern.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    assert modern.action_space.n == 6  # Pong's minimal action set


class _Scripted(gym.Env):
    """Pays a scripted reward sequence."""

    observation_space = gym.spaces.Box(0, 1, (1,))
    action_space = gym.spaces.Discrete(1)

    def __init__(self, rewards):
        self.rewards = list(rewards)

    def reset(self, *, seed=None, options=None):
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), self.rewards.pop(0), False, False, {}


def test_reward_clipped_for_learner_raw_in_info():
    env = ClipRewardRawInInfo(_Scripted([250.0, -3.0, 0.5, 0.0]))
    env.reset()
    seen = [env.step(0)[1::3] for _ in range(4)]
    assert [r for r, _ in seen] == [1.0, -1.0, 0.5, 0.0]
    assert [i["raw_reward"] for _, i in seen] == [250.0, -3.0, 0.5, 0.0]
    # the registered envs end with this wrapper and report raw_reward on every step
    real = gym.make("explore_bench/Frostbite-emi-v0")
    wrapper = real
    while not isinstance(wrapper, ClipRewardRawInInfo):
        wrapper = wrapper.env
    real.reset(seed=0)
    _, reward, _, _, info = real.step(0)
    assert "raw_reward" in info and reward == np.clip(info["raw_reward"], -1, 1)


def test_horizon_4500_counts_agent_steps():
    for game in EMI_GAMES:
        assert gym.spec(f"explore_bench/{game}-emi-v0").max_episode_steps == 4500
        native = resolve_task(f"explore_bench/{game}-emi-v0").make_native_vector
        assert native is None or native(1).horizon == 4500
    # the TimeLimit counts agent steps: with a small limit, truncation comes after that many
    env = gym.make("explore_bench/Venture-emi-v0", max_episode_steps=7)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(7)]
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])
    native = NativeAtariVectorEnv("Venture", "emi", 2, max_episode_steps=7)
    native.reset(seed=0)
    flags = [tuple(native.step(np.zeros(2, dtype=np.int64))[2:4]) for _ in range(8)]
    assert [bool(t[1].all()) for t in flags] == [False] * 6 + [True, False]
    assert not any(t[0].any() for t in flags)


def test_atari_cards():
    for game in MODERN_GAMES:
        for protocol in ("emi", "modern") if game in EMI_GAMES else ("modern",):
            card = resolve_task(f"explore_bench/{game}-{protocol}-v0").card
            assert (card.random_score, card.reference_score) == ATARI_SCORES[game]
            assert card.reference_kind == "human" and card.reward_clip == 1.0
            assert card.sticky_actions == (0.0 if protocol == "emi" else 0.25)
            assert card.horizon == (4500 if protocol == "emi" else 27000)
    assert "explore_bench/Pong-emi-v0" not in registry.tasks.names()
    monte = resolve_task("explore_bench/MontezumaRevenge-emi-v0")
    assert monte.card.normalize(4753.3) == pytest.approx(1.0)
    assert monte.coverage is not None
