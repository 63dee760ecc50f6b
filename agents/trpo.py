"""TRPO (Schulman et al. 2015, "Trust Region Policy Optimization"), the agent of the EMI paper
(Kim et al. 2019), on the shared on-policy loop.

One policy step per batch: the natural-gradient direction x = F^-1 g by conjugate gradient on
Fisher-vector products (the Hessian of the mean KL by double backprop, never a dense matrix),
scaled so the quadratic model of the KL equals ``max_kl``, then a backtracking line search that
accepts a step only if the measured mean KL(old || new) <= max_kl and the surrogate improved
(rllab's rule, which the EMI code uses); otherwise the old parameters are restored exactly.
The value function is a separate network fitted by Adam epochs on the returns, so the policy
step never moves it (no shared CNN trunk).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from agents.base import OnPolicyAgent
from agents.config import OnPolicyConfig, UpdateBatch
from agents.networks import Distribution


@dataclasses.dataclass(frozen=True, kw_only=True)
class TRPOConfig(OnPolicyConfig):
    """TRPO settings; defaults follow Schulman et al. 2015 (and its released code) where they
    apply. The EMI paper's numbers are the presets ``emi-mujoco`` and ``emi-atari``."""

    #: Steps per env per rollout; TRPO takes one step per batch, so batches exceed PPO's.
    num_steps: int = 256
    #: Trust-region radius delta: the bound on the mean KL(old || new) of an accepted step.
    max_kl: float = 0.01
    #: Conjugate-gradient iterations for F^-1 g.
    cg_iters: int = 10
    #: Damping added to the Fisher-vector product (F + damping I), for a well-posed CG.
    cg_damping: float = 0.1
    #: Step shrink factor per backtrack of the line search.
    backtrack_coef: float = 0.8
    #: Candidate steps tried by the line search (full step first) before rejecting.
    max_backtracks: int = 10
    #: Adam learning rate of the value function.
    vf_lr: float = 1e-3
    #: Passes of the value regression over each batch.
    vf_epochs: int = 5
    #: Transitions per value-regression minibatch.
    vf_minibatch_size: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.max_kl > 0:
            raise ValueError(f"agent.max_kl must be > 0, got {self.max_kl}")
        if self.cg_iters <= 0:
            raise ValueError(f"agent.cg_iters must be a positive integer, got {self.cg_iters}")
        if self.cg_damping < 0:
            raise ValueError(f"agent.cg_damping must be >= 0, got {self.cg_damping}")
        if not 0 < self.backtrack_coef < 1:
            raise ValueError(f"agent.backtrack_coef must be in (0, 1), got {self.backtrack_coef}")
        for name in ("max_backtracks", "vf_epochs", "vf_minibatch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"agent.{name} must be a positive integer, got {getattr(self, name)}"
                )
        if not self.vf_lr > 0:
            raise ValueError(f"agent.vf_lr must be > 0, got {self.vf_lr}")


