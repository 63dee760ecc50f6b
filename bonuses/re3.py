"""Random Encoders for Efficient Exploration (Seo et al. 2021, "State Entropy Maximization
with Random Encoders for Efficient Exploration", ICML).

A randomly initialised encoder, never trained, embeds each state as y; the bonus is a
k-nearest-neighbour particle estimate of the state entropy, ``log(1 + d)`` with d the
distance from y to its k-th nearest neighbour among a sample set of recent embeddings
(paper eq. 5, k = 3).

The release has two variants; this follows its on-policy one (A2C on MiniGrid,
``a2c_re3/``), the closer match to PPO and TRPO:

- Sample set: a FIFO of the last ``memory_size`` (10,000) embeddings, filled with the
  rollout before it is scored, so the rollout's own states are neighbours of each other.
  `compute` scores against the memory plus this batch; `update` commits the batch.
- ``memory_scope = "env"`` keeps a FIFO of ``memory_size`` embeddings per env instead and
  scores each state against its own env's only, as rllte's RE3 does (RLeXplore's
  implementation, rllte/xplore/reward/re3.py ``watch``/``compute``: a storage of 1,000
  states per env, ``kthvalue`` over the same env's column); the memory is sized for the run's
  env count at the first update.
- The sample itself is never its own neighbour (the release's ``kthvalue(k + 1)`` skips
  the zero self-distance the same way in its off-policy variant; its A2C variant averages
  the 5 smallest distances including that zero). ``average_k = True`` with ``k = 5`` gives
  the A2C variant's mean of the nearest distances, without the self-distance.
- ``normalize``: d is divided by its running std before the log (the A2C release, whose
  running-moments update has a bug, adding n/N where it should multiply; not copied here).
  ``normalize = False`` gives the paper's eq. 5, ``log(1 + d)``.
- The state scored for transition t is s_t, as released (the A2C release embeds the
  rollout's observations, ``a2c_re3/torch_ac/algos/a2c.py``); ``state = "next_obs"``
  scores s_{t+1}, as RND, ICM and counts do (the suite's choice before issue 29).

Encoders (torch's default init, as both releases: neither applies its ``weight_init`` to
the random encoder): frame stacks use the RAD encoder of the off-policy release (4 convs of
32 3x3 filters, strides 2/1/1/1, ReLU, then Linear -> LayerNorm -> tanh) on the whole stack,
where that release reads the last 3-channel frame at its 100 x 100 pre-crop size. Symbolic
grids (MiniGrid) get the suite's shared grid conv from `conv_trunk` with the same head, on
the grid / 255; the A2C release's own MiniGrid encoder (2x2 convs 16/32/64 with a max-pool,
64 features) differs, but is as random, and reads the raw cell codes. ``grid_encoder =
"rllte"`` makes a grid's encoder RLeXplore's instead: a bare `rllte_grid_encoder` (ReLU, 512
features, no head; rllte/xplore/reward/re3.py:88-90). Vector and discrete
(one-hot) observations use a ReLU MLP with the same head (the paper has none for them).
Scale, as released (issue 29): the A2C release on DoorKey-6x6 multiplies the bonus by beta
= 0.005 and adds it to the advantage and the return of its own step, not as a reward summed
into the discounted return (``a2c_re3/torch_ac/algos/a2c.py``; its argparse default is
1e-5): the recipe sets ``shaping.coef = 0.005`` and ``agent.int_enters = "advantage"``.
Before issue 29 RE3 ran at coefficient 1 as a reward, 200 times the release's weight.
"""

from __future__ import annotations

import copy
import dataclasses
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import torch
from torch import nn

from bonuses._encoders import (
    RunningMeanStd,
    check_grid_encoder,
    conv_trunk,
    mlp,
    observation_features,
    rllte_grid_encoder,
)
from bonuses.base import BonusConfig, IntrinsicBonus, Recipe, Transitions, is_grid

#: RAD's encoder (Laskin et al. 2020), RE3's off-policy release (rad_re3/re3.py).
RAD_CONV = ((32, 3, 2, 0), (32, 3, 1, 0), (32, 3, 1, 0), (32, 3, 1, 0))


