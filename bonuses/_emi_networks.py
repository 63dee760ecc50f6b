"""Building blocks of EMI (Kim et al., "EMI: Exploration with Mutual Information", ICML 2019).

Network shapes follow the authors' released code (github snu-mllab/EMI,
``examples/trpo_emi_{mujoco,atari}.py``); see /shared/reference/emi.md. Every layer is
Xavier-uniform with zero biases, as in rllab's TF layers the released code builds on.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from bonuses._encoders import ConvSpec, conv_trunk, mlp

#: The released code's Atari state branch: conv 16 8x8/4 then 32 4x4/2, VALID padding.
EMI_CONV: tuple[ConvSpec, ...] = ((16, 8, 4, 0), (32, 4, 2, 0))


def xavier_(module: nn.Module) -> nn.Module:
    """Xavier-uniform weights and zero biases for every linear and conv layer in ``module``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


def state_trunk(kind: str, input_shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    """The state branch shared in shape (not in weights) by phi and the error model.

    ``vector``: in -> 64 -> 32, ReLU after each. ``image`` (one frame, 1 x H x W):
    conv16 8x8/4 -> conv32 4x4/2, ReLU, VALID padding, flattened. A symbolic grid view,
    which the release never ran, gets the shared factory's grid conv (RIDE's layers, with
    ReLU here where RIDE has ELU; `bonuses._encoders.conv_trunk`), its cells scaled by the
    Box's range to [-1, 1] as a frame is (`image_scale`: x / 5 - 1 on MiniGrid's 0-10 codes).
    Returns (module, width).
    """
    if kind == "image":
        return conv_trunk(input_shape, EMI_CONV)
    trunk = nn.Sequential(nn.Linear(input_shape[0], 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
    return trunk, 32


def state_embedding(kind: str, input_shape: tuple[int, ...], dim: int) -> nn.Module:
    """phi(s): vector obs -> 64 -> 32 -> d; image -> conv trunk -> FC256 -> d (linear out)."""
    trunk, width = state_trunk(kind, input_shape)
    head = mlp(width, (256,), dim) if kind == "image" else nn.Linear(width, dim)
    return xavier_(nn.Sequential(trunk, head))


class ErrorModel(nn.Module):
    """e(s, a): its own state branch, one Linear(|A|, |A|) on the action, then FC256 -> d."""

    def __init__(self, kind: str, input_shape: tuple[int, ...], action_dim: int, dim: int) -> None:
        super().__init__()
        self.state, width = state_trunk(kind, input_shape)
        self.action = nn.Linear(action_dim, action_dim)
        self.head = mlp(width + action_dim, (256,), dim)
        xavier_(self)

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.state(state), self.action(action)], dim=-1))


def critic(dim: int) -> nn.Module:
    """An MI critic T: three concatenated embeddings (3d) -> 64 -> 64 -> 1."""
    return xavier_(mlp(3 * dim, (64, 64), 1))


def jsd_mi_loss(net: nn.Module, joint: torch.Tensor, marginal: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon MI estimator loss (Hjelm et al. 2019, DIM), minimised by both the
    critic and the embeddings: mean softplus(-T(joint)) + mean softplus(T(marginal)).
    Both sample sets go through the critic in one pass."""
    t_joint, t_marginal = net(torch.cat([joint, marginal])).split(len(joint))
    return F.softplus(-t_joint).mean() + F.softplus(t_marginal).mean()


def gaussian_kl_to_standard(x: torch.Tensor, min_eig: float = 1e-6) -> torch.Tensor:
    """KL(N(mu, Sigma) || N(0, I)) for the batch mean and sample covariance (B - 1) of x.

    0.5 * (tr Sigma + ||mu||^2 - d - log det Sigma), with log det taken over eigenvalues
    clamped at ``min_eig`` so that a rank-deficient batch gives a finite value. Gradients
    flow through mean and covariance, as in the released code.
    """
    b, d = x.shape
    mu = x.mean(0)
    centred = x - mu
    sigma = centred.T @ centred / (b - 1)
    eig = torch.linalg.eigvalsh(sigma).clamp(min=min_eig)
    return 0.5 * (torch.diagonal(sigma).sum() + mu.square().sum() - d - eig.log().sum())


def kernel_similarity(
    queries: torch.Tensor, pool: torch.Tensor, bandwidth: float, chunk: int = 2048
) -> torch.Tensor:
    """mean_j exp(-||q_i - p_j||^2 / (2 h^2)) for every query row i, the released code's
    Gaussian kernel. Queries go in chunks so memory stays at chunk x |pool| floats."""
    scale = -1.0 / (2.0 * bandwidth**2)
    pool_sq = pool.square().sum(1)
    out = []
    for start in range(0, queries.shape[0], chunk):
        q = queries[start : start + chunk]
        sq = torch.addmm(pool_sq.unsqueeze(0), q, pool.T, alpha=-2.0)
        sq.add_(q.square().sum(1, keepdim=True)).clamp_(min=0.0)
        out.append(sq.mul_(scale).exp_().mean(1))
    return torch.cat(out) if out else queries.new_zeros(0)


def self_similarity(pool: torch.Tensor, bandwidth: float, chunk: int = 2048) -> torch.Tensor:
    """`kernel_similarity(pool, pool, ...)` at half the cost: the kernel matrix is symmetric,
    so each off-diagonal block is computed once and added to both its rows and its columns."""
    n, scale = pool.shape[0], -1.0 / (2.0 * bandwidth**2)
    sq_norm = pool.square().sum(1)
    sums = pool.new_zeros(n)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        q, cols = pool[start:stop], pool[start:]
        sq = torch.addmm(sq_norm[start:].unsqueeze(0), q, cols.T, alpha=-2.0)
        block = sq.add_(sq_norm[start:stop].unsqueeze(1)).clamp_(min=0.0).mul_(scale).exp_()
        sums[start:stop] += block.sum(1)
        sums[stop:] += block[:, stop - start :].sum(0)
    return sums / max(n, 1)


def image_scale(low: float, high: float) -> tuple[float, float]:
    """(a, b) with a * x + b mapping [low, high] onto [-1, 1] (uint8 frames: x / 127.5 - 1)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        low, high = 0.0, 255.0
    return 2.0 / (high - low), -1.0 - 2.0 * low / (high - low)
