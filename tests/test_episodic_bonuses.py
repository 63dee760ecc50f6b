"""Oracles for the episodic bonuses (E3B, NovelD, RIDE, NGU) and their shared memory."""

from __future__ import annotations

import io
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from bonuses._encoders import RND_CONV, conv_trunk
from bonuses.base import (
    EpisodicBonus,
    EpisodicMemory,
    Transitions,
    UnsupportedSpaceError,
    exact_keys,
)
from bonuses.e3b import E3B, E3BConfig
from bonuses.ngu import NGU, KNNMemory, NGUConfig
from bonuses.noveld import NovelD, NovelDConfig
from bonuses.ride import RIDE
from explore_bench.plugins.testing import check_bonus, random_batch

VEC = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
DISC = gym.spaces.Discrete(6)
ACT = gym.spaces.Discrete(3)


def chain(
    states: list[Any], ends: tuple[int, ...] = (), state_keys: list[int] | None = None
) -> Transitions:
    """One env walking through ``states`` (s_0, s_1, ...): transition t is s_t -> s_{t+1};
    an episode ends at each transition index in ``ends`` (s_{t+1} then starts the next)."""
    x = torch.as_tensor(np.asarray(states))
    steps = len(states) - 1
    done = torch.zeros(steps, 1, dtype=torch.bool)
    for t in ends:
        done[t] = True
    keys = None if state_keys is None else torch.tensor(state_keys).reshape(steps, 1)
    return Transitions(
        obs=x[:-1].unsqueeze(1),
        actions=torch.zeros(steps, 1, dtype=torch.int64),
        next_obs=x[1:].unsqueeze(1),
        ext_rewards=torch.zeros(steps, 1),
        terminated=done,
        truncated=torch.zeros(steps, 1, dtype=torch.bool),
        state_keys=keys,
    )


def vectors(*rows: list[float]) -> list[np.ndarray]:
    return [np.asarray(r, dtype=np.float32) for r in rows]


A, B, C, D = vectors([0.5, -0.2, 0.1], [-0.4, 0.3, 0.9], [0.1, 0.8, -0.6], [0.9, 0.9, 0.2])


# --------------------------------------------------------------------------- E3B


def test_e3b_equals_the_elliptical_bonus_computed_by_hand() -> None:
    torch.manual_seed(0)
    bonus = E3B(VEC, ACT)
    batch = chain([A, B, C, A, D])
    got = bonus.compute(batch)[:, 0].double()
    with torch.no_grad():
        h = bonus._features(batch.obs[:, 0]).double()
    lam = bonus.config.ridge
    cov = lam * torch.eye(h.shape[1], dtype=torch.float64)
    expected = []
    for t in range(h.shape[0]):
        # before adding phi(s_t); the episode's first step scores 0 (the release)
        expected.append(0.0 if t == 0 else float(h[t] @ torch.linalg.inv(cov) @ h[t]))
        cov = cov + torch.outer(h[t], h[t])
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-4)
    assert expected[1] > 0


def test_e3b_scores_a_repeated_state_lower_and_resets_at_episode_start() -> None:
    torch.manual_seed(0)
    bonus = E3B(VEC, ACT)
    scores = bonus.compute(chain([A, B, B, C, D]))[:, 0]
    # B scored at t=1 (new) and t=2 (after being added: b / (1 + b) by Sherman-Morrison)
    assert scores[2] < scores[1]
    assert scores[2] < scores[3]  # C is new
    assert scores[2] == pytest.approx(float(scores[1] / (1 + scores[1])), rel=1e-4)
    # the episode ends at transition 1: s_2 = B starts a new episode, scored 0, and the
    # scores after it equal those of a fresh memory
    reset = bonus.compute(chain([A, B, B, C, A], ends=(1,)))[:, 0]
    fresh = bonus.compute(chain([B, C, A]))[:, 0]
    assert reset[2] == 0.0
    assert torch.allclose(reset[2:], fresh, rtol=1e-5)


# ------------------------------------------------------------------------- NovelD


