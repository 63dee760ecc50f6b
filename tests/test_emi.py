"""EMI (Kim et al. 2019): loss terms against closed forms, learning on toy systems, the
two reward variants, and the bonus contract on every space kind it supports."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from bonuses._emi_networks import critic, gaussian_kl_to_standard, jsd_mi_loss, kernel_similarity
from bonuses.base import Transitions, UnsupportedSpaceError
from bonuses.emi import EMI, EMIConfig
from explore_bench.plugins.testing import DEFAULT_SPACES, check_bonus
from explore_bench.settings.config import apply_overrides

torch.set_num_threads(1)

VEC = gym.spaces.Box(-np.inf, np.inf, (10,), np.float32)
BOX2 = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
IMG = gym.spaces.Box(0, 255, (4, 44, 44), np.uint8)


def sample(space: gym.Space, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    if isinstance(space, gym.spaces.Discrete):
        return torch.randint(0, int(space.n), shape, generator=gen)
    full = shape + tuple(space.shape or ())
    if space.dtype == np.uint8:
        return torch.randint(0, 256, full, generator=gen, dtype=torch.uint8)
    return 2 * torch.randn(full, generator=gen)  # actions beyond the bounds too


def transitions(obs: torch.Tensor, actions: torch.Tensor, next_obs: torch.Tensor) -> Transitions:
    zeros = torch.zeros(obs.shape[:2])
    return Transitions(obs, actions, next_obs, zeros, zeros.bool(), zeros.bool())


def random_batch(obs_space: gym.Space, act_space: gym.Space, t: int, n: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return transitions(
        sample(obs_space, (t, n), gen),
        sample(act_space, (t, n), gen),
        sample(obs_space, (t, n), gen),
    )


def linear_system(gen, n: int, lo: float, hi: float, w, b, squash: bool) -> Transitions:
    """s' = s + B a in R^2, observed as W s (or tanh(W s)) in R^10; one env, n steps."""
    s = lo + (hi - lo) * torch.rand(n, 2, generator=gen)
    a = 2 * torch.rand(n, 2, generator=gen) - 1
    obs = (lambda z: torch.tanh(z @ w.T)) if squash else (lambda z: z @ w.T)
    return transitions(obs(s)[:, None], a[:, None], obs(s + a @ b.T)[:, None])


