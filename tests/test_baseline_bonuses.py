"""Oracles for the baseline bonuses: count (Tang et al. 2017), RND (Burda et al. 2018) and
ICM (Pathak et al. 2017). Learned-model tests use small networks so they stay fast."""

from __future__ import annotations

import collections
import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from bonuses.base import Transitions
from bonuses.count import Count, CountConfig, largest_primes
from bonuses.icm import ICM, ICMConfig
from bonuses.rnd import RND, RNDConfig

VEC = gym.spaces.Box(-np.inf, np.inf, (6,), np.float32)
IMG = gym.spaces.Box(0, 255, (4, 52, 52), np.uint8)
ACT4 = gym.spaces.Discrete(4)


def batch_of(next_obs: torch.Tensor, obs: torch.Tensor | None = None, actions=None) -> Transitions:
    """Transitions shaped (T, N, ...) from tensors shaped (T, N, ...)."""
    shape = next_obs.shape[:2]
    zeros = torch.zeros(shape)
    return Transitions(
        obs=next_obs if obs is None else obs,
        actions=torch.zeros(shape, dtype=torch.long) if actions is None else actions,
        next_obs=next_obs,
        ext_rewards=zeros,
        terminated=zeros.bool(),
        truncated=zeros.bool(),
    )


def column(x: torch.Tensor) -> Transitions:
    """A flat batch (B, ...) as B time steps of one env."""
    return batch_of(x[:, None])


# ----------------------------------------------------------------------------- count


def test_count_is_beta_over_sqrt_n_on_a_fixed_discrete_sequence() -> None:
    bonus = Count(gym.spaces.Discrete(5), ACT4, CountConfig(beta=0.5))
    assert bonus.exact
    first = torch.tensor([[0, 1], [0, 2], [3, 0], [1, 1]])
    # Counted by hand: this batch holds state 0 three times, 1 three times, 2 and 3 once.
    n_first = [[3, 3], [3, 1], [1, 3], [3, 3]]
    second = torch.tensor([[0, 4], [2, 0]])
    # Committed 0:3, 1:3, 2:1, 3:1; this batch adds 0 twice, 2 and 4 once.
    n_second = [[5, 1], [2, 5]]

    def expected(n: list[list[int]]) -> torch.Tensor:
        return (0.5 / torch.tensor(n, dtype=torch.float64).sqrt()).float()

    assert torch.equal(bonus.compute(batch_of(first)), expected(n_first))
    assert torch.equal(bonus.compute(batch_of(first)), expected(n_first)), "compute committed"
    bonus.update(batch_of(first))
    assert torch.equal(bonus.compute(batch_of(second)), expected(n_second))
    bonus.update(batch_of(second))
    assert bonus.counts[0].tolist()[:5] == [5, 3, 2, 1, 1]


def test_identical_observations_share_a_hash_code() -> None:
    torch.manual_seed(0)
    bonus = Count(VEC, ACT4, CountConfig(beta=1.0))
    x, others = torch.randn(6), torch.randn(9, 6)
    rows = torch.stack([x, others[0], x, others[1], x])
    codes = bonus.codes(rows)
    assert torch.equal(codes[0], codes[2]) and torch.equal(codes[0], codes[4])
    # Same code whatever the batch around it (a float64 projection, batch-independent).
    assert torch.equal(bonus.codes(torch.cat([others, x[None]]))[-1], codes[0])
    out = bonus.compute(column(rows)).reshape(-1)
    assert torch.allclose(out[[0, 2, 4]], torch.full((3,), 3**-0.5))


