"""EMI's training loss and diversity reward (Kim et al., "EMI: Exploration with Mutual
Information", ICML 2019), as plain functions of embeddings the bonus has already computed.

Weights and the diversity reward follow the authors' released code (github snu-mllab/EMI);
see /shared/reference/emi.md.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from bonuses._emi_networks import (
    gaussian_kl_to_standard,
    jsd_mi_loss,
    kernel_similarity,
    self_similarity,
)
from bonuses._kernel_sums import grid_kernel_means


def emi_loss_terms(
    critic_action: nn.Module,
    critic_state: nn.Module,
    phi_s: torch.Tensor,
    phi_s2: torch.Tensor,
    psi: torch.Tensor,
    e: torch.Tensor,
    residual: torch.Tensor,
    *,
    lambda_err: float,
    mi_weight: float,
    kl_weight: float,
) -> dict[str, torch.Tensor]:
    """The joint EMI objective (Kim et al. 2019) on one minibatch, and its parts, from the
    critics T_a, T_s and the embeddings phi(s), phi(s'), psi(a), e(s, a) and the residual
    phi(s') - phi(s) - psi(a) - e(s, a).

    loss = mean ||residual||^2 + lambda_err * mean ||e||^2
    + mi_weight * (JSD-MI loss of T_a + JSD-MI loss of T_s) + kl_weight * KL(psi || N(0, I)).
    The first half of the minibatch supplies the joint samples; the second half's psi
    (for T_a) or phi(s') (for T_s) is paired with the first half's rest as the marginal.
    ``loss_total`` keeps its graph; every other entry is detached, for logging.
    """
    half = phi_s.shape[0] // 2
    j, m = slice(0, half), slice(half, 2 * half)
    mi_action = jsd_mi_loss(
        critic_action,
        torch.cat([psi[j], phi_s2[j], phi_s[j]], 1),
        torch.cat([psi[m], phi_s2[j], phi_s[j]], 1),
    )
    mi_state = jsd_mi_loss(
        critic_state,
        torch.cat([phi_s2[j], phi_s[j], psi[j]], 1),
        torch.cat([phi_s2[m], phi_s[j], psi[j]], 1),
    )
    res = residual.square().sum(1).mean()
    err = e.square().sum(1).mean()
    kl = gaussian_kl_to_standard(psi)
    loss = res + lambda_err * err + mi_weight * (mi_action + mi_state) + kl_weight * kl
    return {
        "loss_total": loss,
        "loss_residual": res.detach(),
        "loss_error": err.detach(),
        "loss_mi_action": mi_action.detach(),
        "loss_mi_state": mi_state.detach(),
        "loss_kl": kl.detach(),
        "phi_norm": phi_s.detach().norm(dim=1).mean(),
        "psi_norm": psi.detach().norm(dim=1).mean(),
        "error_norm": e.detach().norm(dim=1).mean(),
    }


@torch.no_grad()
def diversity_reward(
    obs: torch.Tensor,
    next_obs: torch.Tensor,
    n_env: int,
    embed: Callable[[torch.Tensor], torch.Tensor],
    *,
    bandwidth: float,
    coef: float,
    chunk: int,
    kernel: str = "grid",
    tol: float = 1e-6,
) -> torch.Tensor:
    """coef * [K(phi(s_t)) - K(phi(s_t+1))], K(x) = mean Gaussian kernel from phi(x) to phi
    of every batch observation: the reward of Kim et al. 2019's released MuJoCo code.

    ``obs`` and ``next_obs`` are time-major flattened rows (T * n_env, ...), ``embed`` maps
    such rows to phi. next_obs[t] is usually obs[t + 1] (same env, no episode end): those
    rows reuse K(obs[t + 1]), which changes nothing. ``kernel`` "grid" computes K on a grid
    to within ``tol`` per value (`bonuses._kernel_sums`; the reward then within
    2 x coef x tol), falling back to the dense kernel where the grid would cost more;
    "dense" is the exact pool x query reference. Returns one reward per row.
    """
    rows = len(obs)
    pool = embed(obs)
    shifted = torch.zeros(rows, dtype=torch.bool, device=obs.device)
    same = (next_obs[:-n_env] == obs[n_env:]).reshape(rows - n_env, -1).all(1)
    shifted[: rows - n_env] = same
    fresh = embed(next_obs[~shifted])
    fast = grid_kernel_means(pool, [pool, fresh], bandwidth, tol) if kernel == "grid" else None
    if fast is not None:
        k_obs, k_fresh = fast
    else:
        k_obs = self_similarity(pool, bandwidth, chunk)
        k_fresh = kernel_similarity(fresh, pool, bandwidth, chunk)
    same, shifted = same.to(k_obs.device), shifted.to(k_obs.device)
    k_next = torch.empty_like(k_obs)
    k_next[: rows - n_env][same] = k_obs[n_env:][same]
    k_next[~shifted] = k_fresh
    return coef * (k_obs - k_next)
