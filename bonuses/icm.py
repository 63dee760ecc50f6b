"""Intrinsic Curiosity Module (Pathak et al. 2017, "Curiosity-driven Exploration by
Self-supervised Prediction", ICML).

An encoder phi is trained through an inverse model that predicts a_t from (phi(s_t),
phi(s_{t+1})); a forward model predicts phi(s_{t+1}) from (phi(s_t), a_t) in that feature
space. The bonus is the forward model's surprise, ``eta / 2 * ||f_hat - phi(s_{t+1})||^2``
(per-feature mean, scaled as in the release: below), and the joint loss is
``(1 - beta) * L_inverse + beta * L_forward``.

Defaults follow the released code (pathak22/noreward-rl, ``src/model.py`` class
StateActionPredictor, ``src/constants.py``, ``src/a3c.py``):

- The forward loss back-propagates into the shared encoder through phi(s_t) and phi(s_{t+1})
  (the release has no stop-gradient there; rllte's port does the same).
  ``forward_to_encoder = False`` is the other choice: the encoder then learns from the
  inverse model alone (the paper's motivation for features that hold only what the agent
  can influence), the forward model from its loss.
- Loss ``loss_scale * ((1 - beta) * L_inverse + beta * L_forward)`` with loss_scale 10
  (PREDICTION_LR_SCALE), Adam lr 1e-4 (LEARNING_RATE), the gradient multiplied by 20 (the
  release's rollout length, "factored out" there, a sum over its batch) and clipped to a
  global norm of 40 (GRAD_NORM_CLIP). Under Adam the scale factors only matter through
  the clip and Adam's epsilon; they are kept so that the clip acts as in the release.
- Forward error ``0.5 * feature_scale * mean_features (f_hat - phi(s'))^2`` with feature_scale
  288: the release multiplies its feature mean by 288 ("to make hyperparams not depend on
  it"), which equals ``0.5 * ||f_hat - phi(s')||^2`` at its 42 x 42 input, where the
  4-layer conv (32 filters, 3x3, stride 2) ends in 3 x 3 x 32 = 288 features. Here images
  are larger: 52 x 52 (EMI's Atari tasks) gives 4 x 4 x 32 = 512 features, 84 x 84 gives
  6 x 6 x 32 = 1152. The mean keeps the per-feature scale of the release at any width; the
  sum form (``0.5 * ||.||^2``) would make the bonus 512/288 = 1.8x (52 x 52) and 1152/288 =
  4x (84 x 84) larger. Bonus ``eta`` times that error, eta = 0.01 (PREDICTION_BETA).

Choices where the paper and the release are silent or differ from this setting:

- Continuous actions: the paper only has discrete ones. The inverse loss is then a regression,
  the mean squared error between predicted and taken actions (clipped to the action bounds),
  which is the Gaussian negative log-likelihood with a fixed unit variance.
- The paper trains the module with the A3C policy step (one Adam for both), so each
  transition is used once; here it has its own Adam optimiser and takes ``epochs``
  (default 1) passes of ``num_minibatches`` minibatches over each rollout.
- Vector and discrete (one-hot) observations use an MLP encoder; images (C x H x W uint8,
  all stacked frames, as in the paper) the paper's 4-layer ELU conv encoder.
- The paper's agent is A3C; it fixes no PPO or TRPO settings, so ICM declares no recipe
  overrides (its ``"*"`` recipe says so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import torch
from torch import nn

from bonuses._encoders import (
    ICM_CONV,
    WEIGHT_INITS,
    apply_init,
    check_choice,
    check_grid_encoder,
    conv_trunk,
    encode_pairs,
    mlp,
    observation_features,
    train_minibatches,
)
from bonuses.base import BonusConfig, IntrinsicBonus, Recipe, Transitions

#: The release's rollout length; its gradient is of the sum over a 20-step batch (a3c.py).
RELEASE_BATCH = 20


@dataclasses.dataclass(frozen=True, kw_only=True)
class ICMConfig(BonusConfig):
    """ICM hyper-parameters; defaults from Pathak et al. 2017 and their released code."""

    #: Bonus scale eta (noreward-rl src/constants.py PREDICTION_BETA: 0.01).
    eta: float = 0.01
    #: Weight beta of the forward loss against the inverse loss (paper: 0.2; FORWARD_LOSS_WT).
    beta: float = 0.2
    #: Adam learning rate of the module (noreward-rl src/constants.py LEARNING_RATE: 1e-4).
    learning_rate: float = 1e-4
    #: Factor on the module's loss (noreward-rl src/constants.py PREDICTION_LR_SCALE: 10).
    loss_scale: float = 10.0
    #: Global gradient-norm clip, 0: none (noreward-rl src/a3c.py GRAD_NORM_CLIP: 40).
    grad_clip: float = 40.0
    #: Forward loss also trains the encoder (noreward-rl src/model.py: no stop-gradient).
    forward_to_encoder: bool = True
    #: Forward error = 0.5 * feature_scale * feature mean (noreward-rl src/model.py: 288).
    feature_scale: float = 288.0
    #: Width of the hidden layer of the forward and inverse models (paper: 256).
    hidden_dim: int = 256
    #: Feature width of the MLP encoder for vector/discrete observations (paper's conv: 288).
    feature_dim: int = 288
    #: Passes over each rollout per update (A3C in the paper uses each transition once).
    epochs: int = 1
    #: Minibatches per pass.
    num_minibatches: int = 4
    #: Encoder of a symbolic grid (MiniGrid): "ride", the suite's shared grid conv (RIDE's
    #: MiniGrid embedding); "rllte", RLeXplore's MinigridEncoder (`rllte_grid_encoder`).
    grid_encoder: str = "ride"
    #: Init of phi and the heads (`apply_init`; noreward-rl src/model.py ``conv2d``,
    #: ``normalized_columns_initializer(0.01)``); runs before 2026-12-07 had "torch".
    weight_init: str = "noreward-rl"
    #: What a config.json written before a field existed ran with (issue 31's fields).
    legacy_fields: ClassVar[Mapping[str, Any]] = {"grid_encoder": "ride", "weight_init": "torch"}

    def __post_init__(self) -> None:
        check_grid_encoder(self.grid_encoder, "icm")
        check_choice("icm.weight_init", self.weight_init, WEIGHT_INITS)
        positive = (
            "eta",
            "learning_rate",
            "loss_scale",
            "feature_scale",
            "hidden_dim",
            "feature_dim",
            "epochs",
            "num_minibatches",
        )
        for name in positive:
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"icm.{name} must be > 0, got {value!r}")
        if self.grad_clip < 0:
            raise ValueError(f"icm.grad_clip must be >= 0 (0: not clipped), got {self.grad_clip!r}")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"icm.beta must be in [0, 1], got {self.beta!r}")


class ICM(IntrinsicBonus):
    """Curiosity as the error of a forward model in an inverse-model feature space."""

    config_cls = ICMConfig
    default_normalizer = "none"
    description = "ICM: forward-model error in features learned by an inverse model."
    reference = "Pathak et al. 2017, Curiosity-driven Exploration by Self-supervised Prediction"
    recipes = {
        "*": Recipe(
            source="none: Pathak et al. 2017 train ICM with A3C (noreward-rl src/constants.py); "
            "the paper fixes no PPO or TRPO settings"
        )
    }

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
            shape = tuple(observation_space.shape or ())
            self.encoder, feat = conv_trunk(shape, ICM_CONV, nn.ELU, cfg.grid_encoder)
        else:
            in_dim = self.num_states or int(observation_space.shape[0])  # type: ignore[index]
            self.encoder = mlp(in_dim, (cfg.hidden_dim,), cfg.feature_dim, nn.ELU)
            feat = cfg.feature_dim
        self.inverse = mlp(2 * feat, (cfg.hidden_dim,), self.action_dim)
        self.forward_model = mlp(feat + self.action_dim, (cfg.hidden_dim,), feat)
        apply_init(cfg.weight_init, self.encoder, self.inverse, self.forward_model)
        self.to(self.device)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=cfg.learning_rate, fused=True)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(observation_features(obs, self.obs_kind, self.num_states))

    def _surprise(
        self, phi: torch.Tensor, actions: torch.Tensor, phi_next: torch.Tensor
    ) -> torch.Tensor:
        """0.5 * feature_scale * mean_features (f_hat - phi(s'))^2 per transition; reaches the
        encoder only with ``forward_to_encoder``."""
        if not self.config.forward_to_encoder:
            phi, phi_next = phi.detach(), phi_next.detach()
        pred = self.forward_model(torch.cat([phi, self.action_features(actions)], -1))
        return 0.5 * self.config.feature_scale * (pred - phi_next).pow(2).mean(-1)

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        flat = batch.flat().to(self.device)
        # each observation encoded once (encode_pairs): compute on 128 x 8 grid transitions
        # 12.3-18.0 -> 9.4-10.2 ms CPU (one thread, two alternating runs each)
        phi, phi_next, _ = encode_pairs(self._features, flat.obs, flat.next_obs, batch.num_envs)
        bonus = self.config.eta * self._surprise(phi, flat.actions, phi_next)
        return bonus.reshape(batch.num_steps, batch.num_envs).float()

    def update(self, batch: Transitions) -> dict[str, float]:
        flat, cfg = batch.flat().to(self.device), self.config

        def loss(idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            phi, phi_next = self._features(flat.obs[idx]), self._features(flat.next_obs[idx])
            inv_loss, accuracy = self.inverse_dynamics_loss(
                self.inverse(torch.cat([phi, phi_next], -1)), flat.actions[idx]
            )
            fwd_loss = self._surprise(phi, flat.actions[idx], phi_next).mean()
            total = (1.0 - cfg.beta) * inv_loss + cfg.beta * fwd_loss
            metrics = {"inverse_loss": inv_loss, "forward_loss": fwd_loss}
            if accuracy is not None:
                metrics["inverse_accuracy"] = accuracy
            # the release's summed loss over its batch of 20 (see RELEASE_BATCH)
            return cfg.loss_scale * RELEASE_BATCH * total, metrics

        return train_minibatches(
            self.optimizer, flat.num_steps, cfg.epochs, cfg.num_minibatches, loss,
            max_grad_norm=cfg.grad_clip, device=self.device,
        )  # fmt: skip