@dataclasses.dataclass(frozen=True, kw_only=True)
class RE3Config(BonusConfig):
    """RE3 hyper-parameters; defaults from Seo et al. 2021 and younggyoseo/RE3."""

    #: The k of the k-th nearest neighbour (paper sec. 4 and rad_re3/re3.py: k = 3).
    k: int = 3
    #: Mean of the k nearest distances instead of the k-th (A2C release: k = 5, averaged).
    average_k: bool = False
    #: Embeddings in the FIFO sample set (A2C release, scripts/train.py: 10,000); per env
    #: with ``memory_scope = "env"``.
    memory_size: int = 10_000
    #: "shared": one FIFO over all envs (the A2C release); "env": a FIFO per env, whose
    #: states are neighbours only of the same env's (rllte's RE3, RLeXplore: 1,000 per env).
    memory_scope: str = "shared"
    #: Embedding width for frames and vectors (rad_re3 RandomEncoder feature_dim: 50).
    feature_dim: int = 50
    #: Hidden widths of the random MLP for vector/discrete observations (not in the paper).
    hidden_sizes: tuple[int, ...] = (256, 256)
    #: Divide d by its running std inside the log (A2C release, torch_ac/algos/a2c.py).
    normalize: bool = True
    #: The state scored for transition t: "obs" (s_t, the A2C release) or "next_obs" (s_t+1).
    state: str = "obs"
    #: Encoder of a symbolic grid: "ride", the suite's grid conv with the head above; "rllte",
    #: RLeXplore's bare MinigridEncoder (512 features).
    grid_encoder: str = "ride"

    #: What a config.json written before a field existed ran with (issues 29 and 31).
    legacy_fields: ClassVar[Mapping[str, Any]] = {
        "state": "next_obs",
        "memory_scope": "shared",
        "grid_encoder": "ride",
    }

    def __post_init__(self) -> None:
        check_grid_encoder(self.grid_encoder, "re3")
        for name in ("k", "memory_size", "feature_dim"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"re3.{name} must be an integer >= 1, got {value!r}")
        if self.k >= self.memory_size:
            raise ValueError(
                f"re3.k must be < re3.memory_size ({self.memory_size}), got {self.k!r}"
            )
        if self.memory_scope not in ("shared", "env"):
            raise ValueError(
                f"re3.memory_scope must be 'shared' or 'env', got {self.memory_scope!r}"
            )
        if self.state not in ("obs", "next_obs"):
            raise ValueError(f"re3.state must be 'obs' or 'next_obs', got {self.state!r}")
        if not self.hidden_sizes or any(h <= 0 for h in self.hidden_sizes):
            raise ValueError(f"re3.hidden_sizes must be positive widths, got {self.hidden_sizes!r}")


