"""Rollout collection: the NumPy acting mirror samples from the torch policy's distribution,
and the rollout buffers hold what the torch networks say about them."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.fast import NumpyPolicy
from agents.networks import Policy
from agents.ppo import PPO, PPOConfig
from agents.trpo import TRPO, TRPOConfig
from bonuses.none import NoBonus
from explore_bench.runs.shaping import RewardShaper
from explore_bench.settings.config import ShapingConfig

BOX_OBS = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_gaussian_mirror_matches_torch_mean_and_std(activation: str) -> None:
    torch.manual_seed(0)
    policy = Policy(BOX_OBS, gym.spaces.Box(-1.0, 1.0, (3,)), (16, 8), activation, init_std=0.7)
    with torch.no_grad():  # non-trivial outputs: the head starts at gain 0.01
        policy.head.weight.normal_()
        policy.head.bias.normal_()
    obs = torch.randn(11, 5)
    mirror = NumpyPolicy.of(policy)
    assert mirror is not None
    expected = policy(obs).mean.detach().numpy()
    np.testing.assert_allclose(mirror.sample(obs.numpy(), np.zeros((11, 3))), expected, atol=1e-5)
    noise = np.random.default_rng(0).standard_normal((11, 3)).astype(np.float32)
    np.testing.assert_allclose(
        mirror.sample(obs.numpy(), noise), expected + 0.7 * noise, rtol=1e-5, atol=1e-5
    )


def test_categorical_mirror_follows_the_softmax() -> None:
    torch.manual_seed(1)
    policy = Policy(BOX_OBS, gym.spaces.Discrete(4), (8,), "tanh")
    with torch.no_grad():
        policy.head.weight.mul_(100.0)
    obs = torch.randn(1, 5).expand(20000, 5).contiguous()
    probs = torch.softmax(policy(obs[:1]).logits, -1)[0].detach().numpy()
    mirror = NumpyPolicy.of(policy)
    assert mirror is not None
    uniforms = mirror.noise(1, 20000)[0]
    actions = mirror.sample(obs.numpy(), uniforms)
    # Inverse CDF: action k exactly when u falls in [cdf[k-1], cdf[k]).
    np.testing.assert_array_equal(actions, np.searchsorted(np.cumsum(probs), uniforms, "right"))
    freq = np.bincount(actions, minlength=4) / len(actions)
    np.testing.assert_allclose(freq, probs, atol=4 * np.sqrt(0.25 / len(actions)))


def test_image_policy_has_no_mirror() -> None:
    image = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert NumpyPolicy.of(Policy(image, gym.spaces.Discrete(3), (), "relu")) is None


def _agent(agent_cls: type, task: str, config: object) -> PPO | TRPO:
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make(task) for _ in range(3)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    bonus = NoBonus(envs.single_observation_space, envs.single_action_space)
    return agent_cls(envs, RewardShaper(bonus, ShapingConfig()), config, seed=4)


@pytest.mark.parametrize("agent_cls, config_cls", [(PPO, PPOConfig), (TRPO, TRPOConfig)])
def test_rollout_actions_follow_the_current_parameters(agent_cls: type, config_cls: type) -> None:
    """After the parameters change in place (an optimiser, TRPO's copy_, load_state_dict),
    the next rollout acts with the new ones: with a tiny std the actions are the mean."""
    torch.manual_seed(2)
    agent = _agent(agent_cls, "Pendulum-v1", config_cls(num_steps=16))
    agent.collect_rollout()
    fresh = Policy(agent.obs_space, agent.act_space, (64, 64), "tanh").state_dict()
    fresh["head.weight"] = torch.randn_like(fresh["head.weight"])
    fresh["log_std"] = torch.full_like(fresh["log_std"], -12.0)
    agent.policy.load_state_dict(fresh)
    batch = agent.collect_rollout()
    obs, actions = batch.obs.flatten(0, 1), batch.actions.flatten(0, 1)
    mean = agent.policy(obs).mean
    assert mean.abs().max() > 0.5  # the new weights, not the old near-zero head
    torch.testing.assert_close(actions, mean, atol=1e-4, rtol=0)
    torch.testing.assert_close(agent.buf_logprobs.flatten(), agent.policy(obs).log_prob(actions))


def test_rollout_gaussian_actions_are_standard_normal_around_the_mean() -> None:
    torch.manual_seed(5)
    agent = _agent(PPO, "Pendulum-v1", PPOConfig(num_steps=700))
    batch = agent.collect_rollout()
    obs, actions = batch.obs.flatten(0, 1), batch.actions.flatten(0, 1)
    with torch.no_grad():
        dist = agent.policy(obs)
        z = ((actions - dist.mean) / dist.log_std.exp()).flatten()
    assert abs(float(z.mean())) < 4 / np.sqrt(len(z))
    assert abs(float(z.std()) - 1.0) < 0.05
    # Clipping applies to what the env gets, not to the stored sample (Pendulum's bound is 2).
    assert float(actions.abs().max()) > 2.0


def test_discrete_rollout_stores_valid_actions_with_their_logprobs() -> None:
    torch.manual_seed(6)
    agent = _agent(PPO, "CartPole-v1", PPOConfig(num_steps=64))
    batch = agent.collect_rollout()
    actions = batch.actions.flatten(0, 1)
    assert actions.dtype == torch.int64 and set(actions.tolist()) <= {0, 1}
    expected = agent.policy(batch.obs.flatten(0, 1)).log_prob(actions)
    torch.testing.assert_close(agent.buf_logprobs.flatten(), expected)
