"""PPO with the clipped surrogate (Schulman et al. 2017, "Proximal Policy Optimization
Algorithms"), with the implementation details of Huang et al. 2022 ("The 37 Implementation
Details of PPO"): minibatch epochs, advantage normalisation per minibatch, optional value
clipping, global gradient-norm clipping, optional linear learning-rate annealing."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from agents.base import OnPolicyAgent, OnPolicyConfig, UpdateBatch


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPOConfig(OnPolicyConfig):
    """PPO settings; defaults follow Schulman et al. 2017 (MuJoCo table) where they apply."""

    #: Adam learning rate.
    lr: float = 3e-4
    #: Linearly anneal the learning rate to 0 over the step budget.
    anneal_lr: bool = True
    #: Passes over each rollout.
    update_epochs: int = 10
    #: Transitions per minibatch.
    minibatch_size: int = 256
    #: Surrogate clipping range epsilon.
    clip_coef: float = 0.2
    #: Clip the value update to the same range around the old values.
    clip_vloss: bool = False
    #: Entropy bonus weight.
    ent_coef: float = 0.0
    #: Value loss weight.
    vf_coef: float = 0.5
    #: Global gradient-norm clip.
    max_grad_norm: float = 0.5
    #: Stop the epochs early once the approximate KL exceeds this (0 = never).
    target_kl: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lr <= 0 or self.update_epochs <= 0 or self.minibatch_size <= 0:
            raise ValueError("agent.lr, agent.update_epochs and agent.minibatch_size must be > 0")
        if not 0 < self.clip_coef < 1:
            raise ValueError(f"agent.clip_coef must be in (0, 1), got {self.clip_coef}")


class PPO(OnPolicyAgent):
    """Proximal Policy Optimization; differs from the other agents only in `update`."""

    config_cls = PPOConfig
    description = "PPO, clipped surrogate (Schulman et al. 2017)"
    share_cnn_trunk = True
    config: PPOConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=self.config.lr, eps=1e-5)

    def update(self, batch: UpdateBatch) -> dict[str, float]:
        cfg = self.config
        if cfg.anneal_lr:
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr * max(0.0, 1.0 - self.progress)
        n = len(batch)
        mb = min(cfg.minibatch_size, n)
        stats: dict[str, list[float]] = {
            k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac")
        }
        params = self.parameters()
        stop = False
        for _ in range(cfg.update_epochs):
            perm = torch.randperm(n)
            for start in range(0, n - mb + 1, mb):
                idx = perm[start : start + mb]
                dist = self.policy(batch.obs[idx])
                logp = dist.log_prob(batch.actions[idx])
                log_ratio = logp - batch.logprobs[idx]
                ratio = log_ratio.exp()
                adv = self.normalized_advantages(batch.advantages[idx])
                pg_loss = torch.max(
                    -adv * ratio, -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)
                ).mean()
                values = self.value(batch.obs[idx])
                returns = batch.returns[idx]
                if cfg.clip_vloss:
                    old = batch.values[idx]
                    clipped = old + (values - old).clamp(-cfg.clip_coef, cfg.clip_coef)
                    v_loss = (
                        0.5
                        * torch.max((values - returns) ** 2, (clipped - returns) ** 2).mean(0).sum()
                    )
                else:
                    v_loss = 0.5 * ((values - returns) ** 2).mean(0).sum()
                entropy = dist.entropy().mean()
                loss = pg_loss - cfg.ent_coef * entropy + cfg.vf_coef * v_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean().item()
                    stats["approx_kl"].append(approx_kl)
                    stats["clipfrac"].append(
                        ((ratio - 1).abs() > cfg.clip_coef).float().mean().item()
                    )
                stats["policy_loss"].append(pg_loss.item())
                stats["value_loss"].append(v_loss.item())
                stats["entropy"].append(entropy.item())
                if cfg.target_kl and approx_kl > cfg.target_kl:
                    stop = True
                    break
            if stop:
                break
        out = {k: sum(v) / len(v) for k, v in stats.items() if v}
        out["lr"] = self.optimizer.param_groups[0]["lr"]
        return out

    def extra_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
