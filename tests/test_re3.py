"""Oracles for RE3 (Seo et al. 2021): the bonus is log(1 + k-NN distance) in the fixed random
embedding, over the memory plus the batch, never counting a sample as its own neighbour."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from bonuses import _encoders
from bonuses.base import Transitions
from bonuses.re3 import RE3, RE3Config
from explore_bench.plugins.testing import check_bonus, random_batch

VEC = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
ACT = gym.spaces.Discrete(3)
GRID = gym.spaces.Box(0, 10, (3, 7, 7), np.uint8)


def batch(next_obs: torch.Tensor) -> Transitions:
    """(B, ...) observations as B steps of one env."""
    x = next_obs[:, None]
    zeros = torch.zeros(x.shape[:2])
    return Transitions(x, zeros.long(), x, zeros, zeros.bool(), zeros.bool())


def hand_knn(y: np.ndarray, sample_set: np.ndarray, own: list[int | None], k: int) -> np.ndarray:
    """The k-th smallest distance from y[i] to the sample set, skipping row own[i]."""
    out = []
    for i, row in enumerate(y):
        dists = sorted(
            float(np.sqrt(((row - s) ** 2).sum())) for j, s in enumerate(sample_set) if j != own[i]
        )
        out.append(dists[k - 1])
    return np.array(out)


def test_bonus_is_log1p_of_the_hand_computed_kth_neighbour_distance() -> None:
    torch.manual_seed(0)
    bonus = RE3(VEC, ACT, RE3Config(k=3, memory_size=8, normalize=False))
    first = torch.rand(6, 4) * 2 - 1
    second = torch.rand(5, 4) * 2 - 1
    y1 = bonus.embed(first).numpy()
    # First batch: the sample set is the batch itself.
    want = np.log1p(hand_knn(y1, y1, list(range(6)), 3))
    got = bonus.compute(batch(first))[:, 0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    bonus.update(batch(first))
    # Second batch: the FIFO keeps the newest 8 of the 6 + 5 embeddings (3 old, all 5 new).
    y2 = bonus.embed(second).numpy()
    sample_set = np.concatenate([y1[3:], y2])
    want = np.log1p(hand_knn(y2, sample_set, [3 + i for i in range(5)], 3))
    np.testing.assert_allclose(bonus.compute(batch(second))[:, 0].numpy(), want, rtol=1e-5)


def test_env_scope_scores_each_state_against_its_own_envs_memory_only() -> None:
    """rllte's RE3 (RLeXplore): a FIFO per env, neighbours from the same env only."""
    torch.manual_seed(2)
    bonus = RE3(VEC, ACT, RE3Config(k=2, memory_size=5, normalize=False, memory_scope="env"))
    steps, envs = 3, 2

    def rollout(obs: torch.Tensor) -> Transitions:  # (T, N, 4)
        zeros = torch.zeros(steps, envs)
        return Transitions(obs, zeros.long(), obs, zeros, zeros.bool(), zeros.bool())

    first, second = torch.rand(steps, envs, 4) * 2 - 1, torch.rand(steps, envs, 4) * 2 - 1
    y1 = bonus.embed(first.reshape(-1, 4)).numpy().reshape(steps, envs, -1)
    y2 = bonus.embed(second.reshape(-1, 4)).numpy().reshape(steps, envs, -1)
    got1 = bonus.compute(rollout(first)).numpy()
    bonus.update(rollout(first))
    got2 = bonus.compute(rollout(second)).numpy()
    for n in range(envs):
        # first rollout: the env's own 3 states; second: its newest 5 of 3 + 3
        want1 = np.log1p(hand_knn(y1[:, n], y1[:, n], [0, 1, 2], 2))
        window = np.concatenate([y1[1:, n], y2[:, n]])
        want2 = np.log1p(hand_knn(y2[:, n], window, [2, 3, 4], 2))
        np.testing.assert_allclose(got1[:, n], want1, rtol=1e-5)
        np.testing.assert_allclose(got2[:, n], want2, rtol=1e-5)
    torch.manual_seed(2)  # the same random encoder, one FIFO over both envs
    shared = RE3(VEC, ACT, RE3Config(k=2, memory_size=5, normalize=False))
    assert not np.allclose(shared.compute(rollout(first)).numpy(), got1)
    # a third env, first seen now, starts with an empty memory; the first two keep theirs
    third = torch.rand(steps, 3, 4) * 2 - 1
    y3 = bonus.embed(third.reshape(-1, 4)).numpy().reshape(steps, 3, -1)
    zeros = torch.zeros(steps, 3)
    got3 = bonus.compute(Transitions(third, zeros.long(), third, zeros, zeros.bool(), zeros.bool()))
    want_new = np.log1p(hand_knn(y3[:, 2], y3[:, 2], [0, 1, 2], 2))
    np.testing.assert_allclose(got3.numpy()[:, 2], want_new, rtol=1e-5)
    window = np.concatenate([y1[1:, 0], y3[:, 0]])  # env 0: its first rollout's newest 2
    want_old = np.log1p(hand_knn(y3[:, 0], window, [2, 3, 4], 2))
    np.testing.assert_allclose(got3.numpy()[:, 0], want_old, rtol=1e-5)


def test_env_scope_meets_the_contract() -> None:
    check_bonus(RE3, config=RE3Config(memory_scope="env", memory_size=50), spaces=[(VEC, ACT)])


def test_average_and_running_std_normalisation() -> None:
    torch.manual_seed(1)
    bonus = RE3(VEC, ACT, RE3Config(k=2, average_k=True, memory_size=100))
    obs = torch.rand(7, 4)
    y = bonus.embed(obs).numpy()
    d = np.array(
        [
            np.mean(sorted(np.sqrt(((y[i] - y[j]) ** 2).sum()) for j in range(7) if j != i)[:2])
            for i in range(7)
        ]
    )
    want = np.log1p(d / math.sqrt(d.var() + 1e-8))  # the running std, this batch included
    np.testing.assert_allclose(bonus.compute(batch(obs))[:, 0].numpy(), want, rtol=1e-5)


def test_a_repeated_state_scores_lower_than_a_new_one() -> None:
    torch.manual_seed(2)
    bonus = RE3(VEC, ACT, RE3Config(k=1, normalize=False))
    seen = torch.rand(20, 4)
    bonus.update(batch(seen))
    probe = torch.cat([seen[:1], torch.full((1, 4), 0.9)])
    scores = bonus.compute(batch(probe))[:, 0]
    assert scores[0] == pytest.approx(0.0, abs=1e-4)  # its twin is in the memory
    assert scores[1] > 0.05


@pytest.mark.skipif(
    not hasattr(_encoders, "GRID_CONV"), reason="the shared grid encoder (issue 20) is not here"
)
def test_grids_meet_the_contract() -> None:
    check_bonus(RE3, spaces=[(GRID, ACT)])


@pytest.mark.parametrize(
    "bad", [{"k": 0}, {"memory_size": 3, "k": 3}, {"hidden_sizes": ()}, {"memory_scope": "all"}]
)
def test_bad_config_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match="re3"):
        RE3Config(**bad)


def test_84_pixel_frame_stacks() -> None:
    frames84 = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    bonus = RE3(frames84, ACT)
    batch84 = random_batch(frames84, ACT, 3, 2, seed=0)
    assert bonus.compute(batch84).shape == (3, 2)