def toy_problem(seed: int) -> tuple[torch.Generator, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    return gen, torch.randn(10, 2, generator=gen), 0.3 * torch.randn(2, 2, generator=gen)


# ----------------------------------------------------------------------------- loss terms


@pytest.mark.parametrize("dim", [2, 3])
def test_kl_term_matches_torch_distributions(dim: int) -> None:
    gen = torch.Generator().manual_seed(dim)
    for _ in range(5):
        x = torch.randn(300, dim, generator=gen, dtype=torch.float64) @ torch.randn(
            dim, dim, generator=gen, dtype=torch.float64
        ) + torch.randn(dim, generator=gen, dtype=torch.float64)
        mu, sigma = x.mean(0), torch.cov(x.T)  # torch.cov divides by B - 1
        ref = kl_divergence(
            MultivariateNormal(mu, sigma),
            MultivariateNormal(torch.zeros(dim, dtype=x.dtype), torch.eye(dim, dtype=x.dtype)),
        )
        assert float(gaussian_kl_to_standard(x)) == pytest.approx(float(ref), rel=1e-6)


def test_kl_term_finite_with_gradients_on_rank_deficient_batch() -> None:
    x = torch.randn(64, 1).repeat(1, 2).requires_grad_()  # both columns equal: det Sigma = 0
    kl = gaussian_kl_to_standard(x)
    kl.backward()
    assert x.grad is not None
    assert torch.isfinite(kl) and torch.isfinite(x.grad).all()
    assert float(kl.detach()) > 5.0  # the clamped log det (log 1e-6) dominates, as it should
    same = torch.ones(8, 2, requires_grad=True)  # all rows equal: Sigma = 0
    assert torch.isfinite(gaussian_kl_to_standard(same))


def test_jsd_critic_separates_dependent_from_independent_samples() -> None:
    torch.manual_seed(0)
    net = critic(2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = torch.randn(n, 2), torch.randn(n, 2)
        c = a + b + 0.1 * torch.randn(n, 2)  # c depends on (a, b)
        joint = torch.cat([c, a, b], 1)
        marginal = torch.cat([c[torch.randperm(n)], a, b], 1)  # c from other samples
        return joint, marginal

    for _ in range(400):
        loss = jsd_mi_loss(net, *draw(256))
        opt.zero_grad()
        loss.backward()
        opt.step()
    joint, marginal = draw(2000)
    with torch.no_grad():
        t_joint, t_marg = net(joint).squeeze(1), net(marginal).squeeze(1)
        final = float(jsd_mi_loss(net, joint, marginal))
    assert float(t_joint.mean() - t_marg.mean()) > 3.0
    assert float((t_joint > 0).float().mean() + (t_marg < 0).float().mean()) / 2 > 0.9
    assert final < 2 * np.log(2) - 0.5  # an uninformed critic scores 2 ln 2


def test_diversity_kernel_matches_direct_formula() -> None:
    gen = torch.Generator().manual_seed(0)
    q, pool = torch.randn(100, 2, generator=gen), 3 * torch.randn(70, 2, generator=gen)
    direct = torch.exp(-torch.cdist(q, pool).square() / (2 * 5.0**2)).mean(1)
    torch.testing.assert_close(kernel_similarity(q, pool, 5.0, chunk=16), direct)


# ------------------------------------------------------------------------------ learning


@pytest.mark.slow
def test_linear_system_residual_small_and_error_model_small() -> None:
    gen, w, b = toy_problem(0)
    bonus = EMI(VEC, BOX2, EMIConfig())
    for _ in range(15):
        metrics = bonus.update(linear_system(gen, 4096, -1.0, 1.0, w, b, squash=False))
    x = linear_system(gen, 2048, -1.0, 1.0, w, b, squash=False)
    with torch.no_grad():
        phi_s, phi_s2, _, e, residual = bonus._embed(
            x.obs[:, 0], bonus.action_features(x.actions[:, 0]), x.next_obs[:, 0]
        )
    step = float((phi_s2 - phi_s).square().sum(1).mean())
    assert step > 0.1  # the embedding did not collapse (psi is held near unit variance)
    assert float(residual.square().sum(1).mean()) < 0.1 * step
    assert float(e.square().sum(1).mean()) < 1e-3 * step
    assert metrics["loss_mi_action"] < 1.0 and metrics["loss_mi_state"] < 1.0  # 2 ln 2 = 1.39


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_residual_bonus_higher_on_unseen_region(seed: int) -> None:
    gen, w, b = toy_problem(seed)
    bonus = EMI(VEC, BOX2, EMIConfig(reward="residual"))
    for _ in range(10):
        bonus.update(linear_system(gen, 4096, -1.0, 1.0, w, b, squash=True))
    seen = bonus.compute(linear_system(gen, 2048, -1.0, 1.0, w, b, squash=True)).mean()
    unseen = bonus.compute(linear_system(gen, 2048, 2.0, 3.0, w, b, squash=True)).mean()
    assert float(unseen) > 3.0 * float(seen)


# ------------------------------------------------------------------------------ rewards


def test_diversity_bonus_range_staying_still_and_direct_formula() -> None:
    bonus = EMI(VEC, BOX2, EMIConfig(reward="diversity"))
    assert bonus.compute_after_update
    x = random_batch(VEC, BOX2, 40, 3)
    next_obs = x.next_obs.clone()
    next_obs[:-1] = x.obs[1:]  # consecutive steps, ...
    next_obs[5, 0] = 3 * x.obs[0, 1]  # ... except an episode end,
    next_obs[7, 1] = x.obs[7, 1]  # and a step that stays at the same state
    x = transitions(x.obs, x.actions, next_obs)
    bonus.update(x)
    r = bonus.compute(x)
    assert r.shape == (40, 3) and r.dtype == torch.float32
    assert float(r.abs().max()) <= 0.1 and float(r.abs().max()) > 0
    assert abs(float(r[7, 1])) < 1e-6
    with torch.no_grad():
        phi, phi_next = bonus.phi(x.obs.reshape(120, 10)), bonus.phi(next_obs.reshape(120, 10))
    k = lambda q: torch.exp(-torch.cdist(q, phi).square() / 50.0).mean(1)  # noqa: E731
    torch.testing.assert_close(r.reshape(-1), 0.1 * (k(phi) - k(phi_next)), atol=1e-6, rtol=1e-4)


def test_residual_bonus_scored_before_update_with_eta() -> None:
    bonus = EMI(VEC, BOX2, EMIConfig(reward="residual"))
    assert not bonus.compute_after_update
    x = random_batch(VEC, BOX2, 30, 2)
    with torch.no_grad():
        *_, residual = bonus._embed(
            x.obs.reshape(60, 10),
            bonus.action_features(x.actions.reshape(60, 2)),
            x.next_obs.reshape(60, 10),
        )
    raw = bonus.compute(x)
    torch.testing.assert_close(raw.reshape(-1), 1e-3 * residual.square().sum(1))
    metrics = bonus.update(x)
    assert metrics["bonus_mean"] == pytest.approx(float(raw.mean()), rel=1e-5)


def test_image_embedding_sees_newest_frame_scaled_to_unit_range() -> None:
    actions = gym.spaces.Discrete(6)
    bonus = EMI(IMG, actions, EMI.default_config(IMG, actions))
    x = random_batch(IMG, actions, 6, 2)
    raw = bonus.compute(x)
    frame = lambda o: o[..., -1:, :, :].reshape(12, 1, 44, 44).float() / 127.5 - 1  # noqa: E731
    s, s2 = frame(x.obs), frame(x.next_obs)
    a = torch.nn.functional.one_hot(x.actions.reshape(12), 6).float()
    with torch.no_grad():
        r = bonus.phi(s2) - bonus.phi(s) - bonus.psi(a) - bonus.error(s, a)
    torch.testing.assert_close(raw.reshape(-1), 1e-3 * r.square().sum(1))
    older = x.obs.clone()
    older[:, :, :3] = 255 - older[:, :, :3]  # change every frame but the newest
    torch.testing.assert_close(bonus.compute(transitions(older, x.actions, x.next_obs)), raw)


# ------------------------------------------------------------------------------ config


def test_domain_defaults_and_overrides() -> None:
    atari = EMI.default_config(IMG, gym.spaces.Discrete(18))
    mujoco = EMI.default_config(gym.spaces.Box(-np.inf, np.inf, (17,)), gym.spaces.Box(-1, 1, (6,)))
    assert (atari.lambda_err, atari.mi_weight, atari.kl_weight, atari.reward) == (
        1e2,
        0.1,
        0.5,
        "residual",
    )
    assert (mujoco.lambda_err, mujoco.mi_weight, mujoco.kl_weight, mujoco.reward) == (
        1e4,
        0.05,
        0.1,
        "diversity",
    )
    changed = apply_overrides(mujoco, {"reward": "residual", "lambda_err": "10"}, "bonus")
    assert changed.reward == "residual" and changed.lambda_err == 10.0
    assert not EMI(VEC, BOX2, changed).compute_after_update
    with pytest.raises(UnsupportedSpaceError, match="channel-first"):
        EMI(gym.spaces.Box(0, 255, (210, 160, 3), np.uint8), gym.spaces.Discrete(18))
    with pytest.raises(ValueError, match=r"bonus\.reward"):
        EMIConfig(reward="novelty")
    with pytest.raises(ValueError, match=r"bonus\.lambda_err"):
        EMIConfig(lambda_err=-1.0)


# ------------------------------------------------------------------------------ contract

SPACES = [
    (VEC, BOX2),
    (VEC, gym.spaces.Discrete(5)),
    (IMG, gym.spaces.Discrete(6)),
    (IMG, BOX2),
    (gym.spaces.Discrete(12), gym.spaces.Discrete(3)),
]


@pytest.mark.parametrize(("obs_space", "act_space"), SPACES)
@pytest.mark.parametrize("reward", ["residual", "diversity"])
def test_contract_pure_compute_and_state_dict_round_trip(obs_space, act_space, reward) -> None:
    torch.manual_seed(0)
    config = EMIConfig(reward=reward, minibatch_size=64)
    bonus = EMI(obs_space, act_space, config)
    x, y = (
        random_batch(obs_space, act_space, 50, 2, seed=1),
        random_batch(obs_space, act_space, 50, 2, seed=2),
    )
    metrics = bonus.update(x)
    assert all(np.isfinite(v) for v in metrics.values())
    assert {"loss_residual", "loss_error", "loss_mi_action", "loss_mi_state", "loss_kl"} <= set(
        metrics
    )

    before = copy.deepcopy(bonus.state_dict())
    r1, r2 = bonus.compute(y), bonus.compute(y)
    torch.testing.assert_close(r1, r2, rtol=0, atol=0)
    assert r1.shape == (50, 2) and r1.dtype == torch.float32 and torch.isfinite(r1).all()
    after = bonus.state_dict()
    for key, value in before.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, after[key]), key

    torch.manual_seed(123)
    clone = EMI(obs_space, act_space, config)
    clone.load_state_dict(copy.deepcopy(before))
    torch.testing.assert_close(clone.compute(y), r1, rtol=0, atol=0)
    torch.manual_seed(7)  # same minibatch order for both: optimiser state must match too
    bonus.update(y)
    torch.manual_seed(7)
    clone.update(y)
    torch.testing.assert_close(clone.compute(x), bonus.compute(x), rtol=0, atol=0)


@pytest.mark.parametrize("reward", ["residual", "diversity"])
def test_check_bonus_contract(reward: str) -> None:
    report = check_bonus(EMI, config=EMIConfig(reward=reward, minibatch_size=8))
    assert len(report.checked) == len(DEFAULT_SPACES)


def test_small_batch_trains_on_whole_batch_and_actions_are_clipped() -> None:
    bonus = EMI(VEC, BOX2, EMIConfig())
    x = random_batch(VEC, BOX2, 10, 2)  # 20 < 512 transitions: one minibatch per epoch
    head = bonus.phi[1]  # type: ignore[index]
    w = head.weight.clone()
    bonus.update(x)
    assert not torch.equal(w, head.weight)
    assert bonus.optimizer.state[head.weight]["step"] == 3  # 3 epochs x 1 minibatch
    feats = bonus.action_features(torch.tensor([[5.0, -5.0]]))
    assert feats.tolist() == [[1.0, -1.0]]
