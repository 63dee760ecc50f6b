"""TRPO: conjugate gradient, Fisher-vector products, the trust region, the rejected step."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.func import functional_call

import agents.trpo as trpo
from agents.config import UpdateBatch
from agents.networks import Categorical, DiagGaussian, Policy
from agents.trpo import TRPO, TRPOConfig, conjugate_gradient, fisher_vector_product, mean_kl
from bonuses.none import NoBonus
from explore_bench.runs.shaping import RewardShaper
from explore_bench.settings.config import ConfigError, ShapingConfig, resolve

torch.set_num_threads(1)

# An accepted step satisfies kl <= max_kl exactly as the line search measured it (float32);
# an independent recomputation with torch.distributions may differ by float32 rounding only.
KL_TOL = 1e-6


def make_agent(env_id: str, **overrides: Any) -> TRPO:
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make(env_id)] * 2, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    bonus = NoBonus(
        envs.single_observation_space, envs.single_action_space, NoBonus.config_cls(), "cpu"
    )
    config = dataclasses.replace(TRPOConfig(num_steps=16), **overrides)
    return TRPO(envs, RewardShaper(bonus, ShapingConfig()), config, seed=0)


def random_batch(agent: TRPO, n: int, gen: torch.Generator) -> UpdateBatch:
    shape = tuple(agent.obs_space.shape or ())
    obs = torch.randn((n, *shape), generator=gen)
    with torch.no_grad():
        dist = agent.policy(obs)
        actions = dist.sample()
        logprobs = dist.log_prob(actions)
    returns = torch.randn((n, 1), generator=gen)
    return UpdateBatch(
        obs=obs,
        actions=actions,
        logprobs=logprobs,
        advantages=torch.randn(n, generator=gen),
        returns=returns,
        values=torch.zeros_like(returns),
    )


def torch_kl(old: Policy, new: Policy, obs: torch.Tensor) -> float:
    """Mean KL(old || new) through torch.distributions, independent of the agent's code."""
    with torch.no_grad():
        a, b = old(obs), new(obs)
        p: torch.distributions.Distribution
        q: torch.distributions.Distribution
        if isinstance(a, Categorical) and isinstance(b, Categorical):
            p = torch.distributions.Categorical(logits=a.logits)
            q = torch.distributions.Categorical(logits=b.logits)
        else:
            assert isinstance(a, DiagGaussian) and isinstance(b, DiagGaussian)
            normal = torch.distributions.Normal
            p = torch.distributions.Independent(normal(a.mean, a.log_std.exp()), 1)
            q = torch.distributions.Independent(normal(b.mean, b.log_std.exp()), 1)
        return float(torch.distributions.kl_divergence(p, q).mean())


def test_conjugate_gradient_solves_spd_system() -> None:
    gen = torch.Generator().manual_seed(0)
    n = 40
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    a = q @ torch.diag(torch.linspace(1.0, 20.0, n, dtype=torch.float64)) @ q.T
    b = torch.randn(n, generator=gen, dtype=torch.float64)
    x = conjugate_gradient(lambda v: a @ v, b, iters=n, residual_tol=1e-30)
    exact = torch.linalg.solve(a, b)
    assert (x - exact).norm() / exact.norm() < 1e-6
    # Too few iterations must leave a visible error, or the check above proves nothing.
    rough = conjugate_gradient(lambda v: a @ v, b, iters=2)
    assert (rough - exact).norm() / exact.norm() > 1e-3


