"""Reward shaping, the hook between rollout and advantages.

`RewardShaper.apply` runs the bonus (compute/update in the order the bonus declares), scales
the raw bonus with a normaliser and a coefficient, and returns the intrinsic rewards that
the agent adds before computing any return or advantage. This is the one place that decides
that order; the agents call it through the `agents.hooks.Shaping` protocol, so they never
import this module (the runner hands a `RewardShaper` in). Normalisers are separate,
stateful components: calling one is pure, ``update`` changes it, and its state is saved.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from bonuses.base import NORMALIZERS, IntrinsicBonus, Transitions
from explore_bench.settings.config import ShapingConfig


class RunningMeanStd:
    """Mean and variance over every element seen so far (Chan et al. parallel update).

    ``std`` is sqrt(var + epsilon). OpenAI baselines' 1e-8 makes a bonus whose values vary
    by less than about 1e-4 come out scaled by ~1e4 rather than divided by its own std
    (RND on a grid / 255 varies by ~1e-6); rllte's ``rms`` adds nothing (epsilon 0). With
    epsilon 0 and a history of equal values (variance 0) the std is taken as 1."""

    def __init__(self, epsilon: float = 1e-8) -> None:
        self.mean = 0.0
        self.var = 1.0
        self.count = 0.0
        self.epsilon = epsilon

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().double().reshape(-1)
        n = x.numel()
        if n == 0:
            return
        # The same two reductions as ever, read back together: one wait on the device.
        batch_mean, batch_var = torch.stack([x.mean(), x.var(unbiased=False)]).tolist()
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.var = m2 / total
        self.count = total

    @property
    def std(self) -> float:
        std = math.sqrt(self.var + self.epsilon)
        return std if std > 0 else 1.0

    def state_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]


class Normalizer:
    """Maps a raw (T, N) bonus to a normalised one. ``__call__`` is pure; ``update`` learns."""

    name = "none"

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        return raw

    def update(self, raw: torch.Tensor) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


class RewardRMS(Normalizer):
    """Divide by the running std of the raw bonus itself."""

    name = "reward_rms"

    def __init__(self, clip: float = 0.0, epsilon: float = 1e-8) -> None:
        self.rms = RunningMeanStd(epsilon)
        self.clip = clip

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        out = raw / self.rms.std
        return out.clamp(-self.clip, self.clip) if self.clip > 0 else out

    def update(self, raw: torch.Tensor) -> None:
        self.rms.update(raw)

    def state_dict(self) -> dict[str, Any]:
        return self.rms.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rms.load_state_dict(state)


class RewardRMSRows(Normalizer):
    """Divide by E3B's released running std (facebookresearch/e3b minihack/torchbeast/
    src/models.py, ``update_running_moments`` / ``get_running_std``, called in
    src/algos/e3b.py ``learn`` with ``--reward_norm int`` before the division).

    The release sums the squared deviations over all T x B values of a batch but counts
    ``len(reward_batch)``, its T rows, so std = sqrt(M2 / rows) is about sqrt(B) times the
    values' std (more while the batch mean drifts); its intrinsic-reward coefficient of 1 was
    tuned with it. The count starts at 1e-8, as released. "reward_rms" is the true std.
    """

    name = "reward_rms_rows"

    def __init__(self) -> None:
        self.count, self.total, self.m2 = 1e-8, 0.0, 0.0

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count)

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        std = self.std
        return raw / std if std > 0 else raw

    def update(self, raw: torch.Tensor) -> None:
        x = raw.detach().double()
        rows = int(x.shape[0]) if x.dim() else 1
        if x.numel() == 0:
            return
        total = float(x.sum())
        mean = total / rows
        m2 = float((x - mean).pow(2).sum())
        m2 += self.count * rows / (self.count + rows) * (mean - self.total / self.count) ** 2
        self.count, self.total, self.m2 = self.count + rows, self.total + total, self.m2 + m2

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "total": self.total, "m2": self.m2}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count, self.total, self.m2 = state["count"], state["total"], state["m2"]


class ReturnRMS(RewardRMS):
    """Divide by the running std of the discounted intrinsic return (Burda et al. 2018).

    The return is filtered along time separately for every env, ``R_t = gamma R_{t-1} + r_t``,
    and carried across rollouts; the running std is over all filtered values.
    """

    name = "return_rms"

    def __init__(self, gamma: float, clip: float = 0.0, epsilon: float = 1e-8) -> None:
        super().__init__(clip, epsilon)
        self.gamma = gamma
        self.filter: torch.Tensor | None = None

    def update(self, raw: torch.Tensor) -> None:
        # On the rollout's device; a filter restored from a checkpoint (on the CPU) follows.
        filt = (
            torch.zeros(raw.shape[1], dtype=torch.float64, device=raw.device)
            if self.filter is None
            else self.filter.to(raw.device)
        )
        returns = torch.empty(raw.shape, dtype=torch.float64, device=raw.device)
        for t in range(raw.shape[0]):
            filt = filt * self.gamma + raw[t].double()
            returns[t] = filt
        self.filter = filt
        self.rms.update(returns)

    def state_dict(self) -> dict[str, Any]:
        return {**self.rms.state_dict(), "filter": self.filter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rms.load_state_dict(state)
        self.filter = state["filter"]


class MinMax(Normalizer):
    """Rescale to [0, 1] with the running min and max over all batches seen (never per batch,
    which would make a transition's bonus depend on its batch-mates)."""

    name = "minmax"

    def __init__(self) -> None:
        self.low = math.inf
        self.high = -math.inf

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        if not math.isfinite(self.low) or self.high <= self.low:
            return torch.zeros_like(raw)
        return ((raw - self.low) / (self.high - self.low)).clamp(0.0, 1.0)

    def update(self, raw: torch.Tensor) -> None:
        if raw.numel():
            self.low = min(self.low, float(raw.min()))
            self.high = max(self.high, float(raw.max()))

    def state_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.low, self.high = state["low"], state["high"]


def make_normalizer(name: str, config: ShapingConfig) -> Normalizer:
    if name == "none":
        return Normalizer()
    if name == "reward_rms":
        return RewardRMS(config.clip, config.rms_epsilon)
    if name == "reward_rms_rows":
        return RewardRMSRows()
    if name == "return_rms":
        return ReturnRMS(config.return_gamma, config.clip, config.rms_epsilon)
    if name == "minmax":
        return MinMax()
    raise ValueError(f"unknown normalizer {name!r}; valid: {', '.join(NORMALIZERS)}")


def coefficient(config: ShapingConfig, progress: float, iteration: int) -> float:
    """The bonus coefficient at ``progress`` in [0, 1] of the budget / at ``iteration``."""
    if config.schedule == "linear":
        return config.coef + (config.coef_final - config.coef) * min(max(progress, 0.0), 1.0)
    if config.schedule == "exponential":
        return config.coef * config.decay**iteration
    return config.coef


class RewardShaper:
    """Runs a bonus on a rollout and turns its raw output into intrinsic rewards."""

    def __init__(self, bonus: IntrinsicBonus, config: ShapingConfig) -> None:
        self.bonus = bonus
        self.config = config
        self.normalizer = make_normalizer(config.normalizer or bonus.default_normalizer, config)
        self.iteration = 0

    def apply(self, batch: Transitions, progress: float) -> tuple[torch.Tensor, dict[str, float]]:
        """Intrinsic rewards (T, N) for ``batch`` and the metrics of this step."""
        if self.bonus.compute_after_update:
            metrics = self.bonus.update(batch)
            raw = self.bonus.compute(batch)
        else:
            raw = self.bonus.compute(batch)
            metrics = self.bonus.update(batch)
        # The contract: compute returns on the bonus's device; a CPU tensor is moved here.
        raw = raw.detach().float().to(batch.ext_rewards.device)
        name = f"{type(self.bonus).__name__}.compute"
        if raw.shape != batch.ext_rewards.shape:
            raise ValueError(
                f"{name} returned shape {tuple(raw.shape)}; expected "
                f"{tuple(batch.ext_rewards.shape)} (T, N), one value per transition"
            )
        finite = torch.isfinite(raw)
        if not finite.all():
            bad = raw[~finite]
            raise FloatingPointError(
                f"{name} returned {bad.numel()} non-finite values of {raw.numel()} "
                f"(first: {bad.flatten()[0].item()}) in its (T, N) = {tuple(raw.shape)} output"
            )
        self.normalizer.update(raw)
        coef = coefficient(self.config, progress, self.iteration)
        self.iteration += 1
        int_rewards = coef * self.normalizer(raw)
        out = {f"bonus/{k}": float(v) for k, v in metrics.items()}
        std = raw.std() if raw.numel() > 1 else raw.new_zeros(())
        stats = torch.stack([raw.mean(), std, raw.max(), int_rewards.mean()]).tolist()
        out.update(
            int_reward_raw_mean=stats[0],
            int_reward_raw_std=stats[1],
            int_reward_raw_max=stats[2],
            int_reward_mean=stats[3],
            int_coef=coef,
        )
        return int_rewards, out

    __call__ = apply  # the `agents.hooks.Shaping` protocol

    def state_dict(self) -> dict[str, Any]:
        return {"normalizer": self.normalizer.state_dict(), "iteration": self.iteration}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.normalizer.load_state_dict(state["normalizer"])
        self.iteration = state["iteration"]