def test_noveld_novelty_is_the_l2_norm_of_rnd_error() -> None:
    torch.manual_seed(0)
    bonus = NovelD(VEC, ACT, NovelDConfig(warmup_updates=0, rnd_model="suite"))
    batch = chain([A, B, C])
    nov, nov_next = bonus.novelty(batch)
    rnd = bonus.rnd
    assert rnd is not None
    with torch.no_grad():
        x = rnd._inputs(batch.next_obs[:, 0])
        by_hand = (rnd.predictor(x) - rnd.target(x)).norm(dim=-1).double()
    assert torch.allclose(nov_next[:, 0], by_hand, rtol=1e-5)
    assert torch.allclose(nov[1:, 0], nov_next[:-1, 0], rtol=1e-6)


def test_noveld_pays_first_visits_with_a_rise_in_novelty_only() -> None:
    torch.manual_seed(0)
    bonus = NovelD(DISC, ACT)  # alpha = 0.5
    table = torch.tensor([1.0, 3.0, 1.0, 2.0, 0.0, 0.0], dtype=torch.float64)

    def novelty(batch: Transitions) -> tuple[torch.Tensor, torch.Tensor]:
        return table[batch.obs.long()], table[batch.next_obs.long()]

    bonus.novelty = novelty  # type: ignore[method-assign]
    # 0 -> 1 (first visit, 3 - 0.5 * 1), 1 -> 2 (1 < 0.5 * 3: zero), 2 -> 1 (second visit of
    # 1: zero although 3 - 0.5 * 1 > 0), 1 -> 3 (2 - 0.5 * 3)
    scores = bonus.compute(chain([0, 1, 2, 1, 3]))[:, 0]
    assert scores.tolist() == pytest.approx([2.5, 0.0, 0.0, 0.5])
    # the episode ends after 0 -> 1 -> 2: visiting 1 again is a first visit of the new one
    scores = bonus.compute(chain([0, 1, 2, 1], ends=(1,)))[:, 0]
    assert scores.tolist() == pytest.approx([2.5, 0.0, 2.5])


def test_episodic_counts_use_state_keys_when_given() -> None:
    torch.manual_seed(0)
    batch = chain([0, 1, 1, 1], state_keys=[10, 11, 12])  # same observation, new states
    by_state = NovelD(DISC, ACT).episodic_walk(batch)[:, 0]
    by_obs = NovelD(DISC, ACT, NovelDConfig(count_key="obs")).episodic_walk(batch)[:, 0]
    assert by_state.tolist() == [1, 1, 1]
    assert by_obs.tolist() == [1, 2, 3]
    vec = chain([A, B, B.copy(), A])
    keys = exact_keys(vec.next_obs, "vector")[:, 0].tolist()
    assert keys[0] == keys[1] != keys[2]
    assert RIDE(VEC, ACT).episodic_walk(vec)[:, 0].tolist() == [1, 2, 1]


# --------------------------------------------------------------------------- RIDE


def test_ride_halves_on_the_fourth_visit() -> None:
    torch.manual_seed(0)
    bonus = RIDE(VEC, ACT)
    # A -> B, B -> A, ...: B is visited at transitions 0, 2, 4, 6, with the same change
    scores = bonus.compute(chain([A, B, A, B, A, B, A, B]))[:, 0].double()
    with torch.no_grad():
        change = float(
            (bonus._features(torch.as_tensor(B)) - bonus._features(torch.as_tensor(A))).norm()
        )
    assert scores[0] == pytest.approx(change, rel=1e-5)
    assert scores[2] == pytest.approx(change / math.sqrt(2), rel=1e-5)
    assert float(scores[6]) == pytest.approx(float(scores[0]) / 2, rel=1e-5)


# ---------------------------------------------------------------------------- NGU


def _ngu_by_hand(
    memory: list[list[float]], query: list[float], past: list[float], cfg: NGUConfig
) -> tuple[float, list[float]]:
    """The paper's r_ep for ``query`` against ``memory``; ``past`` holds the squared kNN
    distances of earlier steps (the running mean d_m^2 includes this step's first)."""
    d2 = sorted(sum((q - m) ** 2 for q, m in zip(query, row, strict=True)) for row in memory)
    nearest = d2[: cfg.k]
    seen = past + nearest
    mean = sum(seen) / len(seen)
    kernel = [
        cfg.kernel_epsilon / (max(d / mean - cfg.cluster_distance, 0.0) + cfg.kernel_epsilon)
        for d in nearest
    ]
    similarity = math.sqrt(sum(kernel)) + cfg.pseudo_count
    return (0.0 if similarity > cfg.max_similarity else 1.0 / similarity), seen


