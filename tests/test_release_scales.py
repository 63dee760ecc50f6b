"""Each bonus at its release's scale (issue 29, point 2): the intrinsic reward of a fixed batch
against a figure computed from the release's rule, and the method settings that carry it."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from test_episodic_bonuses import _ngu_by_hand
from test_recipe_agents import T, _advantages, _agent

from agents.fast import gae
from agents.ppo import PPOConfig
from bonuses.ae_simhash import AESimHash, AESimHashConfig
from bonuses.base import Transitions
from bonuses.disagreement import Disagreement, DisagreementConfig
from bonuses.e3b import E3B
from bonuses.ngu import KNNMemory, NGUConfig
from bonuses.noveld import NovelD
from bonuses.re3 import RE3, RE3Config
from bonuses.rnd import RND, RNDConfig
from explore_bench.plugins.testing import random_batch
from explore_bench.runs.shaping import make_normalizer
from explore_bench.settings.config import resolve

DEEPSEA = "explore_bench/DeepSea20-v0"


def _scaled(bonus: str, batches: list[torch.Tensor], task: str = DEEPSEA) -> torch.Tensor:
    """The intrinsic reward the harness makes of the last raw batch, with ``bonus``'s recipe
    and default normaliser, after the normaliser has seen every batch."""
    r = resolve({"agent": "ppo", "bonus": bonus, "task": task})
    from explore_bench.plugins import registry

    cls = registry.bonuses.load(bonus)
    norm = make_normalizer(r.shaping.normalizer or cls.default_normalizer, r.shaping)
    for raw in batches:
        norm.update(raw)
    return r.shaping.coef * norm(batches[-1])


# ----------------------------------------------------------------------------- E3B


def test_e3b_divides_by_its_releases_running_std_and_clips_the_total() -> None:
    """facebookresearch/e3b src/models.py update_running_moments: the squared deviations of
    all T x B values, divided by the T rows of the batch (count starts at 1e-8)."""
    gen = torch.Generator().manual_seed(0)
    batches = [torch.rand(16, 8, generator=gen, dtype=torch.float64) * s for s in (1.0, 0.3)]
    count, total, m2 = 1e-8, 0.0, 0.0
    for x in batches:  # the release's recursion, written out
        rows = x.shape[0]
        mean = x.sum().item() / rows  # B times the values' mean: the sum over a row's B envs
        m2 += ((x - mean) ** 2).sum().item()
        m2 += count * rows / (count + rows) * (mean - total / count) ** 2
        count, total = count + rows, total + x.sum().item()
    released = batches[-1] / math.sqrt(m2 / count)
    got = _scaled("e3b", batches)
    assert torch.allclose(got.double(), released, rtol=1e-6)
    true_std = torch.cat([b.reshape(-1) for b in batches]).std(unbiased=False)
    assert math.sqrt(m2 / count) > 2.5 * true_std.item()  # about sqrt(8) x here
    assert E3B.default_normalizer == "reward_rms_rows"
    assert resolve({"agent": "ppo", "bonus": "e3b", "task": DEEPSEA}).agent.total_reward_clip == 1


# ----------------------------------------------------------------------------- the agent


def test_total_reward_clip_clips_r_ext_plus_r_int_before_gae() -> None:
    cfg = PPOConfig(num_steps=T, gamma=0.9, gae_lambda=0.8, total_reward_clip=1.0)
    agent = _agent(cfg)
    ints = torch.full((T, 1), 0.75)
    ids = [0.1, 0.2, 0.3, 0.4, 0.5]
    _, ret = _advantages(agent, ids, 0.6, end=4, kind="terminated", int_rewards=ints)
    # rewards 1..5 + 0.75 clip to 1 everywhere; by hand through gae()
    v = agent.buf_values[..., 0]
    nxt = torch.cat([v[1:], torch.zeros(1, 1)])
    ended = torch.zeros(T, 1, dtype=torch.bool)
    ended[4] = True
    _, ret_hand = gae(torch.ones(T, 1), v, nxt, ended, ended, 0.9, 0.8)
    assert torch.allclose(ret[..., 0], ret_hand)
    with pytest.raises(ValueError, match=r"need agent\.two_value_heads=false"):
        PPOConfig(two_value_heads=True, total_reward_clip=1.0)


def test_int_enters_advantage_adds_the_reward_at_its_own_step_only() -> None:
    """RE3's A2C release adds beta r_int to the advantage and the return of its step."""
    ids = [0.1, 0.2, 0.3, 0.4, 0.5]
    ints = torch.tensor([[0.5], [0.0], [2.0], [0.0], [1.0]])
    base = _agent(PPOConfig(num_steps=T, gamma=0.9, gae_lambda=0.8))
    zero = torch.zeros(T, 1)
    adv0, ret0 = _advantages(base, ids, 0.6, end=4, kind="terminated", int_rewards=zero)
    cfg = PPOConfig(num_steps=T, gamma=0.9, gae_lambda=0.8, int_enters="advantage")
    agent = _agent(cfg)
    adv, ret = _advantages(agent, ids, 0.6, end=4, kind="terminated", int_rewards=ints)
    assert torch.allclose(adv, adv0 + ints) and torch.allclose(ret, ret0 + ints.unsqueeze(-1))
    assert dataclasses.replace(cfg, int_enters="reward").int_enters == "reward"