def test_image_code_uses_only_the_newest_frame() -> None:
    torch.manual_seed(0)
    bonus = Count(IMG, ACT4, Count.default_config(IMG, ACT4))
    assert bonus.config.k == 256 and bonus.projection.shape == (256, 52 * 52)
    a = torch.randint(0, 256, (4, 52, 52), dtype=torch.uint8)
    older_differ, newest_differs = a.clone(), a.clone()
    older_differ[:3] = torch.randint(0, 256, (3, 52, 52), dtype=torch.uint8)
    newest_differs[3] = torch.randint(0, 256, (52, 52), dtype=torch.uint8)
    codes = bonus.codes(torch.stack([a, older_differ, newest_differs]))
    assert torch.equal(codes[0], codes[1])
    assert not torch.equal(codes[0], codes[2])


def test_far_apart_observations_rarely_collide() -> None:
    """SimHash with k bits gives two states at angle theta the same code with probability
    (1 - theta/pi)^k (Charikar 2002): at most (2/3)^32 = 2.3e-6 per pair more than 60 degrees
    apart. Stated bound on the measured rate over such pairs: 2e-5."""
    torch.manual_seed(1)
    space = gym.spaces.Box(-np.inf, np.inf, (20,), np.float32)
    bonus = Count(space, ACT4, CountConfig(beta=1.0))
    states = torch.randn(2000, 20) * 10.0
    codes = bonus.codes(states)
    unit = states / states.norm(dim=1, keepdim=True)
    far = torch.triu(unit @ unit.T < 0.5, diagonal=1)  # cos < 0.5: more than 60 degrees
    same = (codes[:, None, :] == codes[None, :, :]).all(-1)
    assert far.sum() > 1_000_000
    assert float((same & far).sum()) / float(far.sum()) < 2e-5
    # The count table adds no collisions of its own: distinct codes are counted apart.
    assert torch.equal(bonus.visit_counts(column(states)), same.sum(1))


@pytest.mark.parametrize(
    ("counted", "n"),
    [("obs", [[2], [2], [1]]), ("next_obs", [[1], [2], [2]])],
)
def test_count_hashes_s_t_by_default_as_tang_et_al(counted: str, n: list[list[int]]) -> None:
    """Transitions 0 -> 1, 0 -> 2, 1 -> 2: counting s_t (the default, hrtang/hash_exploration)
    sees 0 twice and 1 once; counting s_{t+1} sees 1 once and 2 twice."""
    assert CountConfig().counted_state == "obs"
    bonus = Count(gym.spaces.Discrete(3), ACT4, CountConfig(beta=1.0, counted_state=counted))
    batch = batch_of(torch.tensor([[1], [2], [2]]), obs=torch.tensor([[0], [0], [1]]))
    expected = (1.0 / torch.tensor(n, dtype=torch.float64).sqrt()).float()
    assert torch.equal(bonus.compute(batch), expected)
    with pytest.raises(ValueError, match="counted_state"):
        CountConfig(counted_state="s")


def test_count_min_sketch_never_undercounts_and_is_exact_when_roomy() -> None:
    torch.manual_seed(2)
    small = Count(VEC, ACT4, CountConfig(k=16, table_size=101, depth=2))
    big = Count(VEC, ACT4, CountConfig(k=16))
    big.projection.copy_(small.projection)
    assert not small.exact and big.exact  # 2^16 codes fit one row of 999,983
    assert small.moduli.tolist() == [101, 97]
    pool = torch.randn(400, 6)
    true: collections.Counter[tuple[int, ...]] = collections.Counter()
    for _ in range(3):
        states = pool[torch.randint(0, 400, (1000,))]
        keys = [tuple(c) for c in small.codes(states).tolist()]
        in_batch = collections.Counter(keys)
        want = torch.tensor([true[k] + in_batch[k] for k in keys])
        assert (small.visit_counts(column(states)) >= want).all()
        assert torch.equal(big.visit_counts(column(states)), want)
        for bonus in (small, big):
            bonus.update(column(states))
        true.update(keys)


