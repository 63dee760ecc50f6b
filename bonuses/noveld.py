"""NovelD (Zhang et al., NeurIPS 2021, "NovelD: A Simple yet Effective Exploration
Criterion"; released code tianjunz/NovelD, ``src/algos/bebold.py``).

The bonus of s_t -> s_{t+1} is the increase in novelty across the transition, paid only on
the first visit to s_{t+1} in the episode::

    b = max(nov(s_{t+1}) - alpha * nov(s_t), 0) * 1{N_ep(s_{t+1}) == 1}

with nov(x) the L2 norm (not squared) of RND's predictor minus target on x, alpha = 0.5 and
N_ep the episodic count of s_{t+1}, incremented before use and reset at episode end.

- RND, as released (issue 29; ``rnd_model = "release"``): `bonuses._noveld_rnd.ReleaseRND`,
  a fixed random conv of the RAW 7x7 grid (orthogonal ReLU-gain init, as the release's
  ``init_``), MLP heads with torch's default init, no observation normalisation, the mean
  L2 norm as the predictor's loss, one predictor step per 3,200 env steps (the release's
  IMPALA batch of 32 x 100), its gradient clipped at norm 40 (``max_grad_norm``; runs
  before 2026-12-07 did not clip). At an episode end nov(s_{t+1}) reads the true final
  observation (the suite's contract), where the release's env hands the reset one.
  ``rnd_model = "suite"`` is the suite's `bonuses.rnd.RND` as a
  sub-module, the former choice (normalised inputs, orthogonal gain-sqrt(2) init, 4 steps
  per rollout: measured by the issue at about 7x the release's novelty at the start, 10x
  after 49k steps, and 12.5x the predictor steps per env step); nov is then recovered
  from RND's score, ||f_hat(x) - f(x)||_2 = sqrt(feature_dim * score).
- Episodic count: the release hashes the FULL grid observation (agent included). With
  ``count_key = "state"`` the task's `Transitions.state_keys` are counted when it provides
  them (MiniGrid), else the exact next observation; ``"obs"`` always counts observations.
  The count is the shared `bonuses.base.EpisodicCounts` memory (spans rollouts, resets at
  episode ends, saved with ``state_dict()``).
- Scale: the release does not normalise the bonus (coefficient 0.5; its entropy cost 0.001
  is an agent setting, the preset noveld-minigrid) and clips the total reward r_ext + r_int
  to [-1, 1] (src/algos/bebold.py, ``clip_rewards``): the recipe sets the coefficient, no
  normaliser and ``agent.total_reward_clip = 1``.
- Actions are not used: any action space is accepted.
- Grids (MiniGrid's 7x7 symbolic views), which RND's Atari torso does not fit: the release
  RND has its own grid conv (above); with ``rnd_model = "suite"`` RND's networks get the
  shared grid conv of `bonuses._encoders.conv_trunk` instead (the suite's choice). Other
  images smaller than the torso takes (36 x 36) are refused with
  `UnsupportedSpaceError`.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import torch

from bonuses._encoders import RND_CONV, encode_pairs, frame_shape, require_conv_fits
from bonuses._noveld_rnd import ReleaseRND
from bonuses.base import (
    COUNT_KEYS,
    BonusConfig,
    EpisodicCountBonus,
    Recipe,
    Transitions,
)
from bonuses.rnd import RND, RNDConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class NovelDConfig(BonusConfig):
    """NovelD hyper-parameters; defaults from Zhang et al. 2021 and tianjunz/NovelD."""

    #: alpha in max(nov(s') - alpha nov(s), 0) (NovelD src/arguments.py --scale_fac: 0.5).
    alpha: float = 0.5
    #: Episodic-count keys: "state" (the task's full-state keys when given, as the release's
    #: full-grid hash; else observations) or "obs" (always the exact next observation).
    count_key: str = "state"
    #: RND: "release" (its fixed random conv, raw input, default-init heads) or "suite".
    rnd_model: str = "release"
    #: What a config.json written before a field existed ran with (issue 29's fields).
    legacy_fields: ClassVar[Mapping[str, Any]] = {
        "rnd_model": "suite",
        "minibatch_size": 3200,
        "max_grad_norm": 0.0,
        "leaky_slope": 0.01,
    }
    #: Env steps per predictor step (release: IMPALA batch 32 x unroll 100 = 3,200).
    minibatch_size: int = 3200
    #: RND predictor Adam learning rate (NovelD src/arguments.py --predictor_learning_rate).
    learning_rate: float = 1e-4
    #: RND output width, ``rnd_model = "suite"`` (release: 128).
    feature_dim: int = 128
    #: Hidden widths of the suite RND's MLPs for vector/discrete observations.
    hidden_sizes: tuple[int, ...] = (256, 256)
    #: Fraction of transitions that train the predictor (release: all of them).
    update_proportion: float = 1.0
    #: Updates that only fit RND's observation statistics (this suite's RND warm-up).
    warmup_updates: int = 1
    #: Passes over each rollout per update (the release uses each batch once).
    epochs: int = 1
    #: Minibatches per pass.
    num_minibatches: int = 4
    #: Gradient-norm clip of the release RND's predictor, 0: none (NovelD src/arguments.py
    #: --max_grad_norm 40, applied in src/algos/bebold.py ``learn``).
    max_grad_norm: float = 40.0
    #: Leaky-ReLU slope of the suite RND, ``rnd_model = "suite"`` (`RNDConfig.leaky_slope`).
    leaky_slope: float = 0.2

    def __post_init__(self) -> None:
        if not self.max_grad_norm >= 0:
            raise ValueError(f"noveld.max_grad_norm must be >= 0, got {self.max_grad_norm!r}")
        if not self.alpha >= 0:
            raise ValueError(f"noveld.alpha must be >= 0, got {self.alpha!r}")
        if self.rnd_model not in ("release", "suite"):
            raise ValueError(
                f"noveld.rnd_model must be 'release' or 'suite', got {self.rnd_model!r}"
            )
        if self.minibatch_size < 1:
            raise ValueError(f"noveld.minibatch_size must be >= 1, got {self.minibatch_size!r}")
        if self.count_key not in COUNT_KEYS:
            raise ValueError(f"noveld.count_key must be 'state' or 'obs', got {self.count_key!r}")
        self.rnd_config()  # validates the RND fields, naming them rnd.*

    def rnd_config(self) -> RNDConfig:
        """The settings of the RND sub-module."""
        return RNDConfig(
            learning_rate=self.learning_rate,
            feature_dim=self.feature_dim,
            hidden_sizes=self.hidden_sizes,
            update_proportion=self.update_proportion,
            warmup_updates=self.warmup_updates,
            epochs=self.epochs,
            num_minibatches=self.num_minibatches,
            leaky_slope=self.leaky_slope,
        )


class NovelD(EpisodicCountBonus):
    """Novelty difference across a transition (RND), on first visits within an episode."""

    config_cls = NovelDConfig
    default_normalizer = "none"
    description = "NovelD: max(nov(s') - alpha nov(s), 0) with RND novelty, first visits only."
    reference = "Zhang et al. 2021, NovelD: A Simple yet Effective Exploration Criterion"
    recipes = {
        "*": Recipe(
            source="tianjunz/NovelD src/arguments.py: --intrinsic_reward_coef 0.5, "
            "no intrinsic reward normalisation; src/algos/bebold.py: total reward clipped to "
            "[-1, 1] (its entropy cost 0.001 is the preset noveld-minigrid)",
            agent={"total_reward_clip": 1.0},
            shaping={"normalizer": "none", "coef": 0.5},
        ),
    }

    config: NovelDConfig

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
        if self.obs_kind == "image":  # RND's conv torso on the newest frame
            require_conv_fits(frame_shape(shape), RND_CONV, "NovelD's RND")
        self.rnd: RND | None = None
        self.release: ReleaseRND | None = None
        #: (batch, features of s_t, of s_{t+1}, rows of s_{t+1} encoded on their own) of the
        #: last `compute`, which `update` on the same batch reuses (the encoder is fixed).
        self._features_cache: tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        if cfg.rnd_model == "suite":
            self.rnd = RND(observation_space, action_space, cfg.rnd_config(), device)
        else:
            self.release = ReleaseRND(
                self.obs_kind, shape, self.num_states, cfg.learning_rate, cfg.minibatch_size,
                self.device, cfg.max_grad_norm,
            )  # fmt: skip

    def novelty(self, batch: Transitions) -> tuple[torch.Tensor, torch.Tensor]:
        """nov(s_t) and nov(s_{t+1}), each (T, N): L2 norms of RND's feature error."""
        if self.release is not None:
            t, n = batch.ext_rewards.shape
            feats, feats_next, fresh = self._release_features(batch)
            with torch.no_grad():
                nov = self.release.novelty_of(feats).view(t, n)
                nov_next = torch.empty_like(nov)
                nov_next[:-1] = nov[1:]
                nov_next.view(-1)[fresh] = self.release.novelty_of(feats_next[fresh])
            return nov.double(), nov_next.double()
        assert self.rnd is not None
        width = self.config.feature_dim
        nov_next = (self.rnd.compute(batch).double() * width).sqrt()
        leaving = dataclasses.replace(batch, next_obs=batch.obs)
        nov = (self.rnd.compute(leaving).double() * width).sqrt()
        return nov, nov_next

    @torch.no_grad()
    def _release_features(
        self, batch: Transitions
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The release encoder's features of every s_t and s_{t+1}, (T * N, 1024) each, and
        the flat rows whose s_{t+1} is not s_{t+1}'s own row of ``obs``.

        Each distinct observation is encoded once (`encode_pairs`), and `update` reuses these
        features (the encoder is fixed) instead of encoding s_{t+1} again; the features are
        the same function of the same rows. Measured on the 2-core machine, one thread, CPU
        time, compute + update on rollouts of 128 steps x 8 envs of 7 x 7 grids (1% episode
        ends): 396 -> 213 ms per rollout (1.86x); PPO + NovelD on DoorKey8x8 (envpool, 8
        envs, 10,240 steps): 1.53x the steps per CPU-second."""
        assert self.release is not None
        cached = self._features_cache
        if cached is not None and cached[0]() is batch:
            return cached[1], cached[2], cached[3]
        flat = batch.flat()
        feats, feats_next, rows = encode_pairs(
            self.release.features, flat.obs, flat.next_obs, batch.num_envs
        )
        self._features_cache = (weakref.ref(batch), feats, feats_next, rows)
        return feats, feats_next, rows

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        first_visit = self.episodic_walk(batch) == 1
        nov, nov_next = self.novelty(batch)
        bonus = (nov_next - self.config.alpha * nov).clamp_min(0.0)
        return (bonus * first_visit.to(bonus.device)).float().to(self.device)

    def update(self, batch: Transitions) -> dict[str, float]:
        counts = self.commit_walk(batch)
        if self.release is not None:
            cached = self._features_cache
            feats_next = cached[2] if cached is not None and cached[0]() is batch else None
            self._features_cache = None
            loss = self.release.train_on(batch.flat().next_obs, feats_next)
            metrics = {"warmup": 0.0, "predictor_loss": loss}
        else:
            assert self.rnd is not None
            metrics = self.rnd.update(batch)
        return {**metrics, "first_visit_frac": float((counts == 1).double().mean())}
