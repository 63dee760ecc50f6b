"""Never Give Up's intrinsic reward (Badia et al., ICLR 2020, "Never Give Up: Learning
Directed Exploration Strategies"; no official code).

Episodic novelty from a k-nearest-neighbour memory of controllable-state embeddings f(x),
modulated by RND's lifelong novelty::

    r_ep = 1 / (sqrt(sum_{i<=k} K(f(x), f_i)) + c),   0 when sqrt(sum K) + c > s_m
    K(x, y) = eps / (max(d^2(x, y) / d_m^2 - xi, 0) + eps)
    r = r_ep * min(max(alpha, 1), L),   alpha = 1 + (err - mu_e) / sigma_e

with f_i the k nearest embeddings in the episode's memory, d_m^2 the running mean of the
squared kNN distances (updated with this step's distances first), err RND's error on x and
mu_e, sigma_e its running mean and std. Constants from the paper's Table 6: k = 10,
c = 0.001, xi = 0.008, s_m = 8, L = 5, 30,000 memory slots, eps = 1e-4 (the text says 1e-3;
``kernel_epsilon`` takes either). f is 32-d, trained through an inverse-dynamics head (one
hidden layer of 128) predicting a_t from [f(x_t), f(x_{t+1})], Adam lr 5e-4, eps 1e-4,
L2 weight 1e-5, gradient clip 40.

Choices where the paper is silent or differs from this setting:

- The policy family: NGU trains 32 policies with betas from 0 to 0.3 and discounts from
  0.99 to 0.997 in one UVFA network (R2D2 learner) and evaluates the beta = 0 member;
  DI-engine spreads beta over [0, 0.3] across its actors. The suite runs ONE policy, the
  most exploratory member, beta = 0.3 at the agent's own discount (the recipe's
  coefficient), and evaluates that policy: not the exploitative member the paper reports.
  NGU's agent-side parts (the family, R2D2, the UVFA network) are out of scope.
- Which state is scored: the transition x_t -> x_{t+1} scores x_{t+1} (as every other bonus
  here) against a memory holding the episode's states x_0 .. x_t (x_t inserted first), so
  the memory is never empty when scoring and the episode's first state is remembered.
- d_m^2, as the reimplementations keep it (issue 29): a running mean of the squared kNN
  distances of every step of every env since the start, kept across episodes (rllte
  ``pseudo_counts.py``, DI-engine ``ngu_reward_model.py``; the paper does not say).
  ``distance_mean = "episode"`` resets it with each episode, the suite's former choice,
  under which the first scored step of every episode divides its distance by itself and
  pays about 1 / (sqrt(eps) + c) = 90. With fewer than k states in memory, the sum runs
  over those there are. When the memory is full the oldest slot is overwritten.
- Scale: the episodic reward is normalised as rllte does, by a running std: the recipe's
  normaliser is ``reward_rms`` (the harness's one mechanism, on r_ep times the modulator;
  DI-engine divides by its batch mean instead), then beta = 0.3. Before issue 29 r_ep (up
  to about 90) went unnormalised.
- The lifelong modulator reuses `bonuses.rnd.RND` (a sub-module: observation statistics,
  warm-up, newest frame only for images) with NGU's lr 5e-4 and every transition training
  the predictor; mu_e and sigma_e are running statistics of its score over all transitions
  seen, updated in `update`; alpha is 1 while RND warms up.
- Encoders: images use the Atari conv torso (8x8/4, 4x4/2, 3x3/1 with 32/64/64 filters) on
  all stacked frames, then a linear layer to 32; vector and discrete (one-hot) observations
  an MLP (not in the paper). Continuous actions (not in the paper): the inverse loss is the
  squared error to the taken actions.
- Grids (MiniGrid's 7x7 symbolic views), which the Atari torso does not fit, get the shared
  grid conv of `bonuses._encoders.conv_trunk` instead (the suite's choice); other images
  smaller than 36 x 36 are refused with `UnsupportedSpaceError`. ``grid_encoder`` and
  ``rnd_grid_encoder`` = "rllte" give f and the lifelong RND RLeXplore's MinigridEncoder
  (rllte's NGU builds its RND as its RND module: rllte/xplore/reward/ngu.py).
- The memory walk is per time step, batched over envs: each step costs N x M x 32 for the
  distances to the M states in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import torch

from bonuses._encoders import (
    RND_CONV,
    WEIGHT_INITS,
    RunningMeanStd,
    apply_init,
    check_choice,
    check_grid_encoder,
    fit_inverse_dynamics,
    mlp,
    modulation,
    observation_features,
    state_encoder,
)
from bonuses.base import BonusConfig, EpisodicBonus, EpisodicMemory, Recipe, Transitions
from bonuses.rnd import RND, RNDConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class NGUConfig(BonusConfig):
    """NGU's intrinsic-reward hyper-parameters; defaults from Badia et al. 2020, Table 6."""

    #: Number of nearest neighbours k (Table 6: 10).
    k: int = 10
    #: Kernel epsilon (Table 6: 1e-4; the text: 1e-3).
    kernel_epsilon: float = 1e-4
    #: Cluster distance xi subtracted from the normalised distances (Table 6: 0.008).
    cluster_distance: float = 0.008
    #: Pseudo-count constant c (Table 6: 0.001).
    pseudo_count: float = 0.001
    #: Maximum similarity s_m; above it the episodic reward is 0 (Table 6: 8).
    max_similarity: float = 8.0
    #: Episodic memory slots per env (Table 6: 30,000).
    memory_size: int = 30_000
    #: d_m^2: "running" (kept across episodes and envs: rllte, DI-engine) or "episode".
    distance_mean: str = "running"
    #: What a config.json written before a field existed ran with (issues 29 and 31).
    legacy_fields: ClassVar[Mapping[str, Any]] = {
        "distance_mean": "episode",
        "grid_encoder": "ride",
        "weight_init": "torch",
        "rnd_leaky_slope": 0.01,
        "rnd_grid_encoder": "ride",
    }
    #: Width of the controllable-state embedding f (paper: 32).
    embedding_dim: int = 32
    #: Hidden width of the inverse-dynamics head (paper: 128).
    inverse_hidden: int = 128
    #: Hidden widths of f's MLP for vector/discrete observations (not in the paper).
    hidden_sizes: tuple[int, ...] = (256, 256)
    #: Maximum reward scaling L of the lifelong modulator (Table 6: 5).
    max_modulation: float = 5.0
    #: Adam learning rate of f, the inverse head and RND's predictor (Table 6: 5e-4).
    learning_rate: float = 5e-4
    #: Adam epsilon of f and the inverse head (Table 6: 1e-4).
    adam_eps: float = 1e-4
    #: L2 weight decay of f and the inverse head (Table 6: 1e-5).
    weight_decay: float = 1e-5
    #: Global gradient-norm clip (Table 6: 40).
    max_grad_norm: float = 40.0
    #: RND output width of the lifelong novelty (NGU architecture appendix: 128).
    rnd_feature_dim: int = 128
    #: Leaky-ReLU slope of the lifelong RND (RND's release: 0.2; `RNDConfig.leaky_slope`).
    rnd_leaky_slope: float = 0.2
    #: Updates that only fit RND's observation statistics (this suite's RND warm-up).
    warmup_updates: int = 1
    #: Passes over each rollout per update.
    epochs: int = 1
    #: Minibatches per pass.
    num_minibatches: int = 4
    #: Encoder of a symbolic grid (MiniGrid) for f: "ride", the suite's shared grid conv;
    #: "rllte", RLeXplore's MinigridEncoder (`rllte_grid_encoder`).
    grid_encoder: str = "ride"
    #: The lifelong RND's networks for a grid (`RNDConfig.grid_encoder`).
    rnd_grid_encoder: str = "ride"
    #: Init of f and the inverse head (`apply_init`): the paper gives none and there is no
    #: release, so PyTorch's ("torch"); "rllte" is RLeXplore's.
    weight_init: str = "torch"

    def __post_init__(self) -> None:
        check_grid_encoder(self.grid_encoder, "ngu")
        check_grid_encoder(self.rnd_grid_encoder, "ngu", "rnd_grid_encoder")
        check_choice("ngu.weight_init", self.weight_init, WEIGHT_INITS)
        positive = (
            "k", "kernel_epsilon", "pseudo_count", "max_similarity", "memory_size",
            "embedding_dim", "inverse_hidden", "learning_rate", "adam_eps", "epochs",
            "num_minibatches", "rnd_feature_dim",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"ngu.{name} must be > 0, got {value!r}")
        for name in ("cluster_distance", "weight_decay", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"ngu.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.distance_mean not in ("running", "episode"):
            raise ValueError(
                f"ngu.distance_mean must be 'running' or 'episode', got {self.distance_mean!r}"
            )
        if self.max_modulation < 1:
            raise ValueError(f"ngu.max_modulation must be >= 1, got {self.max_modulation!r}")
        if not self.hidden_sizes or any(h <= 0 for h in self.hidden_sizes):
            raise ValueError(f"ngu.hidden_sizes must be positive widths, got {self.hidden_sizes!r}")

    def rnd_config(self) -> RNDConfig:
        """The settings of the RND sub-module (lifelong novelty)."""
        return RNDConfig(
            learning_rate=self.learning_rate,
            feature_dim=self.rnd_feature_dim,
            update_proportion=1.0,
            warmup_updates=self.warmup_updates,
            epochs=self.epochs,
            num_minibatches=self.num_minibatches,
            leaky_slope=self.rnd_leaky_slope,
            grid_encoder=self.rnd_grid_encoder,
        )


def episodic_reward(dist2: torch.Tensor, mean_dist2: torch.Tensor, cfg: NGUConfig) -> torch.Tensor:
    """The paper's r_ep from squared kNN distances (N, k) (inf where there is no neighbour)
    and the running mean d_m^2 (N,)."""
    found = torch.isfinite(dist2)
    scaled = torch.where(mean_dist2[:, None] > 0, dist2 / mean_dist2[:, None], 0.0)
    scaled = (scaled - cfg.cluster_distance).clamp_min(0.0)
    kernel = torch.where(found, cfg.kernel_epsilon / (scaled + cfg.kernel_epsilon), 0.0)
    similarity = kernel.sum(-1).sqrt() + cfg.pseudo_count
    return torch.where(similarity > cfg.max_similarity, 0.0, 1.0 / similarity)


class KNNMemory(EpisodicMemory):
    """Per-env embeddings of the episode's states (a ring of ``memory_size`` slots, grown on
    demand) and the running sum and count of squared kNN distances."""

    def __init__(self, num_envs: int, cfg: NGUConfig, device: torch.device) -> None:
        super().__init__(num_envs)
        self.cfg = cfg
        self.slots = torch.zeros(num_envs, 0, cfg.embedding_dim, device=device)
        self.size = torch.zeros(num_envs, dtype=torch.int64, device=device)
        self.dist_sum = torch.zeros(num_envs, dtype=torch.float64, device=device)
        self.dist_count = torch.zeros(num_envs, dtype=torch.float64, device=device)

    def _insert(self, emb: torch.Tensor) -> None:
        pos = self.size % self.cfg.memory_size
        needed = int(pos.max()) + 1
        if needed > self.slots.shape[1]:
            width = min(self.cfg.memory_size, max(needed, 2 * self.slots.shape[1], 64))
            grown = self.slots.new_zeros(self.num_envs, width, self.slots.shape[2])
            grown[:, : self.slots.shape[1]] = self.slots
            self.slots = grown
        self.slots[torch.arange(self.num_envs, device=emb.device), pos] = emb
        self.size += 1

    def step(self, *inputs: torch.Tensor) -> torch.Tensor:
        emb, emb_next = inputs
        self._insert(emb)
        filled = self.size.clamp_max(self.cfg.memory_size)
        width = int(filled.max())
        dist2 = (self.slots[:, :width] - emb_next[:, None]).pow(2).sum(-1).double()
        valid = torch.arange(width, device=emb.device)[None] < filled[:, None]
        dist2 = torch.where(valid, dist2, torch.inf)
        nearest = dist2.topk(min(self.cfg.k, width), dim=-1, largest=False).values
        found = torch.isfinite(nearest)
        step_sum, step_count = torch.where(found, nearest, 0.0).sum(-1), found.sum(-1)
        if self.cfg.distance_mean == "running":  # one mean over every env, every slot holds it
            step_sum, step_count = step_sum.sum(), step_count.sum()
        self.dist_sum += step_sum
        self.dist_count += step_count
        mean = self.dist_sum / self.dist_count.clamp_min(1.0)
        return episodic_reward(nearest, mean, self.cfg)

    def reset(self, ended: torch.Tensor) -> None:
        ended = ended.to(self.size.device)
        running = self.cfg.distance_mean == "running"
        for buffer in (self.size,) if running else (self.size, self.dist_sum, self.dist_count):
            buffer[ended] = 0

    def copy(self) -> KNNMemory:
        out = KNNMemory.__new__(KNNMemory)
        out.num_envs, out.cfg = self.num_envs, self.cfg
        out.slots, out.size = self.slots.clone(), self.size.clone()
        out.dist_sum, out.dist_count = self.dist_sum.clone(), self.dist_count.clone()
        return out

    def state(self) -> dict[str, Any]:
        width = int(self.size.clamp_max(self.cfg.memory_size).max()) if self.num_envs else 0
        return {
            "slots": self.slots[:, :width].cpu(),
            "size": self.size.cpu(),
            "dist_sum": self.dist_sum.cpu(),
            "dist_count": self.dist_count.cpu(),
        }

    def load(self, state: dict[str, Any]) -> None:
        device = self.size.device
        self.slots = state["slots"].to(device).clone()
        self.size = state["size"].to(device).clone()
        self.dist_sum = state["dist_sum"].to(device).clone()
        self.dist_count = state["dist_count"].to(device).clone()


class NGU(EpisodicBonus):
    """NGU's episodic kNN novelty times RND's lifelong modulator clipped to [1, L]."""

    config_cls = NGUConfig
    default_normalizer = "none"
    description = "NGU: episodic kNN novelty of inverse-dynamics embeddings x RND modulator."
    reference = "Badia et al. 2020, Never Give Up: Learning Directed Exploration Strategies"
    recipes = {
        "*": Recipe(
            source="Badia et al. 2020, Table 6: intrinsic reward scale beta = 0.3 (the most "
            "exploratory member of the policy family); the intrinsic reward divided by a "
            "running std as rllte pseudo_counts.py does",
            shaping={"normalizer": "reward_rms", "coef": 0.3},
        )
    }

    config: NGUConfig

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
            cfg.embedding_dim, conv=RND_CONV, hidden=cfg.hidden_sizes, activation=torch.nn.ReLU,
            grid_encoder=cfg.grid_encoder,
        )  # fmt: skip
        self.inverse = mlp(2 * cfg.embedding_dim, (cfg.inverse_hidden,), self.action_dim)
        apply_init(cfg.weight_init, self.encoder, self.inverse)
        self.error_rms = RunningMeanStd((1,))
        self.to(self.device)
        self.optimizer = torch.optim.Adam(
            [*self.encoder.parameters(), *self.inverse.parameters()],
            lr=cfg.learning_rate, eps=cfg.adam_eps, weight_decay=cfg.weight_decay,
        )  # fmt: skip
        self.rnd = RND(observation_space, action_space, cfg.rnd_config(), device)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(observation_features(obs, self.obs_kind, self.num_states))

    def new_memory(self, num_envs: int) -> KNNMemory:
        return KNNMemory(num_envs, self.config, self.device)

    def memory_inputs(self, batch: Transitions) -> tuple[torch.Tensor, ...]:
        flat = batch.flat().to(self.device)
        shape = (batch.num_steps, batch.num_envs, -1)
        return self._features(flat.obs).reshape(shape), self._features(flat.next_obs).reshape(shape)

    def modulator(self, error: torch.Tensor) -> torch.Tensor:
        """min(max(1 + (err - mu_e) / sigma_e, 1), L) for RND errors (T, N)."""
        if self.rnd.warming_up or self.error_rms.count.item() == 0:
            return torch.ones_like(error, dtype=torch.float64)
        return modulation(error, self.error_rms, self.config.max_modulation)

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        modulator = self.modulator(self.rnd.compute(batch))  # on the bonus's device
        return (self.episodic_walk(batch).to(modulator.device) * modulator).float()

    def update(self, batch: Transitions) -> dict[str, float]:
        episodic = self.commit_walk(batch)
        if not self.rnd.warming_up:
            self.error_rms.update(self.rnd.compute(batch).reshape(-1, 1))
        rnd_metrics = self.rnd.update(batch)
        cfg = self.config
        metrics = fit_inverse_dynamics(
            self, batch.flat().to(self.device), self._features, self.inverse,
            cfg.epochs, cfg.num_minibatches, cfg.max_grad_norm,
        )  # fmt: skip
        return {**metrics, **rnd_metrics, "episodic_reward_mean": float(episodic.mean())}