def test_count_memory_is_bounded_and_checkpoints_are_sparse() -> None:
    bonus = Count(VEC, ACT4, CountConfig())
    assert largest_primes(999_983, 6) == [999983, 999979, 999961, 999959, 999953, 999931]
    assert bonus.counts.dtype == torch.int32
    assert bonus.counts.numel() * 4 <= 6 * 999_983 * 4  # 24 MB whatever the run length
    bonus.update(column(torch.randn(10, 6)))
    extra = bonus.state_dict()["_extra_state"]
    assert extra["count_index"].numel() <= 6 * 10
    restored = Count(VEC, ACT4, CountConfig())
    restored.load_state_dict(copy.deepcopy(bonus.state_dict()))
    assert torch.equal(restored.counts, bonus.counts)


# ----------------------------------------------------------------------------- RND

# 4 minibatches per pass: what the module learns in 20 updates of 512 transitions, not the
# release's schedule (one step per 1,024 env steps, which would give these 20 updates 40).
SMALL_RND = RNDConfig(feature_dim=64, hidden_sizes=(64, 64), learning_rate=1e-3, num_minibatches=4)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rnd_scores_unseen_states_higher_than_familiar_ones(seed: int) -> None:
    """Train on A = {x : x_0 < 0}; held-out samples of A must score lower than B = {x_0 > 0}.
    Measured ratio 2.0-2.6 over these seeds; stated margin: at least 1.5x."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(100 + seed)

    def sample(n: int, sign: float) -> torch.Tensor:
        x = torch.randn(n, 8, generator=gen)
        x[:, 0] = sign * x[:, 0].abs()
        return x

    bonus = RND(gym.spaces.Box(-np.inf, np.inf, (8,), np.float32), ACT4, SMALL_RND)
    for _ in range(20):
        bonus.update(column(sample(512, -1.0)))
    familiar = bonus.compute(column(sample(2000, -1.0))).mean()
    novel = bonus.compute(column(sample(2000, +1.0))).mean()
    assert novel > 1.5 * familiar


def test_rnd_observation_statistics_change_only_in_update() -> None:
    torch.manual_seed(0)
    bonus = RND(VEC, ACT4, SMALL_RND)
    data = column(torch.randn(64, 6) * 3.0 + 1.0)
    before = copy.deepcopy(bonus.obs_rms.state_dict())
    bonus.compute(data)
    for key, value in bonus.obs_rms.state_dict().items():
        assert torch.equal(value, before[key])
    bonus.update(data)
    flat = data.next_obs.reshape(64, 6).double()
    assert torch.allclose(bonus.obs_rms.mean, flat.mean(0))
    assert torch.allclose(bonus.obs_rms.var, flat.var(0, unbiased=False))
    assert float(bonus.obs_rms.count) == 64


def test_rnd_images_use_the_newest_frame_only() -> None:
    bonus = RND(IMG, ACT4, RNDConfig(warmup_updates=1))
    frames = torch.randint(0, 256, (3, 2, 4, 52, 52), dtype=torch.uint8)
    bonus.update(batch_of(frames))
    assert bonus.obs_rms.mean.shape == (1, 52, 52)
    newest = frames[:, :, -1:].reshape(6, 1, 52, 52).double() / 255.0
    assert torch.allclose(bonus.obs_rms.mean, newest.mean(0))


def test_rnd_warmup_fits_statistics_only_and_scores_zero() -> None:
    torch.manual_seed(0)
    cfg = RNDConfig(warmup_updates=2, feature_dim=16, hidden_sizes=(16,), minibatch_size=32)
    bonus = RND(VEC, ACT4, cfg)
    data = column(torch.randn(32, 6))
    weights = copy.deepcopy(bonus.predictor.state_dict())
    for _ in range(2):
        assert torch.equal(bonus.compute(data), torch.zeros(32, 1))
        assert bonus.update(data)["warmup"] == 1.0
    assert all(torch.equal(v, weights[k]) for k, v in bonus.predictor.state_dict().items())
    assert float(bonus.obs_rms.count) == 64  # the warm-up steps were seen (and counted)
    assert (bonus.compute(data) > 0).all()
    assert bonus.update(data)["warmup"] == 0.0
    assert any(not torch.equal(v, weights[k]) for k, v in bonus.predictor.state_dict().items())


def test_rnd_without_obs_normalize_reads_pixels_over_255_and_trains_from_the_first_update() -> None:
    """rllte's obs_rms=False: the networks read uint8 grids / 255 (no statistics, no warm-up)."""
    torch.manual_seed(0)
    grid = gym.spaces.Box(0, 255, (3, 7, 7), np.uint8)
    cfg = RNDConfig(obs_normalize=False, warmup_updates=3, minibatch_size=8)
    bonus = RND(grid, ACT4, cfg)
    views = torch.randint(0, 11, (4, 2, 3, 7, 7), dtype=torch.uint8)
    data = batch_of(views)
    x = views.reshape(8, 3, 7, 7).float() / 255.0
    with torch.no_grad():
        expected = (bonus.predictor(x) - bonus.target(x)).pow(2).mean(-1).reshape(4, 2)
    assert torch.allclose(bonus.compute(data), expected)  # no zeros for a warm-up
    weights = copy.deepcopy(bonus.predictor.state_dict())
    assert bonus.update(data)["warmup"] == 0.0
    assert any(not torch.equal(v, weights[k]) for k, v in bonus.predictor.state_dict().items())
    normalized = RND(grid, ACT4, RNDConfig(warmup_updates=0))
    normalized.load_state_dict(bonus.state_dict())
    normalized.obs_rms.update(x.double())  # statistics of the same batch change the scores
    assert not torch.allclose(normalized.compute(data), bonus.compute(data))


