"""Atari protocol cards: EMI protocol (no sticky actions, 52x52x4, clipped reward, 4,500)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import explore_bench  # noqa: F401  (registers the ids)
from explore_bench import registry
from explore_bench.envs.atari import ClipRewardRawInInfo
from explore_bench.envs.catalog import ATARI_SCORES, EMI_GAMES, MODERN_GAMES
from explore_bench.tasks import resolve_task


def _rollout(env_id: str, seed: int, steps: int = 120) -> tuple[np.ndarray, list[dict]]:
    env = gym.make(env_id)
    obs, info = env.reset(seed=seed)
    frames, infos = [obs], [info]
    actions = np.random.default_rng(123).integers(env.action_space.n, size=steps)
    for a in actions:
        obs, _, _, _, info = env.step(int(a))
        frames.append(obs)
        infos.append(info)
    env.close()
    return np.array(frames), infos


def test_emi_protocol_has_no_sticky_actions():
    # Without sticky actions ALE is deterministic: the same actions give the same frames even
    # from different seeds; with sticky actions (modern card) they do not.
    a, infos = _rollout("explore_bench/Freeway-emi-v0", seed=0)
    b, _ = _rollout("explore_bench/Freeway-emi-v0", seed=1)
    np.testing.assert_array_equal(a, b)
    c, _ = _rollout("explore_bench/Freeway-modern-v0", seed=0)
    d, _ = _rollout("explore_bench/Freeway-modern-v0", seed=1)
    assert not np.array_equal(c, d)
    e, _ = _rollout("explore_bench/Freeway-modern-v0", seed=0)
    np.testing.assert_array_equal(c, e)  # same seed reproduces even with sticky actions
    # frame skip 4: four emulator frames per agent step
    frames = [i["frame_number"] for i in infos]
    assert set(np.diff(frames)) == {4}


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
    # the TimeLimit counts agent steps: with a small limit, truncation comes after that many
    env = gym.make("explore_bench/Venture-emi-v0", max_episode_steps=7)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(7)]
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])


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
