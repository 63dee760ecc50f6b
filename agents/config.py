"""What every on-policy agent is configured with, and the flat batch its ``update`` receives."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

#: The MiniGrid networks `agents.networks.grid_trunk` builds (``agent.grid_cnn``).
GRID_CNNS = ("rl-starter", "rllte")


@dataclasses.dataclass(frozen=True, kw_only=True)
class OnPolicyConfig:
    """Settings every on-policy agent shares (defaults: PPO, Schulman et al. 2017)."""

    #: Environment steps per env per rollout (batch = num_steps x num_envs).
    num_steps: int = 128
    #: Discount of the extrinsic return.
    gamma: float = 0.99
    #: GAE lambda (Schulman et al. 2016).
    gae_lambda: float = 0.95
    #: Standardise advantages over the batch.
    norm_adv: bool = True
    #: Separate value heads for extrinsic and intrinsic returns (Burda et al. 2018).
    two_value_heads: bool = False
    #: Discount of the intrinsic return (two heads only).
    int_gamma: float = 0.99
    #: Weight of the extrinsic advantage (two heads only).
    ext_coef: float = 1.0
    #: Weight of the intrinsic advantage (two heads only).
    int_coef: float = 1.0
    #: Multiply the learner's extrinsic reward by this before any clipping (the raw score is
    #: logged). RLeXplore's MiniGrid runs scale it by 100 (rllte `reward` branch,
    #: rllte/env/minigrid/__init__.py:145, ``TransformReward(envs, lambda r: 100.0 * r)``).
    reward_scale: float = 1.0
    #: Clip the learner's extrinsic reward to [-c, c]; 0 = no clipping (raw score is logged).
    reward_clip: float = 0.0
    #: Clip the learner's total reward r_ext + r_int to [-c, c], one value head only; 0 = off.
    #: A method setting: E3B's and NovelD's releases clip it at 1 (``clip_rewards``).
    total_reward_clip: float = 0.0
    #: Where the intrinsic reward enters, one value head only: "reward" (summed with r_ext
    #: before GAE) or "advantage" (added to the advantage and the return of its own step,
    #: outside the discounted sum, as RE3's A2C release does).
    int_enters: str = "reward"
    #: Bootstrap a truncated episode from V(final obs); False scores the value at a path end
    #: 0, as rllab does (Kim et al. 2019's and Tang et al. 2017's TRPO).
    bootstrap_truncation: bool = True
    #: Zero a truncated step's advantage, its return being its own value, so that nothing
    #: flows back from it, as rllte's PPO does (RLeXplore's agent;
    #: rllte/xploit/storage/vanilla_rollout_storage.py:158).
    zero_truncated_advantage: bool = False
    #: Policy MLP hidden sizes (after the CNN for images).
    policy_hidden: tuple[int, ...] = (64, 64)
    #: Value MLP hidden sizes.
    value_hidden: tuple[int, ...] = (64, 64)
    #: Policy activation ("tanh" or "relu").
    activation: str = "tanh"
    #: Value activation ("tanh" or "relu").
    value_activation: str = "tanh"
    #: CNN for image observations: "nature" (Mnih et al. 2015) or "emi" (Kim et al. 2019).
    cnn: str = "nature"
    #: Network for MiniGrid's symbolic views (`agents.networks.grid_trunk`): "rl-starter"
    #: (Willems' rl-starter-files, the MiniGrid PPO baseline) or "rllte" (RLeXplore's).
    grid_cnn: str = "rl-starter"
    #: Orthogonal gain of the policy's output layer (CleanRL / Andrychowicz et al. 2021: 0.01;
    #: rllte's MiniGrid PPO: 1).
    policy_head_gain: float = 0.01
    #: Initial std of the Gaussian policy (state-independent log-std).
    init_std: float = 1.0

    #: What a config.json written before a field existed ran with (issue 29's and 31's fields).
    legacy_fields: ClassVar[Mapping[str, Any]] = {
        "int_enters": "reward",
        "total_reward_clip": 0.0,
        "reward_scale": 1.0,
        "grid_cnn": "rl-starter",
        "policy_head_gain": 0.01,
        "zero_truncated_advantage": False,
    }
    #: Fields an older config.json holds that are no setting any more: the evaluation's
    #: policy is the task card's ``final_score`` (issue 31); every run before it recorded
    #: ``eval_deterministic: true``, which the card's "mode" states.
    retired_fields: ClassVar[frozenset[str]] = frozenset({"eval_deterministic"})

    def __post_init__(self) -> None:
        if self.num_steps <= 0:
            raise ValueError(f"agent.num_steps must be positive, got {self.num_steps}")
        for name in ("gamma", "gae_lambda", "int_gamma"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"agent.{name} must be in [0, 1], got {value}")
        for name in ("activation", "value_activation"):
            if getattr(self, name) not in ("tanh", "relu"):
                raise ValueError(
                    f"agent.{name} must be 'tanh' or 'relu', got {getattr(self, name)!r}"
                )
        if self.grid_cnn not in GRID_CNNS:
            raise ValueError(
                f"agent.grid_cnn must be one of {', '.join(map(repr, GRID_CNNS))}, "
                f"got {self.grid_cnn!r}"
            )
        if not self.policy_head_gain > 0:
            raise ValueError(f"agent.policy_head_gain must be > 0, got {self.policy_head_gain}")
        if self.cnn not in ("nature", "emi"):
            raise ValueError(f"agent.cnn must be 'nature' or 'emi', got {self.cnn!r}")
        if self.init_std <= 0 or self.reward_clip < 0 or self.reward_scale <= 0:
            raise ValueError(
                "agent.init_std and agent.reward_scale must be > 0 and agent.reward_clip >= 0, "
                f"got {self.init_std}, {self.reward_scale} and {self.reward_clip}"
            )
        if self.int_enters not in ("reward", "advantage"):
            raise ValueError(
                f"agent.int_enters must be 'reward' or 'advantage', got {self.int_enters!r}"
            )
        one_head_only = self.total_reward_clip > 0 or self.int_enters != "reward"
        if self.two_value_heads and one_head_only:
            raise ValueError(
                "agent.total_reward_clip and agent.int_enters='advantage' act on the one "
                "return of r_ext + r_int: they need agent.two_value_heads=false"
            )


@dataclasses.dataclass
class UpdateBatch:
    """Flat (B, ...) tensors handed to ``update``; values/returns are (B, heads)."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    values: torch.Tensor

    def __len__(self) -> int:
        return int(self.obs.shape[0])