def conjugate_gradient(
    avp: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    iters: int,
    residual_tol: float = 1e-10,
) -> torch.Tensor:
    """Approximately solve A x = b for symmetric positive-definite A given only x -> A x
    (Hestenes & Stiefel 1952; Schulman et al. 2015, Appendix C). Starts from x = 0."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = r.dot(r)
    for _ in range(iters):
        if rr <= residual_tol:
            break
        ap = avp(p)
        alpha = rr / p.dot(ap)
        x += alpha * p
        r -= alpha * ap
        rr_new = r.dot(r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def mean_kl(old: Distribution, new: Distribution) -> torch.Tensor:
    """Mean over the batch of KL(old || new)."""
    if type(old) is not type(new):
        raise TypeError(f"cannot compare {type(old).__name__} with {type(new).__name__}")
    return old.kl(new).mean()  # type: ignore[arg-type]


def _flat(params: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params]).clone()


@torch.no_grad()
def _assign(params: Sequence[torch.Tensor], flat: torch.Tensor) -> None:
    """Copy values into the parameters in place (bit-exact, storage unchanged)."""
    start = 0
    for p in params:
        p.copy_(flat[start : start + p.numel()].view_as(p))
        start += p.numel()


def fisher_vector_product(
    kl: torch.Tensor, params: Sequence[torch.Tensor], damping: float = 0.0
) -> Callable[[torch.Tensor], torch.Tensor]:
    """v -> (H + damping I) v with H the Hessian of ``kl`` w.r.t. ``params`` (flattened).

    ``kl`` must be the mean KL(old || new) with ``old`` detached, evaluated at new = old: its
    Hessian there is the Fisher information (Schulman et al. 2015, Appendix C.1). Two
    backward passes per product (Pearlmutter 1994); the gradient graph is built once.
    """
    grads = torch.autograd.grad(kl, list(params), create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])

    def fvp(v: torch.Tensor) -> torch.Tensor:
        hv = torch.autograd.grad(flat.dot(v), list(params), retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]) + damping * v

    return fvp


class TRPO(OnPolicyAgent):
    """Trust Region Policy Optimization; differs from the other agents only in `update`."""

    config_cls = TRPOConfig
    description = "TRPO, natural gradient with a KL trust region (Schulman et al. 2015)"
    # The policy step must leave V untouched and V's Adam steps must not move the policy.
    share_cnn_trunk = False
    config: TRPOConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        policy_ids = {id(p) for p in self.policy.parameters()}
        if any(id(p) in policy_ids for p in self.value.parameters()):
            raise ValueError(
                "TRPO needs separate policy and value networks (share_cnn_trunk=False)"
            )
        self.vf_optimizer = torch.optim.Adam(self.value.parameters(), lr=self.config.vf_lr)

    def update(self, batch: UpdateBatch) -> dict[str, float]:
        metrics = self.policy_step(batch)
        metrics["value_loss"] = self.fit_value(batch)
        return metrics

    def policy_step(self, batch: UpdateBatch) -> dict[str, float]:
        """One natural-gradient step inside the KL trust region, or none."""
        cfg = self.config
        params = [p for p in self.policy.parameters() if p.requires_grad]
        adv = self.normalized_advantages(batch.advantages)
        # One forward pass at the old parameters serves the surrogate's gradient and the KL
        # whose Hessian gives the Fisher-vector products. ``detach`` copies the log-std, which
        # the line search overwrites in place.
        current = self.policy(batch.obs)
        old = current.detach()
        old_logp = old.log_prob(batch.actions)
        entropy = old.entropy().mean().item()

        def surrogate(dist: Distribution) -> torch.Tensor:
            # Importance-weighted advantage; equals the policy gradient objective at old.
            return (torch.exp(dist.log_prob(batch.actions) - old_logp) * adv).mean()

        surr = surrogate(current)
        grads = torch.autograd.grad(surr, params, retain_graph=True)
        grad = torch.cat([g.reshape(-1) for g in grads])
        out = {
            "entropy": entropy,
            "surrogate": surr.item(),
            "grad_norm": grad.norm().item(),
            "accepted": 0.0,
            "kl": 0.0,
            "surrogate_improvement": 0.0,
            "line_search_steps": 0.0,
            "expected_improvement": 0.0,
        }
        if not torch.isfinite(grad).all() or grad.norm() == 0:
            return out  # nothing to improve on this batch; the policy stays as it was
        fvp = fisher_vector_product(mean_kl(old, current), params, cfg.cg_damping)
        direction = conjugate_gradient(fvp, grad, cfg.cg_iters)
        quad = direction.dot(fvp(direction)).item()  # x^T F x; 0.5 * s^T F s = max_kl below
        if not math.isfinite(quad) or quad <= 0:
            return out
        full_step = math.sqrt(2 * cfg.max_kl / quad) * direction
        out["expected_improvement"] = grad.dot(full_step).item()

        old_flat = _flat(params)
        surr_old = surr.item()
        with torch.no_grad():
            for i in range(cfg.max_backtracks):
                _assign(params, old_flat + cfg.backtrack_coef**i * full_step)
                candidate = self.policy(batch.obs)  # one pass for both acceptance tests
                kl = mean_kl(old, candidate).item()
                improvement = surrogate(candidate).item() - surr_old
                out["line_search_steps"] = float(i + 1)
                if math.isfinite(kl) and kl <= cfg.max_kl and improvement > 0:
                    out.update(accepted=1.0, kl=kl, surrogate_improvement=improvement)
                    return out
            # Rejected: copy the saved values back, so the policy is bit-identical to before.
            _assign(params, old_flat)
        return out

    def fit_value(self, batch: UpdateBatch) -> float:
        """Adam epochs of squared error on the returns (summed over heads); mean loss."""
        cfg = self.config
        n = len(batch)
        mb = min(cfg.vf_minibatch_size, n)
        losses = []
        for _ in range(cfg.vf_epochs):
            perm = torch.randperm(n, device=batch.obs.device)
            for start in range(0, n - mb + 1, mb):
                idx = perm[start : start + mb]
                loss = ((self.value(batch.obs[idx]) - batch.returns[idx]) ** 2).mean(0).sum()
                self.vf_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.vf_optimizer.step()
                losses.append(loss.item())
        return sum(losses) / len(losses)

    def extra_state(self) -> dict[str, Any]:
        return {"vf_optimizer": self.vf_optimizer.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.vf_optimizer.load_state_dict(state["vf_optimizer"])
