"""Advantages and returns of a rollout: GAE (Schulman et al. 2016) on one return of extrinsic
plus intrinsic reward, or on two value heads with their own discounts (Burda et al. 2018).

Terminated and truncated are kept apart: a terminated episode has no future value, a
truncated one bootstraps from V(final obs) unless ``bootstrap_truncation`` is off (rllab's
value of 0 at a path end); ``zero_truncated_advantage`` zeroes a truncated step's advantage
instead, as rllte does. A non-episodic bonus's intrinsic return runs on across episode
ends, as one stream per env.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from agents.config import OnPolicyConfig
from agents.fast import gae
from bonuses.base import Transitions


@torch.no_grad()
def advantages_and_returns(
    cfg: OnPolicyConfig,
    batch: Transitions,
    rewards: torch.Tensor,
    int_rewards: torch.Tensor,
    values: torch.Tensor,
    last_values: torch.Tensor,
    value_of: Callable[[torch.Tensor], torch.Tensor],
    *,
    episodic: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages (T, N), returns (T, N, heads)).

    ``rewards`` are the learner's extrinsic rewards (T, N), ``values`` the rollout's values
    (T, N, heads), ``last_values`` those of the observation after the rollout (N, heads), and
    ``value_of`` the value function, called only on the true final observations of
    truncated episodes."""
    heads = values.shape[-1]
    stream_next = torch.cat([values[1:], last_values.unsqueeze(0)])
    next_values = stream_next.clone()
    dones = batch.terminated | batch.truncated
    # Episode ends whose successor has no value: terminations, and truncations too when
    # the path end is scored 0 (rllab) instead of bootstrapped.
    ended = batch.terminated if cfg.bootstrap_truncation else dones
    boot = dones & ~ended  # the only episode ends whose successor value is read
    zeroed = batch.truncated if cfg.zero_truncated_advantage else None
    if boot.any():
        next_values[boot] = value_of(batch.next_obs[boot])
    ext = rewards * cfg.reward_scale if cfg.reward_scale != 1.0 else rewards
    if cfg.reward_clip > 0:
        ext = ext.clamp(-cfg.reward_clip, cfg.reward_clip)
    as_reward = cfg.int_enters == "reward"
    if heads == 1 and as_reward:  # one return of r_ext + r_int (EMI/TRPO setup)
        ext = ext + int_rewards
        if cfg.total_reward_clip > 0:
            ext = ext.clamp(-cfg.total_reward_clip, cfg.total_reward_clip)
    adv_e, ret_e = gae(
        ext, values[..., 0], next_values[..., 0], ended, dones, cfg.gamma, cfg.gae_lambda, zeroed
    )
    if heads == 1 and not as_reward:  # RE3's A2C: beta r_int at its own step only
        adv_e, ret_e = adv_e + int_rewards, ret_e + int_rewards
    if heads == 1:
        return adv_e, ret_e.unsqueeze(-1)
    if episodic:
        int_next, int_term, int_done, int_zeroed = next_values[..., 1], ended, dones, zeroed
    else:  # the intrinsic return runs on through episode ends, as one stream per env
        int_next = stream_next[..., 1]
        int_term = int_done = torch.zeros_like(dones)
        int_zeroed = None
    adv_i, ret_i = gae(
        int_rewards,
        values[..., 1],
        int_next,
        int_term,
        int_done,
        cfg.int_gamma,
        cfg.gae_lambda,
        int_zeroed,
    )
    return cfg.ext_coef * adv_e + cfg.int_coef * adv_i, torch.stack([ret_e, ret_i], -1)