def test_ngu_episodic_term_matches_the_kernel_formula() -> None:
    cfg = NGUConfig(k=2, embedding_dim=2)
    memory = KNNMemory(1, cfg, torch.device("cpu"))
    points = [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.2, 0.1], [3.0, 3.0]]
    seen: list[float] = []
    for t in range(len(points) - 1):
        got = memory.step(torch.tensor([points[t]]), torch.tensor([points[t + 1]]))
        expected, seen = _ngu_by_hand(points[: t + 1], points[t + 1], seen, cfg)
        assert float(got[0]) == pytest.approx(expected, rel=1e-6)
    # the cut-off: identical states give sqrt(k) + c > s_m = 1 -> 0
    tight = KNNMemory(1, NGUConfig(k=2, embedding_dim=2, max_similarity=1.0), torch.device("cpu"))
    same = torch.tensor([[1.0, 1.0]])
    tight.step(same, same)
    assert float(tight.step(same, same)[0]) == 0.0


def test_ngu_modulator_is_clipped_to_one_and_l() -> None:
    torch.manual_seed(0)
    bonus = NGU(VEC, ACT, NGUConfig(warmup_updates=0))
    bonus.error_rms.update(torch.tensor([[1.0], [3.0]]))  # mean 2, std 1
    alpha = bonus.modulator(torch.tensor([0.0, 2.5, 100.0]))
    assert alpha.tolist() == pytest.approx([1.0, 1.5, 5.0], rel=1e-6)


# ------------------------------------------------------- the shared memory mechanism

MAKERS = {
    "e3b": lambda: E3B(VEC, ACT),
    "e3b-rllte": lambda: E3B(VEC, ACT, E3BConfig(episode_start="rllte")),
    "noveld": lambda: NovelD(VEC, ACT, NovelDConfig(warmup_updates=0)),
    "ride": lambda: RIDE(VEC, ACT),
    "ngu": lambda: NGU(VEC, ACT, NGUConfig(warmup_updates=0)),
}


def _repeating_batch(seed: int) -> Transitions:
    """Random transitions over a few distinct states, so that counts exceed 1."""
    base = random_batch(DISC, ACT, 12, 3, seed)
    pool = torch.as_tensor(np.random.default_rng(seed).uniform(-1, 1, (6, 3)).astype(np.float32))
    return Transitions(
        obs=pool[base.obs.long()], actions=base.actions, next_obs=pool[base.next_obs.long()],
        ext_rewards=base.ext_rewards, terminated=base.terminated, truncated=base.truncated,
    )  # fmt: skip