class RE3(IntrinsicBonus):
    """State entropy: log(1 + k-NN distance) in a fixed random embedding."""

    config_cls = RE3Config
    default_normalizer = "none"
    description = "RE3: log(1 + k-NN distance) of s among recent states, fixed random encoder."
    reference = "Seo et al. 2021, State Entropy Maximization with Random Encoders (ICML)"
    recipes = {
        "*": Recipe(
            source="younggyoseo/RE3 a2c_re3 (DoorKey-6x6): beta 0.005, added to the advantage "
            "and the return of its step (torch_ac/algos/a2c.py), no other normalisation",
            agent={"int_enters": "advantage"},
            shaping={"normalizer": "none", "coef": 0.005},
        )
    }

    config: RE3Config
    memory: torch.Tensor
    env_filled: torch.Tensor
    filled: torch.Tensor

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        cfg = self.config
        head: list[nn.Module] = []
        shape = tuple(observation_space.shape)  # type: ignore[arg-type]
        if self.obs_kind == "image" and is_grid(shape) and cfg.grid_encoder == "rllte":
            trunk, width = rllte_grid_encoder(shape)
        elif self.obs_kind == "image":
            trunk, width = conv_trunk(shape, RAD_CONV, nn.ReLU)  # grids: the shared grid conv
            head = [nn.Linear(width, cfg.feature_dim), nn.LayerNorm(cfg.feature_dim), nn.Tanh()]
            width = cfg.feature_dim
        else:
            in_dim = self.num_states or int(observation_space.shape[0])  # type: ignore[index]
            trunk = mlp(in_dim, cfg.hidden_sizes[:-1], cfg.hidden_sizes[-1])
            head = [nn.ReLU(), nn.Linear(cfg.hidden_sizes[-1], cfg.feature_dim)]
            head += [nn.LayerNorm(cfg.feature_dim), nn.Tanh()]
            width = cfg.feature_dim
        self.encoder = nn.Sequential(trunk, *head).requires_grad_(False)
        self.embed_dim = width
        # Newest embeddings last; only the last `filled` rows are valid.
        # "env" scope: (envs, memory_size, D) and per-env fill counts, grown with the envs
        # seen (`_grow_env_memory`).
        shape = (
            (cfg.memory_size, width)
            if cfg.memory_scope == "shared"
            else (0, cfg.memory_size, width)
        )
        self.register_buffer("memory", torch.zeros(shape))
        self.register_buffer("env_filled", torch.zeros(0, dtype=torch.int64))
        self.register_buffer("filled", torch.zeros((), dtype=torch.int64))
        self.dist_rms = RunningMeanStd((1,))
        self.to(self.device)
        #: (batch, memory version, embeddings, distances) of the last `compute` (see
        #: `_embedded_distances`).
        self._scored_cache: tuple[Any, tuple[int, int, int], torch.Tensor, torch.Tensor] | None = (
            None
        )

    @torch.no_grad()
    def embed(self, obs: torch.Tensor) -> torch.Tensor:
        """Flat-batch observations -> (B, D) random embeddings."""
        x = observation_features(obs.to(self.device), self.obs_kind, self.num_states)
        return self.encoder(x).float()

    def _window(self, y: torch.Tensor) -> torch.Tensor:
        """The sample set for this batch: the memory plus ``y``, newest ``memory_size`` rows."""
        filled = int(self.filled)
        old = self.memory[self.memory.shape[0] - filled :]
        return torch.cat([old, y])[-self.config.memory_size :]

    @torch.no_grad()
    def knn_distances(self, y: torch.Tensor) -> torch.Tensor:
        """d per embedding: distance to the k-th nearest (or mean of the k nearest) other
        sample in `_window`; 0 when no other sample exists."""
        # Matrix-product distances in float64: the speed of a GEMM, and exact enough that a
        # repeated state is at distance ~1e-7 from its twin (float32 gives ~1e-3).
        y, window = y.double(), self._window(y).double()
        b, m = y.shape[0], window.shape[0]
        k = min(self.config.k, m - 1)
        if k < 1:
            return torch.zeros(b, device=y.device)
        out = []
        for start in range(0, b, 1024):  # bounds the (rows x M) distance block
            rows = torch.arange(start, min(start + 1024, b), device=y.device)
            dist = torch.cdist(y[rows], window, compute_mode="use_mm_for_euclid_dist")
            own = rows + (m - b)  # where each row sits in the window (if still there)
            inside = own >= 0
            dist[inside.nonzero().squeeze(1), own[inside]] = float("inf")
            near = dist.topk(k, dim=1, largest=False).values
            out.append(near.mean(1) if self.config.average_k else near[:, -1])
        return torch.cat(out).float()

    def _scale(self, d: torch.Tensor) -> torch.Tensor:
        """d / running std, the std including this batch (not committed: compute is pure)."""
        if not self.config.normalize:
            return d
        rms = copy.deepcopy(self.dist_rms)
        rms.update(d[:, None])
        return d / torch.sqrt(rms.var[0] + 1e-8).to(d.dtype)

    def _scored(self, batch: Transitions) -> torch.Tensor:
        """The flat-batch states this bonus scores: s_t or s_{t+1} (``config.state``)."""
        flat = batch.flat()
        return flat.obs if self.config.state == "obs" else flat.next_obs

    @torch.no_grad()
    def _embedded_distances(self, batch: Transitions) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings of the scored states and their kNN distances against the memory.

        `update` on the batch `compute` scored, with the memory unchanged since (its tensors'
        in-place version counters, which ``load_state_dict`` advances too, and the fixed
        encoder), reuses compute's result instead of embedding and searching again: the same
        numbers, computed once. Measured on the 2-core machine, one thread, CPU time,
        compute + update on rollouts of 128 steps x 8 envs of 7 x 7 grids with a full memory:
        165-226 ms without the reuse, 113 ms with it (3 rounds, 10 rollouts each)."""
        version = (self.memory._version, self.filled._version, self.env_filled._version)
        cached = self._scored_cache
        if cached is not None and cached[0]() is batch and cached[1] == version:
            return cached[2], cached[3]
        y = self.embed(self._scored(batch))
        if self.config.memory_scope == "env":
            d = self.env_knn_distances(y.view(batch.num_steps, batch.num_envs, -1))
        else:
            d = self.knn_distances(y)
        self._scored_cache = (weakref.ref(batch), version, y, d)
        return y, d

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        _, d = self._embedded_distances(batch)
        bonus = torch.log1p(self._scale(d))
        return bonus.reshape(batch.num_steps, batch.num_envs).float().cpu()

    @torch.no_grad()
    def update(self, batch: Transitions) -> dict[str, float]:
        # against the window before the commit, as compute scored
        y, d = self._embedded_distances(batch)
        self._scored_cache = None
        self.dist_rms.update(d[:, None])
        size = self.config.memory_size
        if self.config.memory_scope == "env":
            envs = batch.num_envs
            self._grow_env_memory(envs)
            per_env = y.view(batch.num_steps, envs, -1).transpose(0, 1)
            self.memory[:envs] = torch.cat([self.memory[:envs], per_env], 1)[:, -size:]
            self.env_filled[:envs] = (self.env_filled[:envs] + batch.num_steps).clamp(max=size)
            fill = float(self.env_filled[:envs].float().mean()) / size
        else:
            self.memory.copy_(torch.cat([self.memory, y])[-size:])
            self.filled.fill_(min(size, int(self.filled) + y.shape[0]))
            fill = int(self.filled) / size
        return {"knn_distance": float(d.mean()), "memory_fill": fill}

    def _grow_env_memory(self, envs: int) -> None:
        """Per-env memories for at least ``envs`` envs: a new env's starts empty."""
        have = self.memory.shape[0]
        if envs > have:
            size, width, device = self.config.memory_size, self.embed_dim, self.memory.device
            grown = torch.zeros(envs, size, width, device=device)
            grown[:have] = self.memory
            filled = torch.zeros(envs, dtype=torch.int64, device=device)
            filled[:have] = self.env_filled
            self.memory, self.env_filled = grown, filled

    @torch.no_grad()
    def env_knn_distances(self, y: torch.Tensor) -> torch.Tensor:
        """(T, N, D) embeddings -> flat (T * N) distances, each to its k-th nearest (or mean
        of the k nearest) other sample among its own env's memory and rollout (env n's
        memory is row n; an env without one has only its rollout)."""
        steps, envs, width = y.shape
        size = self.config.memory_size
        y_env = y.double().transpose(0, 1)  # (N, T, D)
        have = min(envs, self.memory.shape[0])
        memory = torch.zeros(envs, size, width, dtype=torch.float64, device=y.device)
        filled = torch.zeros(envs, dtype=torch.int64, device=y.device)
        memory[:have], filled[:have] = self.memory[:have].double(), self.env_filled[:have]
        window = torch.cat([memory, y_env], 1)[:, -size:]  # (N, W, D), newest last
        slots = window.shape[1]
        # the window's last `filled + T` slots hold samples; older ones are empty
        first_valid = (slots - filled - steps).clamp(min=0)  # (N,)
        invalid = torch.arange(slots, device=y.device)[None] < first_valid[:, None]
        k = min(self.config.k, int((slots - first_valid).min()) - 1)
        if k < 1:
            return torch.zeros(steps * envs, device=y.device)
        rows = torch.arange(steps, device=y.device)
        own = rows + (slots - steps)  # where each step sits in its env's window
        out = []
        for start in range(0, envs, 64):  # bounds the (envs x T x W) distance block
            dist = torch.cdist(y_env[start : start + 64], window[start : start + 64])
            dist[:, rows, own] = float("inf")
            dist.masked_fill_(invalid[start : start + 64, None], float("inf"))
            near = dist.topk(k, dim=2, largest=False).values
            out.append(near.mean(2) if self.config.average_k else near[..., -1])
        return torch.cat(out).transpose(0, 1).reshape(-1).float()

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, *args: Any) -> None:
        # "env" memories grow with the envs seen: take the saved ones' shapes
        for name in ("memory", "env_filled"):
            saved, mine = state_dict.get(prefix + name), getattr(self, name)
            if saved is not None and saved.shape != mine.shape:
                setattr(self, name, torch.zeros(saved.shape, dtype=mine.dtype, device=mine.device))
        super()._load_from_state_dict(state_dict, prefix, *args)