# ----------------------------------------------------------------------------- RND


def _predictor_steps(bonus: RND, batch: Transitions) -> tuple[int, int]:
    """(Adam steps, transitions that trained the predictor) of one update on ``batch``."""
    steps, rows = [], []
    step, forward = bonus.optimizer.step, bonus.predictor.forward

    def counted_step(*args: Any, **kwargs: Any) -> Any:
        steps.append(1)
        return step(*args, **kwargs)

    def counted_forward(x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            rows.append(x.shape[0])
        return forward(x)

    bonus.optimizer.step = counted_step  # type: ignore[method-assign]
    bonus.predictor.forward = counted_forward  # type: ignore[method-assign]
    bonus.update(batch)
    return len(steps), sum(rows)


def test_rnd_trains_on_every_transition_at_the_releases_steps_per_env_step() -> None:
    """run_atari.py: proportion_of_exp_used_for_predictor_update 1.0, 4 epochs of 4
    minibatches over 128 steps x 32 envs: 16 predictor steps per 4,096 env steps, every
    transition in each epoch, whatever the number of envs."""
    obs, act = gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(2)
    per_env_step = []
    for envs in (8, 32):
        bonus = RND(obs, act, RNDConfig(warmup_updates=0, feature_dim=8, hidden_sizes=(8,)))
        steps, rows = 0, 0
        for seed in range(4):
            s, r = _predictor_steps(bonus, random_batch(obs, act, 128, envs, seed=seed))
            steps, rows = steps + s, rows + r
        assert rows == 4 * 4 * 128 * envs  # every transition, in each of the 4 epochs
        per_env_step.append(steps / (4 * 128 * envs))
    assert per_env_step == [16 / 4096, 16 / 4096]


# ----------------------------------------------------------------------------- Disagreement


def _model_steps(bonus: Disagreement, envs: int, rollouts: int) -> int:
    steps = []
    step = bonus.optimizer.step

    def counted_step(*args: Any, **kwargs: Any) -> Any:
        steps.append(1)
        return step(*args, **kwargs)

    bonus.optimizer.step = counted_step  # type: ignore[method-assign]
    obs, act = bonus.observation_space, bonus.action_space
    for seed in range(rollouts):
        bonus.update(random_batch(obs, act, 128, envs, seed=seed))
    return len(steps)


def test_disagreement_trains_at_the_releases_steps_per_env_step_on_its_reward_alone() -> None:
    """run.py: 128 steps x 128 envs, 3 epochs of 8 minibatches: 24 model steps per 16,384
    env steps whatever the number of envs (before: 24 per rollout, 16x more with 8 envs);
    --ext_coeff 0, --int_coeff 1: the policy learns from the intrinsic reward alone."""
    obs, act = gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(2)
    small = DisagreementConfig(
        ensemble_size=2, feature_dim=8, hidden_dim=8, residual_blocks=0, hidden_sizes=(8,),
        warmup_updates=0,
    )  # fmt: skip
    for envs, rollouts in ((8, 16), (32, 4)):  # 16,384 env steps each
        assert _model_steps(Disagreement(obs, act, small), envs, rollouts) == 24
    r = resolve({"agent": "ppo", "bonus": "disagreement", "task": "CartPole-v1"})
    assert (r.agent.ext_coef, r.agent.int_coef, r.agent.two_value_heads) == (0.0, 1.0, True)
    ext = resolve(
        {"agent": "ppo", "bonus": "disagreement", "task": "CartPole-v1"},
        {"run": {"preset": "disagreement-ext"}},
    )
    assert ext.agent.ext_coef == 1.0


# ----------------------------------------------------------------------------- RE3


def test_re3_scores_s_t_at_beta_0005_added_to_the_advantage() -> None:
    """younggyoseo/RE3 a2c_re3 on DoorKey-6x6: beta 0.005 times the bonus of s_t, added to
    the advantage and return of its own step (before: weight 1, a reward, s_{t+1})."""
    obs, act = gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(2)
    batch = random_batch(obs, act, 16, 2, seed=0)
    moved = dataclasses.replace(batch, next_obs=torch.rand_like(batch.next_obs) * 50)
    torch.manual_seed(0)
    bonus = RE3(obs, act, RE3Config(memory_size=64))
    assert torch.equal(bonus.compute(batch), bonus.compute(moved))  # s_{t+1} plays no part
    torch.manual_seed(0)
    after = RE3(obs, act, RE3Config(memory_size=64, state="next_obs"))
    assert not torch.equal(after.compute(batch), after.compute(moved))
    r = resolve({"agent": "ppo", "bonus": "re3", "task": "CartPole-v1"})
    assert (r.shaping.coef, r.shaping.normalizer, r.agent.int_enters) == (
        0.005,
        "none",
        "advantage",
    )
    raw = bonus.compute(batch)
    assert torch.allclose(_scaled("re3", [raw], task="CartPole-v1"), 0.005 * raw)


# ----------------------------------------------------------------------------- NGU


def test_ngu_keeps_its_running_mean_distance_across_episodes_and_normalises() -> None:
    """rllte pseudo_counts.py and DI-engine ngu_reward_model.py keep d_m^2 across episodes;
    reset per episode (the former choice), the first scored step of every episode paid
    1 / (sqrt(eps / (1 - xi + eps)) + c), about 90."""
    cfg = NGUConfig(k=2, embedding_dim=2)
    memory = KNNMemory(1, cfg, torch.device("cpu"))
    episodes = [[[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], [[5.0, 5.0], [5.3, 5.0], [4.0, 4.0]]]
    seen: list[float] = []
    firsts = []
    for points in episodes:
        for t in range(len(points) - 1):
            got = memory.step(torch.tensor([points[t]]), torch.tensor([points[t + 1]]))
            expected, seen = _ngu_by_hand(points[: t + 1], points[t + 1], seen, cfg)
            assert float(got[0]) == pytest.approx(expected, rel=1e-6)
            if t == 0:
                firsts.append(float(got[0]))
        memory.reset(torch.tensor([True]))
    assert firsts[1] < 20.0  # scored against d_m^2 so far (16.4 here), not against itself
    old = KNNMemory(1, dataclasses.replace(cfg, distance_mean="episode"), torch.device("cpu"))
    for points in episodes:
        got = old.step(torch.tensor([points[0]]), torch.tensor([points[1]]))
        eps, xi, c = cfg.kernel_epsilon, cfg.cluster_distance, cfg.pseudo_count
        assert float(got[0]) == pytest.approx(1 / (math.sqrt(eps / (1 - xi + eps)) + c))
        old.reset(torch.tensor([True]))
    r = resolve({"agent": "ppo", "bonus": "ngu", "task": DEEPSEA})
    assert (r.shaping.normalizer, r.shaping.coef) == ("reward_rms", 0.3)
    raw = [torch.tensor([[90.8, 0.5], [0.2, 0.1]]), torch.tensor([[1.0, 0.3], [0.1, 0.2]])]
    every = torch.cat([b.reshape(-1) for b in raw]).double()
    expected = 0.3 * raw[-1].double() / every.std(unbiased=False)
    assert torch.allclose(_scaled("ngu", raw).double(), expected, rtol=1e-5)


# ----------------------------------------------------------------------------- NovelD


def test_noveld_scores_the_releases_rnd_on_the_raw_grid() -> None:
    """tianjunz/NovelD src/models.py and src/algos/bebold.py: a fixed random conv of the raw
    7x7 grid (not scaled, not normalised), default-init MLP heads, nov the L2 norm; 0.5 x
    max(nov(s') - 0.5 nov(s), 0) on first visits; one predictor step per 3,200 env steps;
    the total reward clipped to [-1, 1]."""
    grid, act = gym.spaces.Box(0, 10, (3, 7, 7), np.uint8), gym.spaces.Discrete(7)
    torch.manual_seed(0)
    bonus = NovelD(grid, act)
    release = bonus.release
    assert release is not None and bonus.rnd is None
    for head in (release.target, release.predictor):  # torch's default init, not orthogonal
        for layer in head:
            if isinstance(layer, torch.nn.Linear):
                assert layer.weight.abs().max() <= 1 / math.sqrt(layer.in_features) + 1e-7
    batch = random_batch(grid, act, 6, 2, seed=3)
    with torch.no_grad():

        def nov(obs: torch.Tensor) -> torch.Tensor:
            x = release.encoder(obs.reshape(-1, 3, 7, 7).float())  # raw grid indices
            return (release.predictor(x) - release.target(x)).norm(dim=-1).reshape(6, 2)

        rise = (nov(batch.next_obs) - 0.5 * nov(batch.obs)).clamp_min(0.0)
    first = bonus.episodic_walk(batch) == 1
    raw = bonus.compute(batch)
    assert torch.allclose(raw.double(), (rise * first).double(), rtol=1e-5, atol=1e-6)
    assert torch.allclose(_scaled("noveld", [raw]), 0.5 * raw)
    assert (
        resolve({"agent": "ppo", "bonus": "noveld", "task": DEEPSEA}).agent.total_reward_clip == 1
    )
    steps = []
    step = release.optimizer.step
    release.optimizer.step = lambda *a, **k: steps.append(1) or step(*a, **k)  # type: ignore[method-assign]
    for seed in range(25):  # 25 rollouts of 128 steps x 8 envs = 25,600 env steps
        bonus.update(random_batch(grid, act, 128, 8, seed=seed))
    assert len(steps) == 25_600 // 3_200


# ----------------------------------------------------------------------------- AE-SimHash


def test_ae_simhash_counts_s_t_and_trains_from_a_replay_pool() -> None:
    """Tang et al.'s code counts s_t (hash_exploration ale_hashing_bonus_evaluator.py); the
    sandbox trains the autoencoder on minibatches of 32 from a replay pool (trpo_plus_lsh.py
    fill_replay_pool), not on the latest rollout alone."""
    frames, act = gym.spaces.Box(0, 255, (1, 52, 52), np.uint8), gym.spaces.Discrete(2)
    torch.manual_seed(0)
    cfg = AESimHashConfig(table_size=9973, train_every=2, pool_size=100)
    bonus = AESimHash(frames, act, cfg)
    gen = torch.Generator().manual_seed(0)

    def rollout(level: int) -> Transitions:
        obs = torch.full((8, 4, 1, 52, 52), level, dtype=torch.uint8)
        nxt = torch.randint(0, 256, obs.shape, dtype=torch.uint8, generator=gen)
        z = torch.zeros(8, 4)
        return Transitions(obs, z.long(), nxt, z, z.bool(), z.bool())

    first = rollout(10)
    other_next = dataclasses.replace(first, next_obs=torch.zeros_like(first.next_obs))
    assert torch.equal(bonus.compute(first), bonus.compute(other_next))  # s_t only
    drawn: list[torch.Tensor] = []
    loss = bonus.loss
    bonus.loss = lambda f: drawn.append(f.clone()) or loss(f)  # type: ignore[method-assign]
    for level in (10, 200, 60, 120):  # four rollouts, 32 frames each, into a pool of 100
        bonus.update(rollout(level))
    assert bonus.pool.seen == 128 and bonus.pool.frames.shape[0] == 100
    levels = {int(f[0, 0, 0]) for batch in drawn for f in batch}
    assert levels - {60, 120}  # the trainings drew frames of earlier rollouts from the pool
    assert all(batch.shape[0] == 32 for batch in drawn)