def test_rnd_update_proportion_masks_the_predictor_loss() -> None:
    torch.manual_seed(0)
    cfg = RNDConfig(warmup_updates=0, update_proportion=1e-12, feature_dim=16, hidden_sizes=(16,))
    bonus = RND(VEC, ACT4, cfg)
    weights = copy.deepcopy(bonus.predictor.state_dict())
    bonus.update(column(torch.randn(32, 6)))  # no transition is drawn: zero gradient
    assert all(torch.equal(v, weights[k]) for k, v in bonus.predictor.state_dict().items())


def test_rnd_class_attributes_and_preset() -> None:
    from explore_bench.settings.config import resolve

    assert RND.episodic is False and RND.default_normalizer == "return_rms"
    run = resolve({"agent": "ppo", "bonus": "rnd", "task": "CartPole-v1", "preset": "rnd"})
    agent = run.agent
    assert agent.two_value_heads and agent.gamma == 0.99 and agent.int_gamma == 0.99
    assert agent.ext_coef == 2.0 and agent.int_coef == 1.0 and agent.lr == 3e-4
    assert run.shaping.normalizer == "return_rms" and run.shaping.return_gamma == 0.99
    # the release's Atari PPO is the preset rnd-atari (an agent setting, not RND's method)
    atari = resolve({"agent": "ppo", "bonus": "rnd", "task": "CartPole-v1", "preset": "rnd-atari"})
    assert (atari.agent.lr, atari.agent.ent_coef, atari.agent.clip_coef) == (1e-4, 1e-3, 0.1)
    assert atari.agent.gamma == 0.999 and not atari.agent.norm_adv
    assert atari.agent.max_grad_norm == 0.0 and atari.run.warmup_steps == 6400


# ----------------------------------------------------------------------------- ICM

# lr 1e-3 instead of the release's 1e-4: these oracles check what the module can learn in
# 20 updates, not the default schedule.
SMALL_ICM = ICMConfig(hidden_dim=64, feature_dim=32, epochs=4, learning_rate=1e-3)
STEPS = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


def toy_dynamics(n: int, gen: torch.Generator, discrete: bool = True) -> Transitions:
    """s' = s + displacement of the action in the first two of six dimensions."""
    s = torch.randn(n, 6, generator=gen)
    if discrete:
        a = torch.randint(0, 4, (n,), generator=gen)
        move = STEPS[a]
    else:
        a = torch.rand(n, 2, generator=gen) * 2 - 1
        move = a
    nxt = s.clone()
    nxt[:, :2] += move
    return batch_of(nxt[:, None], s[:, None], a[:, None])


