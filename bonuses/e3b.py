"""Exploration via Elliptical Episodic Bonuses (Henaff et al., NeurIPS 2022, "Exploration
via Elliptical Episodic Bonuses"; released code facebookresearch/e3b).

Each env keeps the inverse of C = lambda I + sum_j phi(s_j) phi(s_j)^T over the states of
its current episode. A transition s_t -> s_{t+1} is scored with the state it leaves,
``b = phi(s_t)^T C^-1 phi(s_t)``, computed BEFORE s_t is added to C; C^-1 is then updated by
Sherman-Morrison, ``C^-1 <- C^-1 - u u^T / (1 + b)`` with ``u = C^-1 phi(s_t)``. The first
step of an episode scores 0 and C^-1 is reset to I / lambda at each episode end, as in the
release (``minihack/torchbeast/src/utils.py``, ``act``). phi is trained only through an
inverse-dynamics head predicting a_t from [phi(s_t), phi(s_{t+1})].

The per-env C^-1 is the episodic memory of `bonuses.base.EpisodicBonus`
(`bonuses._elliptical_memory`): it spans rollouts and is saved with ``state_dict()``. The
walk over a rollout computes the same numbers as the step-by-step recursion in closed form,
per episode segment (a Cholesky factorisation of the segment's m x m Gram matrix; see
`EllipticalMemory.walk`), which replaces m memory-bound d x d rank-1 updates by matrix
products. C^-1 is kept in float64: thousands of rank-1 downdates in float32 (the release)
can lose positive definiteness on long episodes.

Choices where the paper is silent or differs from this setting:

- Encoders: images (C x H x W; Atari's stacked frames, all of them) use the release's VizDoom
  encoder, four 3x3 stride-2 convolutions with 32 filters and ELU, which flattens 42 x 42
  frames to 288; larger frames get a linear layer to ``feature_dim`` (288) so that C stays
  288 x 288. MiniGrid's 7x7 symbolic grids, which those convolutions do not fit, get the
  shared grid conv of `bonuses._encoders.conv_trunk` (the suite's choice). Vector and
  discrete (one-hot) observations use an MLP (not in the paper; the MiniHack encoder is
  specific to NetHack's glyphs).
- Continuous actions: the paper has discrete ones only. The inverse loss is then the squared
  error to the taken actions (as for ICM here).
- phi has its own Adam optimiser (the release adds the inverse loss, weight 1, to the IMPALA
  loss and steps one Adam per batch); here ``epochs`` passes of ``num_minibatches`` steps.
- Scale, as released (issue 29): the release divides the bonus by a running std of the
  intrinsic reward (``--reward_norm int``; src/algos/e3b.py ``learn``) that sums squared
  deviations over all T x B values but counts T rows (src/models.py
  ``update_running_moments``), about sqrt(B) times the true std, and its coefficient of 1
  was tuned with it: ``default_normalizer`` is ``reward_rms_rows``, that rule. The true std
  is ``--set shaping.normalizer=reward_rms`` (an intrinsic reward about sqrt(B) times and,
  measured on small grids, 9-34 times larger). The release then clips the total reward
  r_ext + r_int to [-1, 1] (``clip_rewards``, src/algos/e3b.py): the recipe sets
  ``agent.total_reward_clip = 1``.
- Episode starts: ``episode_start = "release"`` is the rule above. ``"rllte"`` is RLeXplore's
  E3B (rllte ``reward`` branch @ b0057b3, rllte/xplore/reward/e3b.py:153-168), which reads
  the done flag a step late (``terminateds[j]`` is step j-1's flag in its rollout storage):
  a new episode's first state is scored against the previous episode's C^-1 and folded into
  it, C^-1 resets only after it, and the second state is scored against I / lambda. Not a
  rule of the paper; kept so that RLeXplore's runs can be rerun as they ran. On
  MultiRoom-N4-S5 at 1M steps with RLeXplore's settings it gave a training return of 0.603,
  0.607 and 0.561 on seeds 0-2, where the release rule gave 0.568, 0.595 and 0.581: no
  difference beyond the runs' spread (docs/research/rllte-own-runs.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import torch

from bonuses._elliptical_memory import EllipticalMemory
from bonuses._encoders import (
    WEIGHT_INITS,
    apply_init,
    check_choice,
    check_grid_encoder,
    fit_inverse_dynamics,
    mlp,
    observation_features,
    state_encoder,
)
from bonuses.base import (
    BonusConfig,
    EpisodicBonus,
    Recipe,
    Transitions,
)

#: The episode-start rules (`E3BConfig.episode_start`).
EPISODE_STARTS = ("release", "rllte")


@dataclasses.dataclass(frozen=True, kw_only=True)
class E3BConfig(BonusConfig):
    """E3B hyper-parameters; defaults from Henaff et al. 2022 and facebookresearch/e3b."""

    #: Ridge lambda, C^-1 starts each episode at I / lambda (e3b src/arguments.py --ridge: 0.1).
    ridge: float = 0.1
    #: Width of phi and side of C (release VizDoom encoder: 288; MiniHack: 1024).
    feature_dim: int = 288
    #: Hidden widths of phi's MLP for vector/discrete observations (not in the paper).
    hidden_sizes: tuple[int, ...] = (256, 256)
    #: Hidden width of the inverse-dynamics head (release MinigridInverseDynamicsNet: 256).
    inverse_hidden: int = 256
    #: Adam learning rate of phi and the head (e3b src/arguments.py --predictor_learning_rate).
    learning_rate: float = 1e-4
    #: Global gradient-norm clip (e3b src/arguments.py --max_grad_norm: 40).
    max_grad_norm: float = 40.0
    #: Passes over each rollout per update (the release uses each batch once).
    epochs: int = 1
    #: Minibatches per pass.
    num_minibatches: int = 4
    #: Encoder of a symbolic grid (MiniGrid): "ride", the suite's shared grid conv (RIDE's
    #: MiniGrid embedding); "rllte", RLeXplore's MinigridEncoder (`rllte_grid_encoder`).
    grid_encoder: str = "ride"
    #: "release": an episode's first step scores 0 and C^-1 resets at its end (e3b ``act``);
    #: "rllte": RLeXplore's reset a step late (rllte/xplore/reward/e3b.py:153-168).
    episode_start: str = "release"
    #: Init of phi and the head (`apply_init`; e3b minihack/torchbeast/src/models.py: its
    #: VizDoom nets and inverse heads use RIDE's ``init_``); runs before 2026-12-07: "torch".
    weight_init: str = "ride"
    #: What a config.json written before a field existed ran with (issue 31's fields).
    legacy_fields: ClassVar[Mapping[str, Any]] = {
        "grid_encoder": "ride",
        "episode_start": "release",
        "weight_init": "torch",
    }

    def __post_init__(self) -> None:
        check_grid_encoder(self.grid_encoder, "e3b")
        check_choice("e3b.episode_start", self.episode_start, EPISODE_STARTS)
        check_choice("e3b.weight_init", self.weight_init, WEIGHT_INITS)
        positive = ("ridge", "feature_dim", "inverse_hidden", "learning_rate", "epochs")
        for name in (*positive, "num_minibatches"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"e3b.{name} must be > 0, got {value!r}")
        if self.max_grad_norm < 0:
            raise ValueError(f"e3b.max_grad_norm must be >= 0 (0 = off), got {self.max_grad_norm}")
        if not self.hidden_sizes or any(h <= 0 for h in self.hidden_sizes):
            raise ValueError(f"e3b.hidden_sizes must be positive widths, got {self.hidden_sizes!r}")


class E3B(EpisodicBonus):
    """Elliptical episodic bonus phi(s)^T C^-1 phi(s) in inverse-dynamics features."""

    config_cls = E3BConfig
    default_normalizer = "reward_rms_rows"
    description = "E3B: elliptical episodic bonus phi^T C^-1 phi in inverse-dynamics features."
    reference = "Henaff et al. 2022, Exploration via Elliptical Episodic Bonuses"
    recipes = {
        "*": Recipe(
            source="facebookresearch/e3b minihack/torchbeast/README.md and src/arguments.py: "
            "--reward_norm int (src/models.py update_running_moments: the running std as "
            "released, T rows counted), --intrinsic_reward_coef 1.0; src/algos/e3b.py learn: "
            "total reward clipped to [-1, 1]",
            agent={"total_reward_clip": 1.0},
            shaping={"normalizer": "reward_rms_rows", "coef": 1.0},
        )
    }

    config: E3BConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        cfg = self.config
        shape = tuple(observation_space.shape or ())
        self.encoder = state_encoder(
            self.obs_kind, shape, self.num_states, cfg.feature_dim, hidden=cfg.hidden_sizes,
            grid_encoder=cfg.grid_encoder,
        )  # fmt: skip
        self.inverse = mlp(2 * cfg.feature_dim, (cfg.inverse_hidden,), self.action_dim)
        apply_init(cfg.weight_init, self.encoder, self.inverse)
        self.to(self.device)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=cfg.learning_rate, fused=True)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(observation_features(obs, self.obs_kind, self.num_states))

    def new_memory(self, num_envs: int) -> EllipticalMemory:
        cfg = self.config
        lagged = cfg.episode_start == "rllte"
        return EllipticalMemory(num_envs, cfg.feature_dim, cfg.ridge, self.device, lagged)

    def memory_inputs(self, batch: Transitions) -> tuple[torch.Tensor, ...]:
        flat = batch.flat().to(self.device)
        phi = self._features(flat.obs).double()
        return (phi.reshape(batch.num_steps, batch.num_envs, -1),)

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        return self.episodic_walk(batch).float().to(self.device)

    def update(self, batch: Transitions) -> dict[str, float]:
        bonus = self.commit_walk(batch)
        cfg = self.config
        metrics = fit_inverse_dynamics(
            self, batch.flat().to(self.device), self._features, self.inverse,
            cfg.epochs, cfg.num_minibatches, cfg.max_grad_norm,
        )  # fmt: skip
        return {**metrics, "episodic_bonus_mean": float(bonus.mean())}
