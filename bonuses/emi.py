"""EMI: Exploration with Mutual Information (Kim, Kim, Jeong, Levine, Song; ICML 2019,
arXiv 1810.01176), checked against the authors' released code (github snu-mllab/EMI).

EMI learns a state embedding phi and an action embedding psi with linear dynamics,
phi(s') ~= phi(s) + psi(a) + e(s, a), where the error model e is kept small by a heavy
penalty, while both embeddings maximise I([phi(s), psi(a)]; phi(s')) and
I([phi(s), phi(s')]; psi(a)) (Jensen-Shannon estimators). Everything is trained jointly by
one Adam on the current rollout only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.nn import functional as F

from bonuses._emi_losses import diversity_reward, emi_loss_terms
from bonuses._emi_networks import ErrorModel, critic, image_scale, state_embedding, xavier_
from bonuses._encoders import frame, frame_shape, mlp
from bonuses.base import (
    BonusConfig,
    IntrinsicBonus,
    Recipe,
    Transitions,
    UnsupportedSpaceError,
    is_grid,
    observation_kind,
)

VARIANTS = ("residual", "diversity")
KERNELS = ("grid", "dense")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EMIConfig(BonusConfig):
    """EMI hyper-parameters; the class defaults are the MuJoCo ones.

    `EMI.default_config` picks the Atari values (lambda_err 1e2, mi_weight 0.1, kl_weight
    0.5, reward "residual") for image observations. From the paper text: d = 2, Adam 1e-3,
    the residual reward. From the released code rather than the paper text: lambda_err,
    mi_weight, kl_weight, 3 epochs of 512-sample minibatches, and the ``diversity`` reward
    (bandwidth 5, coefficient 0.1) that the released MuJoCo scripts use instead of the
    residual reward. Batches smaller than ``minibatch_size`` train on one minibatch of the
    whole batch per epoch rather than on nothing (not covered by the released code).
    """

    #: Embedding dimension d of phi and psi (paper: 2 on every task).
    embedding_dim: int = 2
    #: Adam learning rate over all EMI networks (paper: 1e-3).
    lr: float = 1e-3
    #: Passes over the current rollout per iteration (released code: 3).
    epochs: int = 3
    #: Minibatch size; the last partial minibatch is dropped (released code: 512).
    minibatch_size: int = 512
    #: Weight of the error penalty mean ||e||^2 (released code: 1e4 MuJoCo, 1e2 Atari).
    lambda_err: float = 1e4
    #: Weight of each JSD mutual-information loss (released code: 0.05 MuJoCo, 0.1 Atari).
    mi_weight: float = 0.05
    #: Weight of KL(batch Gaussian of psi || N(0, I)) (released code: 0.1 MuJoCo, 0.5 Atari).
    kl_weight: float = 0.1
    #: Intrinsic reward: "residual" (paper, Atari) or "diversity" (released MuJoCo code).
    reward: str = "diversity"
    #: Scale eta of the residual reward eta * ||phi(s') - phi(s) - psi(a) - e||^2 (1e-3).
    eta: float = 1e-3
    #: Coefficient of the diversity reward, which then lies in [-coef, coef] (0.1).
    diversity_coef: float = 0.1
    #: Gaussian kernel bandwidth h, k = exp(-||x - y||^2 / (2 h^2)) (released code: 5).
    bandwidth: float = 5.0
    #: Diversity kernel sums: "grid" (to within diversity_tol, `bonuses._kernel_sums`; the
    #: dense kernel where a grid would cost more) or "dense" (the exact reference; the
    #: released code's computation, quadratic in the batch).
    diversity_kernel: str = "grid"
    #: Bound on the absolute error of each grid kernel mean (reward: 2 x diversity_coef x it).
    diversity_tol: float = 1e-6
    #: Rows per forward / kernel chunk when scoring; bounds memory, not the result.
    eval_chunk_size: int = 2048

    def __post_init__(self) -> None:
        for name in ("embedding_dim", "epochs", "minibatch_size", "eval_chunk_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"bonus.{name} must be >= 1, got {getattr(self, name)}")
        if self.minibatch_size < 2:
            raise ValueError(f"bonus.minibatch_size must be >= 2, got {self.minibatch_size}")
        for name in ("lr", "eta", "diversity_coef", "bandwidth"):
            if not getattr(self, name) > 0:
                raise ValueError(f"bonus.{name} must be > 0, got {getattr(self, name)}")
        for name in ("lambda_err", "mi_weight", "kl_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"bonus.{name} must be >= 0, got {getattr(self, name)}")
        if self.diversity_kernel not in KERNELS:
            raise ValueError(
                f"bonus.diversity_kernel must be one of {KERNELS}, got {self.diversity_kernel!r}"
            )
        if not 0 < self.diversity_tol < 1e-2:
            raise ValueError(f"bonus.diversity_tol must be in (0, 0.01), got {self.diversity_tol}")
        if self.reward not in VARIANTS:
            raise ValueError(f"bonus.reward must be one of {VARIANTS}, got {self.reward!r}")


ATARI = {"lambda_err": 1e2, "mi_weight": 0.1, "kl_weight": 0.5, "reward": "residual"}


class EMI(IntrinsicBonus):
    """EMI (Kim et al. 2019): prediction error, or embedding diversity, in a learned linear
    representation space. Image stacks are embedded from the newest frame only."""

    config_cls = EMIConfig
    description = "EMI: state/action embeddings with linear dynamics and MI objectives."
    reference = "Kim et al., EMI: Exploration with Mutual Information, ICML 2019"
    recipes = {
        "*": Recipe(
            source="none: the EMI paper's TRPO settings are agent settings, the presets "
            "emi-mujoco and emi-atari"
        ),
    }
    config: EMIConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: EMIConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        # The diversity reward scores with the updated model; the residual one before.
        self.compute_after_update = self.config.reward == "diversity"
        d, shape = self.config.embedding_dim, self._input_shape()
        if self.obs_kind == "image":
            box: Any = observation_space
            # smaller frames leave nothing for conv 8x8/4 + 4x4/2; a symbolic grid gets the
            # grid conv of the shared encoder factory instead
            if min(box.shape[1:]) < 20 and not is_grid(box.shape):
                raise UnsupportedSpaceError(
                    f"EMI expects channel-first frame stacks (C, H, W) with H, W >= 20, got "
                    f"{box.shape}; wrap raw (H, W, RGB) Atari envs with the Atari wrappers"
                )
            self._scale = image_scale(float(np.min(box.low)), float(np.max(box.high)))
        self.phi = state_embedding(self.obs_kind, shape, d)
        self.psi = xavier_(mlp(self.action_dim, (64,), d))
        self.error = ErrorModel(self.obs_kind, shape, self.action_dim, d)
        self.critic_action = critic(d)  # T_a([psi, phi(s'), phi(s)])
        self.critic_state = critic(d)  # T_s([phi(s'), phi(s), psi])
        self.to(self.device)
        # fused: the same Adam update, one kernel per step instead of a dozen per parameter
        self.optimizer = torch.optim.Adam(self.parameters(), lr=self.config.lr, fused=True)

    @classmethod
    def default_config(cls, observation_space: gym.Space, action_space: gym.Space) -> EMIConfig:
        if observation_kind(observation_space) == "image":
            return EMIConfig(**ATARI)  # type: ignore[arg-type]
        return EMIConfig()

    # inputs ---------------------------------------------------------------------------

    def _input_shape(self) -> tuple[int, ...]:
        space: Any = self.observation_space
        if self.obs_kind == "discrete":
            return (self.num_states,)
        if self.obs_kind == "image":
            return frame_shape(space.shape)
        return tuple(space.shape)

    def _compact(self, obs: torch.Tensor) -> torch.Tensor:
        """The part of an observation EMI sees, still in its storage dtype (newest frame)."""
        return frame(obs) if self.obs_kind == "image" else obs

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        if self.obs_kind == "discrete":
            return F.one_hot(x.long().reshape(-1), self.num_states).float()
        if self.obs_kind == "image":
            return x.float() * self._scale[0] + self._scale[1]
        return x.float()

    def _embed(
        self, s: torch.Tensor, a: torch.Tensor, s2: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        # phi(s) and phi(s') in one pass over both (half the layer calls per minibatch).
        n, a = s.shape[0], a.to(self.device)
        both = self._features(torch.cat([s, s2]))
        phi_s, phi_s2 = self.phi(both).split(n)
        psi, e = self.psi(a), self.error(both[:n], a)
        return phi_s, phi_s2, psi, e, phi_s2 - phi_s - psi - e

    # contract -------------------------------------------------------------------------

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        cfg, shape = self.config, batch.ext_rewards.shape
        if cfg.reward == "residual":
            return self._residual_errors(batch.flat()).mul(cfg.eta).reshape(shape)
        obs, nxt = (self._compact(x.reshape(-1, *x.shape[2:])) for x in (batch.obs, batch.next_obs))
        reward = diversity_reward(
            obs,
            nxt,
            shape[1],
            self._phi,
            bandwidth=cfg.bandwidth,
            coef=cfg.diversity_coef,
            chunk=cfg.eval_chunk_size,
            kernel=cfg.diversity_kernel,
            tol=cfg.diversity_tol,
        )
        return reward.reshape(shape).float()

    def update(self, batch: Transitions) -> dict[str, float]:
        """3 epochs of Adam on the joint loss over this rollout. Metrics: each unweighted loss
        term and mean embedding norms over the last epoch; ``bonus_mean`` (residual variant:
        the mean reward, scored before training; the diversity mean is the harness's
        ``int_reward_raw_mean``, not recomputed here because the kernel is quadratic)."""
        flat = batch.flat()
        n, cfg = flat.obs.shape[0], self.config
        if n < 2:
            raise ValueError(f"EMI needs at least 2 transitions per update, got {n}")
        res_before = self._residual_errors(flat).mean() if cfg.reward == "residual" else None
        s, s2, a = (
            self._compact(flat.obs),
            self._compact(flat.next_obs),
            self.action_features(flat.actions),
        )
        size = min(cfg.minibatch_size, n)  # small batches: one minibatch of everything
        logged: dict[str, list[torch.Tensor]] = {}
        for _ in range(cfg.epochs):
            logged = {}  # report the last epoch, i.e. the model after (almost) all steps
            perm = torch.randperm(n, device=self.device)
            for start in range(0, n - size + 1, size):
                idx = perm[start : start + size]
                terms = self.train_step(s[idx], a[idx], s2[idx])
                for key, value in terms.items():
                    logged.setdefault(key, []).append(value.detach())
        # One device transfer per update, not one per term and minibatch; the Python-float
        # sums run in the same order as the per-step ones did.
        steps = n // size
        metrics = {key: sum(torch.stack(v).tolist()) / steps for key, v in logged.items()}
        if res_before is not None:
            metrics["bonus_mean"] = float(res_before) * cfg.eta
        return metrics

    def train_step(
        self, s: torch.Tensor, a: torch.Tensor, s2: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """One Adam step on the joint loss of one minibatch (compact observations, action
        features); returns the loss terms (`emi_loss_terms`)."""
        cfg = self.config
        terms = emi_loss_terms(
            self.critic_action,
            self.critic_state,
            *self._embed(s, a, s2),
            lambda_err=cfg.lambda_err,
            mi_weight=cfg.mi_weight,
            kl_weight=cfg.kl_weight,
        )
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss_total"].backward()
        self.optimizer.step()
        return terms

    # rewards --------------------------------------------------------------------------

    @torch.no_grad()
    def _residual_errors(self, flat: Transitions) -> torch.Tensor:
        """||phi(s') - phi(s) - psi(a) - e(s, a)||^2 per transition, in chunks."""
        s, s2 = self._compact(flat.obs), self._compact(flat.next_obs)
        a, step = self.action_features(flat.actions), self.config.eval_chunk_size
        out = [
            self._embed(s[i : i + step], a[i : i + step], s2[i : i + step])[-1].square().sum(1)
            for i in range(0, s.shape[0], step)
        ]
        return torch.cat(out).float()

    @torch.no_grad()
    def _phi(self, x: torch.Tensor) -> torch.Tensor:
        step = self.config.eval_chunk_size
        return torch.cat(
            [self.phi(self._features(x[i : i + step])) for i in range(0, len(x), step)]
        )
