"""Intrinsic Curiosity Module (Pathak et al. 2017, "Curiosity-driven Exploration by
Self-supervised Prediction", ICML).

An encoder phi is trained through an inverse model that predicts a_t from (phi(s_t),
phi(s_{t+1})); a forward model predicts phi(s_{t+1}) from (phi(s_t), a_t) in that feature
space. The bonus is the forward model's surprise, ``eta / 2 * ||f_hat - phi(s_{t+1})||^2``,
and the joint loss is ``(1 - beta) * L_inverse + beta * L_forward``.

Choices where the paper is silent or differs from this setting:

- Continuous actions: the paper only has discrete ones. The inverse loss is then a regression,
  the mean squared error between predicted and taken actions (clipped to the action bounds),
  which is the Gaussian negative log-likelihood with a fixed unit variance.
- The forward loss trains the forward model only: its gradient is stopped at the features, so
  the encoder learns from the inverse model alone (the paper's motivation: features hold only
  what the agent can influence). Pathak et al.'s released code also back-propagates the
  forward loss into the encoder, which lets features shrink to lower the loss.
- The paper trains the module with the A3C policy step, so each transition is used once;
  here it has its own Adam optimiser and takes ``epochs`` (default 1) passes of
  ``num_minibatches`` minibatches over each rollout.
- Vector and discrete (one-hot) observations use an MLP encoder; images (C x H x W uint8,
  all stacked frames, as in the paper) the paper's 4-layer ELU conv encoder.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import torch
from torch import nn

from bonuses._encoders import ICM_CONV, conv_trunk, minibatches, mlp, observation_features
from bonuses.base import BonusConfig, IntrinsicBonus, Transitions


@dataclasses.dataclass(frozen=True, kw_only=True)
class ICMConfig(BonusConfig):
    """ICM hyper-parameters; defaults from Pathak et al. 2017 and their released code."""

    #: Bonus scale eta in eta/2 * ||f_hat - phi||^2 (released code: 0.01).
    eta: float = 0.01
    #: Weight beta of the forward loss against the inverse loss (paper: 0.2).
    beta: float = 0.2
    #: Adam learning rate of the module (released code: 1e-3).
    learning_rate: float = 1e-3
    #: Width of the hidden layer of the forward and inverse models (paper: 256).
    hidden_dim: int = 256
    #: Feature width of the MLP encoder for vector/discrete observations (paper's conv: 288).
    feature_dim: int = 288
    #: Passes over each rollout per update (A3C in the paper uses each transition once).
    epochs: int = 1
    #: Minibatches per pass.
    num_minibatches: int = 4

    def __post_init__(self) -> None:
        positive = (
            "eta",
            "learning_rate",
            "hidden_dim",
            "feature_dim",
            "epochs",
            "num_minibatches",
        )
        for name in positive:
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"icm.{name} must be > 0, got {value!r}")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"icm.beta must be in [0, 1], got {self.beta!r}")


class ICM(IntrinsicBonus):
    """Curiosity as the error of a forward model in an inverse-model feature space."""

    config_cls = ICMConfig
    default_normalizer = "none"
    description = "ICM: forward-model error in features learned by an inverse model."
    reference = "Pathak et al. 2017, Curiosity-driven Exploration by Self-supervised Prediction"

    config: ICMConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        cfg = self.config
        if self.obs_kind == "image":
            self.encoder, feat = conv_trunk(observation_space.shape, ICM_CONV, nn.ELU)  # type: ignore[arg-type]
        else:
            in_dim = self.num_states or int(observation_space.shape[0])  # type: ignore[index]
            self.encoder = mlp(in_dim, (cfg.hidden_dim,), cfg.feature_dim, nn.ELU)
            feat = cfg.feature_dim
        self.inverse = mlp(2 * feat, (cfg.hidden_dim,), self.action_dim)
        self.forward_model = mlp(feat + self.action_dim, (cfg.hidden_dim,), feat)
        self.to(self.device)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=cfg.learning_rate, fused=True)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(observation_features(obs, self.obs_kind, self.num_states))

    def _surprise(
        self, phi: torch.Tensor, actions: torch.Tensor, phi_next: torch.Tensor
    ) -> torch.Tensor:
        """0.5 * ||f_hat - phi(s')||^2 per transition; no gradient reaches the encoder."""
        pred = self.forward_model(torch.cat([phi.detach(), self.action_features(actions)], -1))
        return 0.5 * (pred - phi_next.detach()).pow(2).sum(-1)

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        flat = batch.flat().to(self.device)
        phi, phi_next = self._features(flat.obs), self._features(flat.next_obs)
        bonus = self.config.eta * self._surprise(phi, flat.actions, phi_next)
        return bonus.reshape(batch.num_steps, batch.num_envs).float()

    def _inverse_loss(
        self, phi: torch.Tensor, phi_next: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Inverse loss and, for discrete actions, the accuracy (else None)."""
        out = self.inverse(torch.cat([phi, phi_next], -1))
        if self.act_kind == "discrete":
            target = actions.long()
            loss = nn.functional.cross_entropy(out, target)
            return loss, (out.argmax(-1) == target).float().mean()
        return nn.functional.mse_loss(out, self.action_features(actions)), None

    def update(self, batch: Transitions) -> dict[str, float]:
        flat = batch.flat().to(self.device)
        beta = self.config.beta
        # Per-minibatch values stay on the device; one transfer at the end, not 3 per step.
        terms: dict[str, list[torch.Tensor]] = {
            "inverse_loss": [],
            "forward_loss": [],
            "inverse_accuracy": [],
        }
        for _ in range(self.config.epochs):
            for idx in minibatches(flat.num_steps, self.config.num_minibatches, self.device):
                phi, phi_next = self._features(flat.obs[idx]), self._features(flat.next_obs[idx])
                inv_loss, accuracy = self._inverse_loss(phi, phi_next, flat.actions[idx])
                fwd_loss = self._surprise(phi, flat.actions[idx], phi_next).mean()
                loss = (1.0 - beta) * inv_loss + beta * fwd_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                terms["inverse_loss"].append(inv_loss.detach())
                terms["forward_loss"].append(fwd_loss.detach())
                if accuracy is not None:
                    terms["inverse_accuracy"].append(accuracy)
        # Summed as Python floats in order, as the per-step .item() sums were.
        return {k: sum(torch.stack(v).tolist()) / len(v) for k, v in terms.items() if v}