def inverse_prediction(bonus: ICM, batch: Transitions) -> torch.Tensor:
    flat = batch.flat()
    with torch.no_grad():
        phi = torch.cat([bonus._features(flat.obs), bonus._features(flat.next_obs)], -1)
        return bonus.inverse(phi)


@pytest.mark.parametrize("seed", [0, 1])
def test_icm_forward_loss_falls_and_inverse_beats_chance_discrete(seed: int) -> None:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(10 + seed)
    bonus = ICM(VEC, ACT4, SMALL_ICM)
    held_out = toy_dynamics(1000, gen)
    surprise_before = bonus.compute(held_out).mean()
    losses = [bonus.update(toy_dynamics(256, gen))["forward_loss"] for _ in range(20)]
    assert np.mean(losses[-3:]) < 0.2 * losses[0]
    assert bonus.compute(held_out).mean() < 0.2 * surprise_before
    accuracy = inverse_prediction(bonus, held_out).argmax(-1) == held_out.flat().actions
    assert accuracy.float().mean() > 0.9  # chance: 0.25


def test_icm_inverse_regression_beats_chance_continuous() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(3)
    bonus = ICM(VEC, gym.spaces.Box(-1.0, 1.0, (2,), np.float32), SMALL_ICM)
    held_out = toy_dynamics(1000, gen, discrete=False)
    losses = [
        bonus.update(toy_dynamics(256, gen, discrete=False))["forward_loss"] for _ in range(15)
    ]
    assert np.mean(losses[-3:]) < 0.2 * losses[0]
    error = (inverse_prediction(bonus, held_out) - held_out.flat().actions).pow(2).mean()
    assert error < 0.1 / 3  # chance (predict the mean of U(-1, 1)): variance 1/3


def test_icm_bonus_is_eta_half_squared_error_at_the_release_scale() -> None:
    torch.manual_seed(0)
    bonus = ICM(VEC, ACT4, ICMConfig(eta=0.3, hidden_dim=16, feature_dim=8))
    data = toy_dynamics(10, torch.Generator().manual_seed(0))
    flat = data.flat()
    with torch.no_grad():
        phi, phi_next = bonus._features(flat.obs), bonus._features(flat.next_obs)
        pred = bonus.forward_model(torch.cat([phi, bonus.action_features(flat.actions)], -1))
    # noreward-rl src/model.py: 0.5 * mean over features * 288 (= 0.5 * ||.||^2 at 288 features)
    expected = 0.3 / 2 * 288 * (pred - phi_next).pow(2).mean(-1)
    assert torch.allclose(bonus.compute(data).reshape(-1), expected)


@pytest.mark.parametrize("to_encoder", [True, False])
def test_icm_forward_loss_alone_reaches_the_encoder_only_as_released(to_encoder: bool) -> None:
    """beta = 1 zeroes the inverse loss: the encoder then moves through the forward loss
    (noreward-rl back-propagates it into phi) or, detached, not at all."""
    torch.manual_seed(0)
    cfg = ICMConfig(beta=1.0, hidden_dim=16, feature_dim=8, forward_to_encoder=to_encoder)
    bonus = ICM(VEC, ACT4, cfg)
    encoder = [p.detach().clone() for p in bonus.encoder.parameters()]
    inverse = [p.detach().clone() for p in bonus.inverse.parameters()]
    forward = [p.detach().clone() for p in bonus.forward_model.parameters()]
    bonus.update(toy_dynamics(64, torch.Generator().manual_seed(1)))

    def moved(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
        return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))

    assert moved(encoder, bonus.encoder) is to_encoder
    assert not moved(inverse, bonus.inverse)  # its loss weight is 0
    assert moved(forward, bonus.forward_model)
