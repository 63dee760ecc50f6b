"""Count-based exploration with static hashing (Tang et al. 2017, "#Exploration: A Study of
Count-Based Exploration for Deep Reinforcement Learning", NeurIPS).

A state is mapped to a k-bit code by SimHash, ``sgn(A g(s))`` with a fixed Gaussian matrix A
(k x D), and rewarded ``beta / sqrt(n(code))``. Discrete observation spaces are counted
exactly, one entry per state. The state counted and scored for transition t is s_t by
default, as in Tang et al.'s code (hrtang/hash_exploration,
``bonus_trpo/bonus_evaluators/ale_hashing_bonus_evaluator.py`` hashes
``path["observations"]``, the states actions were taken from, with
``count_target="observations"`` in the Table 1 launcher ``launchers/exp-027.py``).
``counted_state = "next_obs"`` counts s_{t+1}, the state the action led to (as RND and ICM
score), which credits the action that reached a rare state rather than the one taken from it.

- ``g``: vector observations as they are; images (C x H x W, stacked frames) use the newest
  frame only, scaled to [0, 1] and area-downsampled to at most ``image_size`` (52, the
  paper's 52 x 52 grayscale), as in the authors' code (which hashes the last screen).
- Batch counts: `compute` scores each transition with n = committed count + every occurrence
  of its code in this batch (the authors' code also adds the batch before querying), so
  n >= 1 and the score does not depend on the order within the batch. `update` commits.
- Memory bound: a count-min sketch as in the authors' code, ``depth`` rows of counters
  (int32) indexed by the code modulo the ``depth`` largest primes <= ``table_size``; n is the
  minimum over rows, never an undercount. Defaults: 6 rows x 999,983 = 24 MB whatever the
  run length. When all codes fit in one row (2^k <= table_size, or a Discrete space of at
  most table_size states) a single row is indexed directly and counts are exact.
  Checkpoints store only the non-zero counters.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gymnasium as gym
import torch
from torch import nn

from bonuses._encoders import frame, frame_shape
from bonuses.base import BonusConfig, IntrinsicBonus, Recipe, Transitions


@dataclasses.dataclass(frozen=True, kw_only=True)
class CountConfig(BonusConfig):
    """SimHash count bonus; defaults from Tang et al. 2017."""

    #: Bonus coefficient beta in beta / sqrt(n) (paper: 0.01).
    beta: float = 0.01
    #: SimHash code length in bits (paper: 32 for MuJoCo; default_config picks 256 for images).
    k: int = 32
    #: Counters per sketch row; rows use the largest primes <= this (authors' code: 999,983).
    table_size: int = 999_983
    #: Sketch rows; the count is the minimum over rows (authors' code: 6).
    depth: int = 6
    #: Images are area-downsampled to at most this height and width (paper: 52).
    image_size: int = 52
    #: "obs" counts s_t (hrtang/hash_exploration ale_hashing_bonus_evaluator.py), or "next_obs".
    counted_state: str = "obs"

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError(f"count.beta must be > 0, got {self.beta!r}")
        if not 1 <= self.k <= 4096:
            raise ValueError(f"count.k must be in [1, 4096], got {self.k!r}")
        if not 2 <= self.table_size <= 2**31 - 1:
            raise ValueError(f"count.table_size must be in [2, 2^31 - 1], got {self.table_size!r}")
        if not 1 <= self.depth <= 16:
            raise ValueError(f"count.depth must be in [1, 16], got {self.depth!r}")
        if self.image_size < 1:
            raise ValueError(f"count.image_size must be >= 1, got {self.image_size!r}")
        if self.counted_state not in ("obs", "next_obs"):
            raise ValueError(
                f"count.counted_state must be 'obs' or 'next_obs', got {self.counted_state!r}"
            )


def largest_primes(limit: int, count: int) -> list[int]:
    """The ``count`` largest primes <= ``limit`` (trial division; limit is at most ~2^31)."""
    found: list[int] = []
    n = limit
    while len(found) < count and n >= 2:
        if all(n % d for d in range(2, math.isqrt(n) + 1)):
            found.append(n)
        n -= 1
    if len(found) < count:
        raise ValueError(f"fewer than {count} primes <= {limit}")
    return found


class Count(IntrinsicBonus):
    """beta / sqrt(n) over SimHash codes (exact counts for discrete observations)."""

    config_cls = CountConfig
    default_normalizer = "none"
    description = "Count-based: beta/sqrt(n) over SimHash codes (exact for discrete states)."
    reference = "Tang et al. 2017, #Exploration: A Study of Count-Based Exploration for Deep RL"
    recipes = {
        "*": Recipe(
            source="none: Tang et al. 2017 fix no shaping beyond the bonus itself; their TRPO "
            "settings are agent settings, the preset tang-trpo"
        ),
    }

    config: CountConfig
    counts: torch.Tensor
    moduli: torch.Tensor
    bit_values: torch.Tensor
    projection: torch.Tensor

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        cfg = self.config
        if self.obs_kind == "discrete":
            num_codes = int(observation_space.n)  # type: ignore[attr-defined]
            dim = 0
        else:
            num_codes = 2**cfg.k
            shape = observation_space.shape
            assert shape is not None
            dim = int(shape[0]) if self.obs_kind == "vector" else self._image_dim(shape)
        self.exact = num_codes <= cfg.table_size
        moduli = [num_codes] if self.exact else largest_primes(cfg.table_size, cfg.depth)
        self.register_buffer("moduli", torch.tensor(moduli, dtype=torch.int64))
        # 2^i mod p per bit and row: a code's residue is then an exact float64 dot product.
        bits = [[pow(2, i, p) for p in moduli] for i in range(cfg.k if dim else 0)]
        self.register_buffer(
            "bit_values", torch.tensor(bits, dtype=torch.float64).reshape(-1, len(moduli))
        )
        self.register_buffer(
            "projection", torch.randn(cfg.k if dim else 0, dim, dtype=torch.float64)
        )
        self.register_buffer(
            "counts", torch.zeros(len(moduli), max(moduli), dtype=torch.int32), persistent=False
        )
        self.to(self.device)

    @classmethod
    def default_config(cls, observation_space: gym.Space, action_space: gym.Space) -> CountConfig:
        """k = 256 bits for images (the paper's Atari pixel SimHash), else 32."""
        if isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 3:
            return CountConfig(k=256)
        return CountConfig()

    def _image_dim(self, shape: tuple[int, ...]) -> int:
        size = self.config.image_size
        channels = frame_shape(shape)[0]
        return channels * min(shape[1], size) * min(shape[2], size)

    def codes(self, obs: torch.Tensor) -> torch.Tensor:
        """SimHash bits (B, k) of flat-batch observations (for discrete: the state, (B, 1))."""
        if self.obs_kind == "discrete":
            return obs.long().reshape(-1, 1)
        x = obs.double()
        if self.obs_kind == "image":
            newest = frame(x) / 255.0 if obs.dtype == torch.uint8 else frame(x)
            size = (
                min(newest.shape[2], self.config.image_size),
                min(newest.shape[3], self.config.image_size),
            )
            x = nn.functional.adaptive_avg_pool2d(newest, size).flatten(1)
        return (x @ self.projection.T > 0).long()

    def _keys(self, obs: torch.Tensor) -> torch.Tensor:
        """Counter index per row, (B, rows)."""
        codes = self.codes(obs)
        if self.obs_kind == "discrete":
            return codes % self.moduli
        residues = codes.double() @ self.bit_values
        return residues.long() % self.moduli

    def _counted(self, batch: Transitions) -> torch.Tensor:
        """The flat-batch states that are counted: s_t or s_{t+1} (``counted_state``)."""
        flat = batch.flat()
        return (flat.obs if self.config.counted_state == "obs" else flat.next_obs).to(self.device)

    @torch.no_grad()
    def visit_counts(self, batch: Transitions) -> torch.Tensor:
        """n per transition, (T * N,): committed counts plus this batch's own visits."""
        return self.counts_of(self._counted(batch))

    @torch.no_grad()
    def counts_of(self, obs: torch.Tensor) -> torch.Tensor:
        """n per flat-batch observation: committed counts plus the batch's own occurrences.
        Other bonuses count their own codes with it (AE-SimHash hashes learned codes)."""
        keys = self._keys(obs.to(self.device))
        n = torch.empty_like(keys)
        for row in range(keys.shape[1]):
            _, inverse, in_batch = torch.unique(
                keys[:, row], return_inverse=True, return_counts=True
            )
            n[:, row] = self.counts[row, keys[:, row]].long() + in_batch[inverse]
        return n.min(1).values

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        n = self.visit_counts(batch).double()
        bonus = self.config.beta / n.sqrt()
        return bonus.reshape(batch.num_steps, batch.num_envs).float()

    @torch.no_grad()
    def update(self, batch: Transitions) -> dict[str, float]:
        return self.commit(self._counted(batch))

    @torch.no_grad()
    def commit(self, obs: torch.Tensor) -> dict[str, float]:
        """Add one visit per flat-batch observation to the counts; returns table metrics."""
        keys = self._keys(obs.to(self.device))
        ones = torch.ones(keys.shape[0], dtype=torch.int32, device=self.device)
        for row in range(keys.shape[1]):
            self.counts[row].index_add_(0, keys[:, row], ones)
        filled = int((self.counts[0, : int(self.moduli[0])] > 0).sum())
        return {
            "table_fill": filled / int(self.moduli[0]),
            "batch_unique_frac": int(keys[:, 0].unique().numel()) / keys.shape[0],
        }

    def get_extra_state(self) -> Any:
        flat = self.counts.reshape(-1)
        index = flat.nonzero().reshape(-1)
        return {"count_index": index.cpu(), "count_value": flat[index].cpu()}

    def set_extra_state(self, state: Any) -> None:
        flat = self.counts.reshape(-1)
        flat.zero_()
        flat[state["count_index"].to(self.device)] = state["count_value"].to(self.device)
