"""Paper recipes reach the agent: RND's non-episodic intrinsic return, rllab's value of 0 at a
path end (bootstrap truncation off), rllte's zeroed advantage at a time limit, random-action
warm-up, PPO's minibatch count."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest
import torch
from torch import nn

from agents.fast import gae
from agents.ppo import PPO, PPOConfig
from bonuses.base import Transitions
from bonuses.none import NoBonus
from bonuses.rnd import RND
from explore_bench.runs.shaping import RewardShaper
from explore_bench.settings.config import ShapingConfig, resolve

T = 5


class _TableValue(nn.Module):
    """V(s) read off the observation: head k of s is obs[0] * 10**(k + 1) (the test's ids)."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.heads = heads

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs[..., :1].float()
        return torch.cat([x * 10.0 ** (k + 1) for k in range(self.heads)], -1)


def _agent(config: PPOConfig, bonus_cls: type = NoBonus) -> PPO:
    torch.manual_seed(0)
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1")], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    bonus = bonus_cls(envs.single_observation_space, envs.single_action_space)
    return PPO(envs, RewardShaper(bonus, ShapingConfig()), config, seed=0)


def _advantages(
    agent: PPO, obs_ids: list[float], next_id: float, end: int, kind: str, int_rewards=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """compute_advantages on a hand-made one-env rollout of T steps whose step ``end`` ends an
    episode (``kind``: terminated or truncated), V read from the observation ids."""
    heads = agent.heads
    agent.value = _TableValue(heads)
    obs = torch.zeros(T, 1, 4)
    obs[:, 0, 0] = torch.tensor(obs_ids)
    next_obs = torch.cat([obs[1:], torch.zeros(1, 1, 4)])
    next_obs[-1, 0, 0] = next_id
    final = torch.zeros(4)
    final[0] = 0.7  # the true final observation of the episode that ends at `end`
    next_obs[end, 0] = final
    agent.buf_obs.copy_(obs)
    agent.buf_values.copy_(agent.value(obs))
    agent.next_obs = next_obs[-1]
    agent.buf_rewards.copy_(torch.arange(1.0, T + 1).reshape(T, 1))
    terminated = torch.zeros(T, 1, dtype=torch.bool)
    truncated = torch.zeros(T, 1, dtype=torch.bool)
    (terminated if kind == "terminated" else truncated)[end, 0] = True
    batch = Transitions(
        obs=obs,
        actions=torch.zeros(T, 1, dtype=torch.long),
        next_obs=next_obs,
        ext_rewards=agent.buf_rewards.clone(),
        terminated=terminated,
        truncated=truncated,
    )
    ints = torch.full((T, 1), 0.5) if int_rewards is None else int_rewards
    return agent.compute_advantages(batch, ints)


def test_rnd_recipe_intrinsic_return_crosses_episode_ends_extrinsic_does_not() -> None:
    """Under RND's recipe the intrinsic advantage at an episode's last step bootstraps from
    the intrinsic value of the next episode's first state (Burda et al. 2018, use_news=0);
    the extrinsic advantage there does not depend on that state at all."""
    cfg = resolve({"agent": "ppo", "bonus": "rnd", "task": "CartPole-v1"}).agent
    assert cfg.two_value_heads and (cfg.gamma, cfg.int_gamma) == (0.99, 0.99)
    agent = _agent(dataclasses.replace(cfg, num_steps=T), RND)
    ids = [0.1, 0.2, 0.3, 0.4, 0.5]  # step 1 ends an episode; s_2 starts the next one
    adv, ret = _advantages(agent, ids, 0.6, end=1, kind="terminated")
    moved_int = list(ids)
    moved_int[2] = 0.9  # V_int(s_2) from 3 to 9 (V_ext from .3*10 too: checked below)
    adv2, ret2 = _advantages(agent, moved_int, 0.6, end=1, kind="terminated")
    # extrinsic: terminated at step 1, so its return there is r_1 - nothing after it
    assert ret[1, 0, 0].item() == pytest.approx(2.0) and ret2[1, 0, 0] == ret[1, 0, 0]
    # intrinsic: one uninterrupted stream, by hand through gae() with no episode ends
    v_int = torch.tensor(moved_int).reshape(T, 1) * 100.0
    next_int = torch.cat([v_int[1:], torch.tensor([[60.0]])])
    never = torch.zeros(T, 1, dtype=torch.bool)
    adv_i, ret_i = gae(torch.full((T, 1), 0.5), v_int, next_int, never, never, 0.99, cfg.gae_lambda)
    assert torch.allclose(ret2[..., 1], ret_i)
    # the combined advantage at the last step moved by int_coef x the intrinsic change only
    v_int0 = torch.tensor(ids).reshape(T, 1) * 100.0
    next_int0 = torch.cat([v_int0[1:], torch.tensor([[60.0]])])
    adv_i0, _ = gae(torch.full((T, 1), 0.5), v_int0, next_int0, never, never, 0.99, cfg.gae_lambda)
    expected = cfg.int_coef * (adv_i[1] - adv_i0[1])
    assert (adv2[1] - adv[1]).item() == pytest.approx(expected.item(), rel=1e-5)
    assert expected.abs().item() > 1.0


@pytest.mark.parametrize("bootstrap", [True, False])
def test_bootstrap_truncation_off_scores_the_path_end_zero(bootstrap: bool) -> None:
    """rllab (Kim et al. 2019; Tang et al. 2017) scores V at a path end as 0: with the option
    off, the advantage at a truncated step is r - V(s) exactly."""
    cfg = PPOConfig(num_steps=T, gamma=0.9, gae_lambda=0.8, bootstrap_truncation=bootstrap)
    agent = _agent(cfg)
    adv, _ = _advantages(
        agent,
        [0.1, 0.2, 0.3, 0.4, 0.5],
        0.6,
        end=2,
        kind="truncated",
        int_rewards=torch.zeros(T, 1),
    )
    # r_2 = 3, V(s_2) = 3, V(final obs) = 7
    r_minus_v = agent.buf_rewards[2, 0] - agent.buf_values[2, 0, 0]
    if bootstrap:
        assert adv[2, 0].item() == pytest.approx(3.0 - 3.0 + 0.9 * 7.0)
    else:
        assert adv[2, 0] == r_minus_v  # exactly: nothing after the path end counts
    assert PPOConfig().bootstrap_truncation  # bootstrapping stays the default


def test_zero_truncated_advantage_cuts_gae_at_a_truncated_step() -> None:
    """rllte's rule (RLeXplore's PPO): a truncated step's advantage is 0, so the step before
    it keeps its own TD error alone; the default bootstraps from V(final obs)."""
    cfg = PPOConfig(num_steps=T, gamma=0.9, gae_lambda=0.8, zero_truncated_advantage=True)
    agent = _agent(cfg)
    ids = [0.1, 0.2, 0.3, 0.4, 0.5]
    adv, ret = _advantages(agent, ids, 0.6, end=2, kind="truncated", int_rewards=torch.zeros(T, 1))
    # r_t = t + 1, V(s_t) = 10 * id: the step before the cut, d_1 = 2 + .9 * 3 - 2
    assert adv[2, 0].item() == 0.0
    assert ret[2, 0, 0] == agent.buf_values[2, 0, 0]
    assert adv[1, 0].item() == pytest.approx(2.0 + 0.9 * 3.0 - 2.0)
    plain, _ = _advantages(
        _agent(PPOConfig(num_steps=T, gamma=0.9, gae_lambda=0.8)),
        ids,
        0.6,
        end=2,
        kind="truncated",
        int_rewards=torch.zeros(T, 1),
    )
    assert plain[2, 0].item() == pytest.approx(3.0 - 3.0 + 0.9 * 7.0)
    assert not PPOConfig().zero_truncated_advantage


def test_emi_presets_and_rllab_recipes_do_not_bootstrap() -> None:
    for preset in ("emi-mujoco", "emi-atari"):
        task = "Pendulum-v1" if preset == "emi-mujoco" else "CartPole-v1"
        r = resolve({"agent": "trpo", "bonus": "none", "task": task, "preset": preset})
        assert r.agent.bootstrap_truncation is False
    for bonus in ("emi", "count"):  # rllab's TRPO is an agent setting: a preset, no recipe
        r = resolve({"agent": "trpo", "bonus": bonus, "task": "Pendulum-v1", "preset": "tang-trpo"})
        assert r.agent.bootstrap_truncation is False
        assert resolve({"agent": "trpo", "bonus": bonus, "task": "Pendulum-v1"}).agent == (
            resolve({"agent": "trpo", "task": "Pendulum-v1"}).agent
        )
    assert resolve({"agent": "trpo", "task": "Pendulum-v1"}).agent.bootstrap_truncation


def test_random_warm_up_fits_rnd_statistics_and_counts_in_the_budget() -> None:
    cfg = resolve({"agent": "ppo", "bonus": "rnd", "task": "CartPole-v1"}).agent
    agent = _agent(dataclasses.replace(cfg, num_steps=16), RND)
    assert agent.bonus.warming_up
    agent.warm_up(40)
    assert agent.env_steps == 40 and not agent.bonus.warming_up
    assert agent.bonus.obs_rms.count == pytest.approx(40)
    assert agent.finished == []  # random-action episodes are not training episodes
    metrics = agent.train_iteration()
    assert metrics["bonus/warmup"] == 0.0 and metrics["int_reward_raw_mean"] > 0
    assert agent.env_steps == 40 + 16


def test_ppo_num_minibatches_and_no_gradient_clipping() -> None:
    steps: list[int] = []
    agent = _agent(PPOConfig(num_steps=64, num_minibatches=4, update_epochs=3))
    step = agent.clip_and_step
    agent.clip_and_step = lambda: steps.append(1) or step()  # type: ignore[method-assign]
    agent.train_iteration()
    assert len(steps) == 3 * 4
    with pytest.raises(ValueError, match="max_grad_norm"):
        PPOConfig(max_grad_norm=-1.0)
    a = _agent(PPOConfig(num_steps=64, max_grad_norm=0.0))
    b = _agent(PPOConfig(num_steps=64, max_grad_norm=1e12))
    torch.manual_seed(5)
    a.train_iteration()
    torch.manual_seed(5)
    b.train_iteration()
    for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        assert torch.equal(p, q)
