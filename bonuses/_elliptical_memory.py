"""E3B's episodic memory: per env, the inverse of C = lambda I + sum_j phi(s_j) phi(s_j)^T
over the states of the current episode (Henaff et al. 2022; facebookresearch/e3b), walked
over a rollout in closed form. `bonuses.e3b` scores with it."""

from __future__ import annotations

from typing import Any

import torch

from bonuses.base import EpisodicMemory


class EllipticalMemory(EpisodicMemory):
    """Per-env C^-1 (N, d, d) and the number of steps taken in the current episode.

    ``lagged`` (``episode_start = "rllte"``): `reset` only marks the envs, whose C^-1 is
    reset after the next step has been scored and added, and no step is zeroed."""

    def __init__(
        self, num_envs: int, dim: int, ridge: float, device: torch.device, lagged: bool = False
    ) -> None:
        super().__init__(num_envs)
        self.ridge, self.lagged = ridge, lagged
        eye = torch.eye(dim, dtype=torch.float64, device=device) / ridge
        self.cov_inv = eye.expand(num_envs, dim, dim).clone()
        self.steps = torch.zeros(num_envs, dtype=torch.int64, device=device)
        #: Envs whose episode ended at the last step (lagged: reset after the next one).
        self.pending = torch.zeros(num_envs, dtype=torch.bool, device=device)

    def step(self, *inputs: torch.Tensor) -> torch.Tensor:
        h = inputs[0]
        u = torch.bmm(self.cov_inv, h.unsqueeze(-1)).squeeze(-1)
        b = (h * u).sum(-1)
        self.cov_inv -= u.unsqueeze(-1) * u.unsqueeze(-2) / (1.0 + b)[:, None, None]
        out = b if self.lagged else torch.where(self.steps == 0, torch.zeros_like(b), b)
        self.steps += 1
        if self.lagged:
            self._clear(self.pending)
            self.pending = torch.zeros_like(self.pending)
        return out

    def walk(self, inputs: tuple[torch.Tensor, ...], ended: torch.Tensor) -> torch.Tensor:
        """The per-step recursion in closed form, one episode segment of m steps at a time:
        with P the segment's starting C^-1, H its embeddings (m x d) and L the Cholesky
        factor of I + H P H^T, the Schur complements give 1 + b_t = L_tt^2, and Woodbury the
        end memory P - (HP)^T (I + H P H^T)^-1 (HP). Same result as `step` t by t, with
        matrix products instead of m memory-bound rank-1 updates."""
        h = inputs[0]
        out = torch.zeros(h.shape[:2], dtype=torch.float64, device=h.device)
        pending = self.pending.tolist()  # one read of the device, not one per env
        for env in range(h.shape[1]):
            start = 0
            ends = (ended[:, env].nonzero().reshape(-1) + 1).tolist()
            if self.lagged:  # each reset one step later; one pending from the last rollout
                ends = [1] * pending[env] + [e + 1 for e in ends if e < h.shape[0]]
            for stop in ends + ([h.shape[0]] if not ends or ends[-1] < h.shape[0] else []):
                seg, cov_inv = h[start:stop, env], self.cov_inv[env]
                hp = seg @ cov_inv
                gram = hp @ seg.T + torch.eye(stop - start, dtype=h.dtype, device=h.device)
                chol = torch.linalg.cholesky(gram)
                b = chol.diagonal().pow(2) - 1.0
                if not self.lagged and self.steps[env] == 0:
                    b[0] = 0.0
                out[start:stop, env] = b
                if stop in ends:  # the episode ends: its C^-1 is not needed
                    self._clear(env)
                else:
                    new = cov_inv - hp.T @ torch.cholesky_solve(hp, chol)
                    self.cov_inv[env] = (new + new.T) / 2
                    self.steps[env] += stop - start
                start = stop
        if self.lagged:
            self.pending = ended[-1].to(self.pending.device).clone()
        return out

    def reset(self, ended: torch.Tensor) -> None:
        ended = ended.to(self.cov_inv.device)
        if self.lagged:
            self.pending |= ended
        else:
            self._clear(ended)

    def _clear(self, ended: torch.Tensor | int) -> None:
        """Reset C^-1 and the step count of the envs ``ended`` selects (a mask or an index)."""
        dim = self.cov_inv.shape[-1]
        eye = torch.eye(dim, dtype=torch.float64, device=self.cov_inv.device) / self.ridge
        self.cov_inv[ended] = eye
        self.steps[ended] = 0

    def copy(self) -> EllipticalMemory:
        out = EllipticalMemory.__new__(EllipticalMemory)
        out.num_envs, out.ridge, out.lagged = self.num_envs, self.ridge, self.lagged
        out.cov_inv, out.steps = self.cov_inv.clone(), self.steps.clone()
        out.pending = self.pending.clone()
        return out

    def state(self) -> dict[str, Any]:
        return {
            "cov_inv": self.cov_inv.cpu(),
            "steps": self.steps.cpu(),
            "pending": self.pending.cpu(),
        }

    def load(self, state: dict[str, Any]) -> None:
        self.cov_inv = state["cov_inv"].to(self.cov_inv.device, torch.float64).clone()
        self.steps = state["steps"].to(self.steps.device).clone()
        # checkpoints written before episode_start existed hold no pending resets
        pending = state.get("pending", torch.zeros_like(self.pending))
        self.pending = pending.to(self.pending.device).clone()
