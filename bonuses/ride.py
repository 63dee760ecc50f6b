"""RIDE: Rewarding Impact-Driven Exploration (Raileanu & Rocktaeschel, ICLR 2020; released
code facebookresearch/impact-driven-exploration, ``src/algos/ride.py``).

The bonus of s_t -> s_{t+1} is the change the action made in a learned embedding, discounted
by how often s_{t+1} was visited in the episode::

    b = ||phi(s_{t+1}) - phi(s_t)||_2 / sqrt(N_ep(s_{t+1}))

N_ep is incremented before use (it includes this visit) and reset at episode end, so the
fourth visit to a state scores half of what the same change scored on the first. phi is
trained, as in ICM, by an inverse model predicting a_t from [phi(s_t), phi(s_{t+1})] and a
forward model predicting phi(s_{t+1}) from [phi(s_t), a_t], with the release's losses: the
forward loss is the L2 norm (not squared) of the prediction error, weight 10, and reaches
phi through both embeddings; the inverse loss is the cross-entropy, weight 0.1. RMSprop
(lr 1e-4, alpha 0.99, eps 1e-5) and a gradient-norm clip of 40, as in the release.

- Episodic count: the shared `bonuses.base.EpisodicCounts` memory (spans rollouts, resets at
  episode ends, saved with ``state_dict()``). The release counts the FULL grid observation;
  with ``count_key = "state"`` the task's `Transitions.state_keys` are counted when given,
  else the exact next observation; ``"obs"`` always counts observations.
- Encoders: images use the release's MiniGrid embedding (three 3x3 stride-2 convolutions,
  32/32/128 filters, ELU; 128-d on a 7x7 grid), on all stacked frames, with a linear layer
  to ``feature_dim`` when the frames flatten wider (Atari). Vector and discrete (one-hot)
  observations use an MLP (not in the paper).
- Continuous actions: the paper has discrete ones only; the inverse loss is then the squared
  error to the taken actions (as for ICM here).
- The release adds the module's losses to the IMPALA batch once; here ``epochs`` passes of
  ``num_minibatches`` steps of the module's own optimiser.
- Scale: no normalisation; the paper recipe takes the README's coefficient 0.1 and entropy
  0.0005 (MultiRoom-N7-S4, N10-S4, KeyCorridorS3R3). The release's clipping of the total
  reward to [-1, 1] is not applied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import torch

from bonuses._encoders import (
    RIDE_CONV,
    WEIGHT_INITS,
    apply_init,
    check_choice,
    check_grid_encoder,
    encode_pairs,
    mlp,
    observation_features,
    state_encoder,
    train_minibatches,
)
from bonuses.base import (
    COUNT_KEYS,
    BonusConfig,
    EpisodicCountBonus,
    Recipe,
    Transitions,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RIDEConfig(BonusConfig):
    """RIDE hyper-parameters; defaults from facebookresearch/impact-driven-exploration."""

    #: Episodic-count keys: "state" (the task's full-state keys when given, as the release's
    #: full-grid count; else observations) or "obs" (always the exact next observation).
    count_key: str = "state"
    #: Weight of the forward loss (src/arguments.py --forward_loss_coef: 10).
    forward_coef: float = 10.0
    #: Weight of the inverse loss (src/arguments.py --inverse_loss_coef: 0.1).
    inverse_coef: float = 0.1
    #: RMSprop learning rate (src/arguments.py --learning_rate: 1e-4).
    learning_rate: float = 1e-4
    #: RMSprop smoothing constant (src/arguments.py --alpha: 0.99).
    rmsprop_alpha: float = 0.99
    #: RMSprop epsilon (src/arguments.py --epsilon: 1e-5).
    rmsprop_eps: float = 1e-5
    #: Global gradient-norm clip (src/arguments.py --max_grad_norm: 40).
    max_grad_norm: float = 40.0
    #: Embedding width (release MinigridStateEmbeddingNet: 128).
    feature_dim: int = 128
    #: Hidden width of the forward and inverse models (release: 256).
    hidden_dim: int = 256
    #: Hidden widths of phi's MLP for vector/discrete observations (not in the paper).
    hidden_sizes: tuple[int, ...] = (256,)
    #: Passes over each rollout per update (the release uses each batch once).
    epochs: int = 1
    #: Minibatches per pass.
    num_minibatches: int = 4
    #: Encoder of a symbolic grid (MiniGrid): "ride", the suite's shared grid conv (RIDE's
    #: MiniGrid embedding); "rllte", RLeXplore's MinigridEncoder (`rllte_grid_encoder`).
    grid_encoder: str = "ride"
    #: Init of phi and the heads (`apply_init`; impact-driven-exploration src/models.py
    #: ``init_``); runs before 2026-12-07 had "torch".
    weight_init: str = "ride"
    #: What a config.json written before a field existed ran with (issue 31's fields).
    legacy_fields: ClassVar[Mapping[str, Any]] = {"grid_encoder": "ride", "weight_init": "torch"}

    def __post_init__(self) -> None:
        check_grid_encoder(self.grid_encoder, "ride")
        check_choice("ride.weight_init", self.weight_init, WEIGHT_INITS)
        if self.count_key not in COUNT_KEYS:
            raise ValueError(f"ride.count_key must be 'state' or 'obs', got {self.count_key!r}")
        positive = ("learning_rate", "rmsprop_eps", "feature_dim", "hidden_dim", "epochs")
        for name in (*positive, "num_minibatches"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"ride.{name} must be > 0, got {value!r}")
        for name in ("forward_coef", "inverse_coef", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"ride.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.rmsprop_alpha < 1.0:
            raise ValueError(f"ride.rmsprop_alpha must be in [0, 1), got {self.rmsprop_alpha!r}")
        if not self.hidden_sizes or any(h <= 0 for h in self.hidden_sizes):
            raise ValueError(
                f"ride.hidden_sizes must be positive widths, got {self.hidden_sizes!r}"
            )


class RIDE(EpisodicCountBonus):
    """Impact ||phi(s') - phi(s)|| over the square root of the episodic count of s'."""

    config_cls = RIDEConfig
    default_normalizer = "none"
    description = "RIDE: embedding change ||phi(s') - phi(s)|| / sqrt(episodic count of s')."
    reference = "Raileanu & Rocktaeschel 2020, RIDE: Rewarding Impact-Driven Exploration"
    recipes = {
        "*": Recipe(
            source="facebookresearch/impact-driven-exploration README (MultiRoom-N7-S4, "
            "KeyCorridorS3R3): intrinsic reward coefficient 0.1 (its entropy cost 0.0005 is "
            "the preset ride-minigrid)",
            shaping={"normalizer": "none", "coef": 0.1},
        ),
    }

    config: RIDEConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        cfg = self.config
        self.encoder = state_encoder(
            self.obs_kind, tuple(observation_space.shape or ()), self.num_states,
            cfg.feature_dim, conv=RIDE_CONV, hidden=cfg.hidden_sizes,
            grid_encoder=cfg.grid_encoder,
        )  # fmt: skip
        feat = cfg.feature_dim
        self.forward_model = mlp(feat + self.action_dim, (cfg.hidden_dim,), feat)
        self.inverse = mlp(2 * feat, (cfg.hidden_dim,), self.action_dim)
        apply_init(cfg.weight_init, self.encoder, self.inverse, self.forward_model)
        self.to(self.device)
        self.optimizer = torch.optim.RMSprop(
            self.parameters(), lr=cfg.learning_rate, alpha=cfg.rmsprop_alpha, eps=cfg.rmsprop_eps
        )

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(observation_features(obs, self.obs_kind, self.num_states))

    def impact(self, batch: Transitions) -> torch.Tensor:
        """||phi(s_{t+1}) - phi(s_t)||_2 per transition, (T, N)."""
        flat = batch.flat().to(self.device)
        # each observation encoded once (encode_pairs): compute on 128 x 8 grid transitions
        # 15.5-15.9 -> 9.9-10.3 ms CPU (one thread, two alternating runs each)
        phi, phi_next, _ = encode_pairs(self._features, flat.obs, flat.next_obs, batch.num_envs)
        return (phi_next - phi).norm(dim=-1).reshape(batch.num_steps, batch.num_envs)

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        counts = self.episodic_walk(batch).to(self.device)
        return (self.impact(batch) / counts.double().sqrt()).float()

    def update(self, batch: Transitions) -> dict[str, float]:
        counts = self.commit_walk(batch)
        flat = batch.flat().to(self.device)
        cfg = self.config

        def loss(idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            phi, phi_next = self._features(flat.obs[idx]), self._features(flat.next_obs[idx])
            actions = flat.actions[idx]
            pred = self.forward_model(torch.cat([phi, self.action_features(actions)], -1))
            fwd_loss = (pred - phi_next).norm(dim=-1).mean()
            out = self.inverse(torch.cat([phi, phi_next], -1))
            inv_loss, accuracy = self.inverse_dynamics_loss(out, actions)
            metrics = {"forward_loss": fwd_loss, "inverse_loss": inv_loss}
            if accuracy is not None:
                metrics["inverse_accuracy"] = accuracy
            return cfg.forward_coef * fwd_loss + cfg.inverse_coef * inv_loss, metrics

        metrics = train_minibatches(
            self.optimizer, flat.num_steps, cfg.epochs, cfg.num_minibatches, loss,
            max_grad_norm=cfg.max_grad_norm, device=self.device,
        )  # fmt: skip
        return {**metrics, "mean_episodic_count": float(counts.double().mean())}