def _split(batch: Transitions, at: int) -> tuple[Transitions, Transitions]:
    def part(sl: slice) -> Transitions:
        return batch._map(lambda x: x[sl])

    return part(slice(0, at)), part(slice(at, None))


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_memory_spans_rollouts_and_resumes_exactly(name: str) -> None:
    torch.manual_seed(0)
    bonus: EpisodicBonus = MAKERS[name]()
    batch = _repeating_batch(1)
    assert batch.terminated[:5].any() and not batch.terminated.all()
    whole = bonus.compute(batch)
    first, second = _split(batch, 5)
    bonus.commit_walk(first)  # commits the memory without training
    assert torch.allclose(bonus.compute(second), whole[5:], rtol=1e-5, atol=1e-7)
    buffer = io.BytesIO()
    torch.save(bonus.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(1)  # other initial weights: everything must come from the state
    fresh: EpisodicBonus = MAKERS[name]()
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(fresh.compute(second), bonus.compute(second))


def test_update_reuses_the_walk_of_compute() -> None:
    torch.manual_seed(0)
    bonus = E3B(VEC, ACT, E3BConfig(feature_dim=8))
    calls = []
    inputs = bonus.memory_inputs

    def counted(batch: Transitions) -> tuple[torch.Tensor, ...]:
        calls.append(1)
        return inputs(batch)

    bonus.memory_inputs = counted  # type: ignore[method-assign]
    batch = _repeating_batch(2)
    before = bonus.compute(batch)
    bonus.update(batch)
    assert len(calls) == 1
    bonus.compute(batch)  # the memory moved on: walked again
    assert len(calls) == 2
    assert before.shape == (12, 3)


@pytest.mark.parametrize("episode_start", ["release", "rllte"])
def test_e3b_batched_walk_equals_the_step_by_step_recursion(episode_start: str) -> None:
    torch.manual_seed(0)
    bonus = E3B(VEC, ACT, E3BConfig(feature_dim=16, episode_start=episode_start))
    batch = _repeating_batch(3)
    first = _split(batch, 4)[0]
    first.terminated[-1] = True  # an episode ends on a rollout's last step
    bonus.commit_walk(first)
    inputs = bonus.memory_inputs(batch)
    ended = batch.terminated | batch.truncated
    assert ended[4:].any()
    batched, stepped = bonus.memory.copy(), bonus.memory.copy()  # type: ignore[union-attr]
    got = batched.walk(inputs, ended)
    expected = EpisodicMemory.walk(stepped, inputs, ended)
    assert torch.allclose(got, expected, rtol=1e-7, atol=1e-9)
    assert torch.allclose(batched.cov_inv, stepped.cov_inv, rtol=1e-6, atol=1e-9)
    assert torch.equal(batched.steps, stepped.steps)
    assert torch.equal(batched.pending, stepped.pending)


def test_e3b_rllte_episode_start_is_rlexplores_loop() -> None:
    """Oracle: rllte's E3B loop (rllte/xplore/reward/e3b.py:153-168) over two rollouts of its
    storage, whose ``terminateds`` has T + 1 rows, row j + 1 the flag of step j and row 0
    the last rollout's last flag, and whose loop resets C^-1 when row j is set."""
    torch.manual_seed(0)
    bonus = E3B(VEC, ACT, E3BConfig(feature_dim=8, episode_start="rllte"))
    ends = [(1,), (0, 3)]  # one ends on the first rollout's last step
    rollouts = [chain([A, B, C], ends[0]), chain([D, A, B, C, D], ends[1])]
    lam = bonus.config.ridge
    cov_inv = torch.eye(8, dtype=torch.float64) / lam
    last_flag = False
    for batch in rollouts:
        got = bonus.compute(batch)[:, 0].double()
        bonus.commit_walk(batch)
        with torch.no_grad():
            h = bonus._features(batch.obs[:, 0]).double()
        flags = [last_flag, *batch.terminated[:, 0].tolist()]
        expected = []
        for j in range(h.shape[0]):
            u = cov_inv @ h[j]
            b = float(h[j] @ u)
            expected.append(b)
            cov_inv = cov_inv - torch.outer(u, u) / (1.0 + b)
            if flags[j]:
                cov_inv = torch.eye(8, dtype=torch.float64) / lam
        last_flag = flags[-1]
        assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-5)
    # the second rollout's first state (a new episode's first) was scored against the last
    # episode's matrix, and its second state against I / lambda alone
    h = bonus._features(rollouts[1].obs[:, 0]).double().detach()
    assert got[1] == pytest.approx(float(h[1] @ h[1]) / lam, rel=1e-5)
    assert got[0] < float(h[0] @ h[0]) / lam


def test_e3b_rejects_an_unknown_episode_start() -> None:
    with pytest.raises(
        ValueError, match="episode_start must be one of 'release', 'rllte', got 'lag'"
    ):
        E3BConfig(episode_start="lag")


def test_symbolic_grids_run_where_the_encoders_fit() -> None:
    grid = gym.spaces.Box(0, 255, (3, 7, 7), np.uint8)  # MiniGrid's channel-first view
    for cls in (E3B, RIDE):
        assert check_bonus(cls, [(grid, gym.spaces.Discrete(7))], num_steps=3).checked
    try:  # does the encoder factory build a grid encoder where RND's conv torso is asked?
        conv_trunk((1, 7, 7), RND_CONV)
    except RuntimeError:
        for cls in (NovelD, NGU):  # no: they refuse grids, clearly
            with pytest.raises(UnsupportedSpaceError, match="too small"):
                cls(grid, gym.spaces.Discrete(7))
    else:
        for cls in (NovelD, NGU):
            assert check_bonus(cls, [(grid, gym.spaces.Discrete(7))], num_steps=3).checked
