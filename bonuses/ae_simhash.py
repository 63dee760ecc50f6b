"""Counts over learned hash codes (Tang et al. 2017, "#Exploration: A Study of Count-Based
Exploration for Deep Reinforcement Learning", NeurIPS, sec. 2.3 "Learned hash codes").

An autoencoder with a K-unit sigmoid code layer is trained to reconstruct the latest frame;
uniform noise U(-a, a) added to the code in training pushes the sigmoid units to saturate,
and a penalty pulls them to 0 or 1. A frame's code is rounded to binary, SimHash reduces it
to k bits (``sgn(A b)``) and the bonus is ``beta / sqrt(n(code))``. The loss (paper eq. 3):
``-(1/N) sum_n [log p(s_n) - (lambda / K) sum_i min((1 - b_i(s_n))^2, b_i(s_n)^2)]`` with
p(s) a per-pixel softmax over intensity classes.

Defaults from the authors' sandbox (florensacc/rllab-curriculum at 8728e61,
``sandbox/rein/algos/embedding_theano2/launch_trpo_atari_img.py``; the released
hrtang/hash_exploration has only a stub): 52 x 52 input, the network of
`bonuses._frame_autoencoder` (3 convs of 96 6x6 filters, dense 1024, a 512-unit code, a
mirrored decoder ending in 64 intensity classes per pixel) with batch normalisation; Adam
lr 3e-4, minibatches of 32, retrained every 5 iterations; SimHash to 64 bits; beta = 0.01.
lambda = 10 as in the sandbox's ``launch_trpo_plus_lsh_atari_ram.py`` (the image launcher
uses 1). Other sandbox launchers use other values (SimHash k = 512 or 32, beta = 0.001,
lambda = 1): all are fields here. Which launcher produced the paper's table is not known.

Choices here:

- Counting reuses `bonuses.count.Count` on the codes (its count-min sketch, the in-batch
  rule n = committed + occurrences in this batch). The counted state is s_t, as Tang et
  al.'s code (hrtang/hash_exploration ``ale_hashing_bonus_evaluator.py``) and the suite's
  `count` count it (issue 29; ``counted_state = "next_obs"``, s_{t+1}, was the former choice).
- Codes that tell frames apart (issue 29): with batch normalisation (``batch_norm``, as the
  sandbox; see `bonuses._frame_autoencoder`), codes counted by its running statistics
  (``conv_bnn_count.py`` compiles ``discrete_emb`` with ``deterministic=True``, no noise).
  Without it the code layer's pre-activations drift together to one saturated value within
  about 20 Adam steps, whatever the frame: one code for two families of frames, an unseen
  family scored as the seen one (ratio 1.00; with it 10.1 to 10.9 after 40 updates at the
  defaults, ``tests/test_ae_simhash.py``). ``nll_per_pixel``: ``ConvBNNVIME.loss`` divides the
  log-likelihood by the pixels and adds ``lambda * mean_i min(b_i^2, (1 - b_i)^2)``, i.e.
  eq. 3 with lambda times the 2,704 pixels, the scale lambda = 10 was set on (alone it
  does not stop the collapse).
- Training, as released in kind (issue 29): every frame counted also enters a replay pool
  (the sandbox's ``replay_pool`` of up to 5M frames); every ``train_every`` updates the
  autoencoder takes ``epochs`` x (rollout frames / ``batch_size``) Adam steps on minibatches
  of 32 drawn uniformly from the pool. The pool holds ``pool_size`` = 200,000 frames here
  (52 x 52 bytes each, 541 MB at most per run, allocated as it fills), not 5M. The
  sandbox's trainer (``parallel_trainer.py`` at 8728e61) instead steps until the mean loss
  of 100 steps stops falling for 7 blocks in a row (at least 700 steps); here the number
  of steps is the former one-pass schedule's. ``pool_size = 0`` trains on the rollout only.
- Also left out: label smoothing 0.003 of the targets; the sandbox's key (the 512 rounded
  bits reduced to 64 by a majority over groups of 8, hashed without a random projection,
  the action appended at 8728e61), for the paper's SimHash of the code.
- Images only, as in the paper, which defines the autoencoder for 52 x 52 Atari frames:
  frame stacks whose frames are at least ``image_size`` pixels high and wide
  (area-downsampled to it). Vector and discrete observations are refused (use ``count``,
  the paper's SimHash on raw states); so are symbolic grids such as MiniGrid's 7 x 7 view:
  the paper gives no autoencoder for them and the 6x6 stride-2 encoder cannot take them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from bonuses._encoders import train_minibatches
from bonuses._frame_autoencoder import FRAME_SIZE, FramePool, frame_decoder, frame_encoder
from bonuses.base import BonusConfig, IntrinsicBonus, Transitions, UnsupportedSpaceError
from bonuses.count import Count, CountConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class AESimHashConfig(BonusConfig):
    """AE-SimHash hyper-parameters; defaults from Tang et al. 2017 and the authors' sandbox."""

    #: Bonus coefficient beta in beta / sqrt(n) (sandbox launcher: eta 0.01).
    beta: float = 0.01
    #: SimHash bits k applied to the binary code (sandbox launcher: dim_key 64).
    k: int = 64
    #: Units K of the sigmoid code layer (sandbox launcher: discrete_embedding 512).
    code_dim: int = 512
    #: Half-width a of the U(-a, a) noise added to the code in training (paper: 0.3).
    noise: float = 0.3
    #: Weight lambda of the binarisation penalty (sandbox RAM launcher: 10).
    binary_penalty: float = 10.0
    #: Intensity classes of the per-pixel softmax (sandbox launcher: 64).
    num_classes: int = 64
    #: Frames are area-downsampled to image_size x image_size (paper: 52).
    image_size: int = 52
    #: Adam learning rate of the autoencoder (sandbox launcher: 3e-4).
    learning_rate: float = 3e-4
    #: Autoencoder minibatch size (sandbox launcher: 32).
    batch_size: int = 32
    #: Train the autoencoder on every this many updates (sandbox: train_model_freq 5).
    train_every: int = 5
    #: Steps per training, in passes' worth of the rollout's frames (see the module doc).
    epochs: int = 1
    #: Frames in the replay pool the autoencoder trains on (sandbox: 5M; 0: the rollout only).
    pool_size: int = 200_000
    #: The counted state: "obs" (s_t, Tang et al.'s code) or "next_obs" (s_t+1).
    counted_state: str = "obs"
    #: Batch normalisation in the autoencoder, codes from running statistics (sandbox: on).
    batch_norm: bool = True
    #: NLL averaged over pixels as the sandbox's loss (False: summed, eq. 3 as printed).
    nll_per_pixel: bool = True
    #: What a config.json written before a field existed ran with (issue 29's fields).
    legacy_fields: ClassVar[Mapping[str, Any]] = {
        "pool_size": 0,
        "counted_state": "next_obs",
        "batch_norm": False,
        "nll_per_pixel": False,
    }
    #: Counter rows x columns of the count-min sketch (as `count`: 6 x 999,983).
    depth: int = 6
    #: Counters per sketch row (as `count`).
    table_size: int = 999_983

    def __post_init__(self) -> None:
        for name in ("k", "code_dim", "num_classes", "batch_size", "train_every", "epochs"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"ae_simhash.{name} must be an integer >= 1, got {value!r}")
        if not 2 <= self.num_classes <= 256:
            raise ValueError(f"ae_simhash.num_classes must be in [2, 256], got {self.num_classes}")
        if self.image_size != FRAME_SIZE:
            raise ValueError(
                f"ae_simhash.image_size must be 52 (the paper's encoder), got {self.image_size}"
            )
        if self.batch_norm and self.batch_size < 2:
            raise ValueError(
                f"ae_simhash.batch_size must be >= 2 with batch_norm, got {self.batch_size}"
            )
        if self.pool_size < 0 or self.counted_state not in ("obs", "next_obs"):
            raise ValueError(
                "ae_simhash.pool_size must be >= 0 and counted_state 'obs' or 'next_obs', got "
                f"{self.pool_size!r}, {self.counted_state!r}"
            )
        for name in ("beta", "learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ae_simhash.{name} must be > 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.noise < 0.5 or self.binary_penalty < 0:
            raise ValueError("ae_simhash.noise must be in [0, 0.5) and binary_penalty >= 0")
        CountConfig(beta=self.beta, k=self.k, table_size=self.table_size, depth=self.depth)


def _check_frames(observation_space: gym.Space, size: int) -> None:
    shape: tuple[int, ...] = tuple(getattr(observation_space, "shape", None) or ())
    if len(shape) == 3 and min(shape[1], shape[2]) < size:
        raise UnsupportedSpaceError(
            f"ae_simhash needs frames of at least {size}x{size} pixels, got observations "
            f"of shape {shape}; symbolic grids are not supported (use count or re3)"
        )


class AESimHash(IntrinsicBonus):
    """beta / sqrt(n) over SimHash codes of an autoencoder's binary code of the frame."""

    config_cls = AESimHashConfig
    default_normalizer = "none"
    observation_kinds: ClassVar[frozenset[str]] = frozenset({"image"})
    description = "AE-SimHash: beta/sqrt(n) over SimHash of a learned binary autoencoder code."
    reference = "Tang et al. 2017, #Exploration (sec. 2.3, learned hash codes)"

    config: AESimHashConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        cfg = self.config
        _check_frames(observation_space, cfg.image_size)
        self.encoder = frame_encoder(cfg.code_dim, cfg.batch_norm)
        self.decoder = frame_decoder(cfg.code_dim, cfg.num_classes, cfg.batch_norm)
        code_space = gym.spaces.Box(0.0, 1.0, (cfg.code_dim,), np.float32)
        self.counter = Count(
            code_space,
            action_space,
            CountConfig(beta=cfg.beta, k=cfg.k, table_size=cfg.table_size, depth=cfg.depth),
            device,
        )
        self.num_updates = 0
        self.pool = FramePool(cfg.pool_size, (1, cfg.image_size, cfg.image_size))
        self.to(self.device)
        self.optimizer = torch.optim.Adam(
            [*self.encoder.parameters(), *self.decoder.parameters()], lr=cfg.learning_rate
        )
        self.eval()  # codes from running statistics; `update` trains in batch mode

    @classmethod
    def default_config(cls, observation_space: gym.Space, action_space: gym.Space) -> BonusConfig:
        """The defaults, after refusing frames the encoder cannot take (so that a run is
        refused while its config is resolved, before anything is written)."""
        _check_frames(observation_space, AESimHashConfig.image_size)
        return cls.config_cls()

    def frames(self, obs: torch.Tensor) -> torch.Tensor:
        """The latest frame of each flat-batch observation as (B, 1, 52, 52) uint8 levels."""
        frame = obs[:, -1:].to(self.device).float()
        if obs.dtype != torch.uint8:  # float frames in [0, 1]
            frame = frame * 255.0
        size = self.config.image_size
        frame = nn.functional.adaptive_avg_pool2d(frame, (size, size))
        return frame.round().clamp(0, 255).to(torch.uint8)

    def code(self, frames: torch.Tensor) -> torch.Tensor:
        """The code layer's sigmoid output, without noise (what is rounded and counted, in
        eval mode: batch normalisation by its running statistics)."""
        return self.encoder(frames.float() / 255.0)

    def add_noise(self, code: torch.Tensor) -> torch.Tensor:
        """The code with U(-a, a) noise, as the decoder sees it in training (paper sec. 2.3)."""
        return code + torch.empty_like(code).uniform_(-self.config.noise, self.config.noise)

    @torch.no_grad()
    def binary_codes(self, obs: torch.Tensor) -> torch.Tensor:
        """Rounded codes in {0, 1} (no noise, eval mode), (B, K): what is hashed and counted."""
        was_training = self.training
        self.eval()
        codes = self.code(self.frames(obs)).round()
        self.train(was_training)
        return codes

    def loss(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Paper eq. 3 (the per-pixel negative log-likelihood summed over pixels, divided by
        their number with ``nll_per_pixel``, plus the binarisation penalty) in the mode the
        networks are in, and the penalty's mean."""
        cfg = self.config
        clean = self.code(frames)
        logits = self.decoder(self.add_noise(clean))
        target = (frames[:, 0].long() * cfg.num_classes) // 256  # intensity class per pixel
        nll = nn.functional.cross_entropy(logits, target, reduction="none").sum((1, 2))
        if cfg.nll_per_pixel:
            nll = nll / target[0].numel()
        penalty = torch.minimum((1 - clean) ** 2, clean**2).mean(1) * cfg.binary_penalty
        return (nll + penalty).mean(), penalty.mean()

    def _counted(self, batch: Transitions) -> torch.Tensor:
        flat = batch.flat()
        return flat.obs if self.config.counted_state == "obs" else flat.next_obs

    def _training_frames(self, frames: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(frames to draw minibatches from, steps): the pool, or the rollout itself."""
        cfg = self.config
        steps = cfg.epochs * max(1, frames.shape[0] // cfg.batch_size)
        if cfg.pool_size == 0:
            return frames, steps
        return self.pool.sample(steps * cfg.batch_size).to(self.device), steps

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        n = self.counter.counts_of(self.binary_codes(self._counted(batch))).double()
        bonus = self.config.beta / n.sqrt()
        return bonus.reshape(batch.ext_rewards.shape).float().to(self.device)

    def update(self, batch: Transitions) -> dict[str, float]:
        cfg = self.config
        frames = self.frames(self._counted(batch))
        self.eval()
        with torch.no_grad():  # one encoder pass gives the counted codes and the saturation
            code = self.code(frames)
        metrics = self.counter.commit(code.round())
        saturated = ((code < 0.1) | (code > 0.9)).float().mean()
        trains = self.num_updates % cfg.train_every == 0
        # batch statistics need two frames: a one-frame rollout trains only from a pool
        trains_now = trains and (cfg.pool_size > 0 or frames.shape[0] > 1 or not cfg.batch_norm)
        self.num_updates += 1
        trained = {"ae_loss": 0.0, "binary_penalty": 0.0}
        if cfg.pool_size:
            self.pool.add(frames)
        if trains_now:
            sample, steps = self._training_frames(frames)

            def loss(idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
                total, penalty = self.loss(sample[idx])
                return total, {"ae_loss": total, "binary_penalty": penalty}

            epochs, chunks = (1, steps) if cfg.pool_size else (cfg.epochs, steps // cfg.epochs)
            self.train()
            trained = train_minibatches(
                self.optimizer, sample.shape[0], epochs, chunks, loss, device=self.device
            )
            self.eval()
        return {
            **metrics,
            "trained": float(trains_now),
            **trained,
            "code_saturation": float(saturated),  # before this update's training
        }

    def get_extra_state(self) -> Any:
        return {**super().get_extra_state(), "num_updates": self.num_updates, **self.pool.state()}

    def set_extra_state(self, state: Any) -> None:
        super().set_extra_state(state)
        self.num_updates = int(state["num_updates"])
        if "pool" in state:
            self.pool.load(state)