@pytest.mark.parametrize("act_space", [gym.spaces.Discrete(3), gym.spaces.Box(-1, 1, (2,))])
def test_fisher_vector_product_matches_dense_kl_hessian(act_space: gym.Space) -> None:
    torch.manual_seed(0)
    obs_space = gym.spaces.Box(-np.inf, np.inf, (3,))
    policy = Policy(obs_space, act_space, (5,), "tanh").double()
    with torch.no_grad():
        for p in policy.parameters():  # move away from the near-uniform initial policy
            p.add_(0.3 * torch.randn_like(p))
    obs = torch.randn(32, 3, dtype=torch.float64)
    names = [name for name, _ in policy.named_parameters()]
    params = [p for _, p in policy.named_parameters()]
    old = policy(obs).detach()

    def kl_of(flat: torch.Tensor) -> torch.Tensor:
        chunks, start = {}, 0
        for name, p in zip(names, params):
            chunks[name] = flat[start : start + p.numel()].view_as(p)
            start += p.numel()
        return mean_kl(old, functional_call(policy, chunks, (obs,)))

    flat0 = torch.cat([p.detach().reshape(-1) for p in params])
    hessian = torch.autograd.functional.hessian(kl_of, flat0)
    assert hessian.abs().max() > 1e-3  # the oracle is not trivially zero
    damping = 0.05
    fvp = fisher_vector_product(mean_kl(old, policy(obs)), params, damping)
    for _ in range(3):
        v = torch.randn_like(flat0)
        torch.testing.assert_close(fvp(v), hessian @ v + damping * v, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
@pytest.mark.parametrize("max_kl", [0.01, 0.2])
def test_accepted_steps_respect_max_kl(env_id: str, max_kl: float) -> None:
    torch.manual_seed(1)
    agent = make_agent(env_id, max_kl=max_kl)
    gen = torch.Generator().manual_seed(2)
    accepted = 0
    for _ in range(15):
        batch = random_batch(agent, 256, gen)
        before = copy.deepcopy(agent.policy)
        out = agent.policy_step(batch)
        measured = torch_kl(before, agent.policy, batch.obs)
        if out["accepted"]:
            accepted += 1
            assert measured <= max_kl + KL_TOL
            assert out["surrogate_improvement"] > 0
            assert math.isclose(out["kl"], measured, rel_tol=1e-3, abs_tol=KL_TOL)
        else:
            assert measured == 0.0
    assert accepted >= 10  # the bound is checked on real steps, not on skipped ones


def test_rejected_line_search_restores_parameters_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stepping against the natural gradient lowers the surrogate at every step length."""
    torch.manual_seed(3)
    agent = make_agent("Pendulum-v1", max_backtracks=6)
    solve = trpo.conjugate_gradient
    monkeypatch.setattr(trpo, "conjugate_gradient", lambda *a, **k: -solve(*a, **k))
    moved = []
    assign = trpo._assign
    original = [p.detach().clone() for p in agent.policy.parameters()]

    def spy(params: list[torch.Tensor], flat: torch.Tensor) -> None:
        assign(params, flat)
        moved.append(any(not torch.equal(p, o) for p, o in zip(params, original)))

    monkeypatch.setattr(trpo, "_assign", spy)
    batch = random_batch(agent, 256, torch.Generator().manual_seed(4))
    value_before = [p.detach().clone() for p in agent.value.parameters()]
    out = agent.update(batch)
    assert out["accepted"] == 0.0 and out["kl"] == 0.0
    assert out["line_search_steps"] == 6
    assert moved[:6] == [True] * 6 and moved[6] is False  # it did move, then came back
    for p, o in zip(agent.policy.parameters(), original):
        assert torch.equal(p, o)
    assert any(not torch.equal(p, o) for p, o in zip(agent.value.parameters(), value_before))


def test_train_iteration_logs_metrics_and_state_round_trips() -> None:
    torch.manual_seed(0)
    agent = make_agent("CartPole-v1", vf_minibatch_size=8)
    metrics = agent.train_iteration()
    for key in (
        "kl",
        "surrogate_improvement",
        "line_search_steps",
        "value_loss",
        "entropy",
        "accepted",
    ):
        assert math.isfinite(metrics[key]), key
    assert 0 <= metrics["kl"] <= agent.config.max_kl
    state = agent.state_dict()
    other = make_agent("CartPole-v1", vf_minibatch_size=8)
    other.load_state_dict(copy.deepcopy(state))
    assert other.vf_optimizer.state_dict()["state"]
    step = state["extra"]["vf_optimizer"]["state"][0]["step"]
    assert other.vf_optimizer.state_dict()["state"][0]["step"] == step


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="max_kl"):
        TRPOConfig(max_kl=0.0)
    with pytest.raises(ValueError, match="backtrack_coef"):
        TRPOConfig(backtrack_coef=1.0)
    with pytest.raises(ValueError, match="vf_minibatch_size"):
        TRPOConfig(vf_minibatch_size=0)
    assert TRPO.share_cnn_trunk is False


def test_emi_presets_resolve_and_can_be_overridden() -> None:
    resolved = resolve(
        {"agent": "trpo", "task": "Pendulum-v1", "preset": "emi-mujoco"},
        {"agent": {"max_kl": "0.02"}},
    )
    cfg = resolved.agent
    assert resolved.run.num_envs * cfg.num_steps == 50_000
    assert (cfg.gamma, cfg.gae_lambda, cfg.cg_iters, cfg.cg_damping) == (0.995, 1.0, 10, 1e-5)
    assert (cfg.backtrack_coef, cfg.max_backtracks) == (0.8, 15)
    assert cfg.policy_hidden == (64, 32) and cfg.value_hidden == (32,)
    assert cfg.max_kl == 0.02  # --set wins over the preset
    assert resolved.to_dict()["run"]["preset"] == "emi-mujoco"
    atari_run = resolve({"agent": "trpo", "task": "CartPole-v1", "preset": "emi-atari"})
    atari = atari_run.agent
    assert atari_run.run.num_envs * atari.num_steps == 100_000
    assert atari.cnn == "emi" and atari.reward_clip == 1.0 and atari.policy_hidden == ()
    assert (atari.vf_epochs, atari.vf_minibatch_size) == (3, 512)
    with pytest.raises(ConfigError, match="trpo"):
        resolve({"agent": "ppo", "task": "CartPole-v1", "preset": "emi-mujoco"})


def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str, steps: int, sets: dict[str, str]
) -> list[dict[str, Any]]:
    from explore_bench.runs.runner import run
    from explore_bench.store.io import read_csv

    monkeypatch.chdir(tmp_path)
    resolved = resolve({"agent": "trpo", "task": task, "steps": steps, "seed": 0}, {"agent": sets})
    run(resolved, tmp_path / "run", progress=False)
    return read_csv(tmp_path / "run" / "metrics.csv")


@pytest.mark.slow
def test_trpo_solves_cartpole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _run(tmp_path, monkeypatch, "CartPole-v1", 200_000, {})
    evals = [r["eval_return"] for r in rows if "eval_return" in r]
    assert evals[-1] >= 400
    assert max(r["kl"] for r in rows) <= 0.01


@pytest.mark.slow
def test_trpo_improves_on_pendulum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random play scores about -1200; require the last three evaluations to average above
    -600 and 500 better than the first iteration's training episodes (gamma 0.9 as in the
    rl-zoo Pendulum settings; the default 0.99 learns too slowly for a test budget)."""
    rows = _run(tmp_path, monkeypatch, "Pendulum-v1", 100_000, {"gamma": "0.9"})
    first = next(r["ext_return"] for r in rows if "ext_return" in r)
    evals = [r["eval_return"] for r in rows if "eval_return" in r]
    final = sum(evals[-3:]) / 3
    assert final > -600 and final > first + 500
