"""Contract checks for plugin authors: ``check_bonus(MyBonus)`` before you publish a bonus.

It builds the bonus on a few observation/action spaces, runs it on random batches and
asserts what the harness relies on (see ``bonuses/base.py``):

- class attributes: a frozen `BonusConfig` subclass, a description, a reference, a valid
  default normaliser and known space kinds;
- `compute` returns a float32 (T, N) tensor of finite values, is pure (the state dict is
  unchanged and a second call gives the same values) and leaves the batch untouched;
- `update` returns ``dict[str, float]`` of finite numbers;
- ``state_dict()`` restores everything: a fresh instance loaded from it (through torch.save)
  scores identically, and its next `update` (same global torch seed) gives the same metrics
  and the same state as the original's, optimiser state included. Checked before and after
  an update;
- every space kind the class declares is accepted, and every other one is refused with
  `UnsupportedSpaceError`.

A failed check raises `AssertionError` naming the bonus, the spaces and what went wrong;
an exception the bonus itself raises (an ``IndexError`` in `compute` on discrete
observations, say) is such a failure too, named with the call and the space pair.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import math
from collections.abc import Iterator, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from bonuses.base import (
    NORMALIZERS,
    BonusConfig,
    IntrinsicBonus,
    Transitions,
    UnsupportedSpaceError,
    action_kind,
    observation_kind,
)
from explore_bench.store.io import from_checkpoint, to_checkpoint

__all__ = ["DEFAULT_SPACES", "BonusCheckReport", "check_bonus"]

#: The spaces checked by default: vector, image (4 stacked 52x52 uint8 frames, the Atari
#: protocol) and discrete observations, with box and discrete actions.
DEFAULT_SPACES: tuple[tuple[gym.Space, gym.Space], ...] = (
    (gym.spaces.Box(-1.0, 1.0, (6,), np.float32), gym.spaces.Box(-1.0, 1.0, (2,), np.float32)),
    (gym.spaces.Box(-np.inf, np.inf, (6,), np.float32), gym.spaces.Discrete(3)),
    (gym.spaces.Box(0, 255, (4, 52, 52), np.uint8), gym.spaces.Discrete(4)),
    (gym.spaces.Discrete(10), gym.spaces.Discrete(3)),
)


@dataclasses.dataclass
class BonusCheckReport:
    """What `check_bonus` verified: space pairs fully checked and pairs correctly refused."""

    bonus: str
    checked: list[str] = dataclasses.field(default_factory=list)
    refused: list[str] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.bonus}: contract checks passed"]
        lines += [f"  checked  {label}" for label in self.checked]
        lines += [
            f"  refused  {label} (UnsupportedSpaceError, as declared)" for label in self.refused
        ]
        return "\n".join(lines)


def _label(obs_space: gym.Space, act_space: gym.Space) -> str:
    def shape(space: gym.Space) -> str:
        return f"n={space.n}" if isinstance(space, gym.spaces.Discrete) else str(space.shape)

    return (
        f"{observation_kind(obs_space)} obs {shape(obs_space)} + "
        f"{action_kind(act_space)} actions {shape(act_space)}"
    )


def _sample(space: gym.Space, shape: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    if isinstance(space, gym.spaces.Discrete):
        return torch.as_tensor(rng.integers(space.start, space.start + space.n, shape))
    assert isinstance(space, gym.spaces.Box)
    full = (*shape, *space.shape)
    if space.dtype == np.uint8:
        return torch.as_tensor(rng.integers(0, 256, full, dtype=np.uint8))
    low, high = np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape)
    bounded = np.isfinite(low) & np.isfinite(high)
    x = np.where(
        bounded,
        rng.uniform(np.where(bounded, low, 0), np.where(bounded, high, 1), full),
        rng.normal(size=full),
    )
    return torch.as_tensor(x.astype(np.float32))


def random_batch(
    obs_space: gym.Space, act_space: gym.Space, num_steps: int, num_envs: int, seed: int
) -> Transitions:
    """Random transitions shaped (num_steps, num_envs, ...), with some episode ends."""
    rng = np.random.default_rng(seed)
    shape = (num_steps, num_envs)
    return Transitions(
        obs=_sample(obs_space, shape, rng),
        actions=_sample(act_space, shape, rng),
        next_obs=_sample(obs_space, shape, rng),
        ext_rewards=torch.as_tensor(rng.normal(size=shape).astype(np.float32)),
        terminated=torch.as_tensor(rng.random(shape) < 0.1),
        truncated=torch.as_tensor(rng.random(shape) < 0.05),
    )


def _same(a: Any, b: Any) -> bool:
    """Structural equality of state dicts and metrics: exact tensors, NaN equal to NaN."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.is_floating_point() or a.is_complex():
            return torch.equal(a.isnan(), b.isnan()) and torch.equal(
                a.nan_to_num(0.0), b.nan_to_num(0.0)
            )
        return torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    keys = sorted(set(a) ^ set(b)) or [k for k in a if not _same(a[k], b[k])]
    return ", ".join(map(str, keys[:5]))


class _Checker:
    def __init__(self, cls: type[IntrinsicBonus], label: str) -> None:
        self.cls, self.label = cls, label

    def fail(self, message: str) -> None:
        raise AssertionError(f"check_bonus({self.cls.__name__}) on {self.label}: {message}")

    @contextlib.contextmanager
    def calling(self, call: str) -> Iterator[None]:
        """The bonus's own exceptions in ``call`` as a contract failure naming the case."""
        try:
            yield
        except AssertionError:
            raise
        except Exception as exc:
            self.fail(f"{call} raised {type(exc).__name__}: {exc}")

    def output(self, out: Any, batch: Transitions, call: str) -> torch.Tensor:
        if not isinstance(out, torch.Tensor):
            self.fail(f"{call} returned {type(out).__name__}, expected a torch.Tensor")
        expected = (batch.num_steps, batch.num_envs)
        if tuple(out.shape) != expected:
            self.fail(f"{call} returned shape {tuple(out.shape)}, expected (T, N) = {expected}")
        if out.dtype != torch.float32:
            self.fail(f"{call} returned dtype {out.dtype}, expected torch.float32")
        if out.device not in (batch.ext_rewards.device, torch.device("cpu")):
            self.fail(
                f"{call} returned a tensor on {out.device}; the batch came on "
                f"{batch.ext_rewards.device}: return it there (or on the CPU)"
            )
        if not torch.isfinite(out).all():
            self.fail(f"{call} returned non-finite values")
        return out

    def compute(self, bonus: IntrinsicBonus, batch: Transitions, call: str) -> torch.Tensor:
        """compute() twice: valid output, pure (state and batch unchanged), deterministic."""
        with self.calling("state_dict()"):
            state, inputs = copy.deepcopy(bonus.state_dict()), copy.deepcopy(batch)
        with self.calling(call):
            first = self.output(bonus.compute(batch), batch, call)
        if not _same(state, bonus.state_dict()):
            self.fail(
                f"{call} changed the state (keys: {_diff(state, bonus.state_dict())}); "
                "compute must be pure, change state only in update()"
            )
        if not _same(dataclasses.asdict(inputs), dataclasses.asdict(batch)):
            self.fail(f"{call} modified the batch it was given")
        with self.calling(call):
            again = bonus.compute(batch)
        if not torch.equal(first, again):
            self.fail(f"{call} gave different values when called twice on the same batch")
        return first

    def update(
        self, bonus: IntrinsicBonus, batch: Transitions, seed: int, call: str
    ) -> dict[str, float]:
        torch.manual_seed(seed)
        with self.calling(call):
            metrics = bonus.update(batch)
        if not isinstance(metrics, dict):
            self.fail(f"{call} returned {type(metrics).__name__}, expected dict[str, float]")
        for key, value in metrics.items():
            if not isinstance(key, str):
                self.fail(f"{call} returned a metric key {key!r} that is not a str")
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(
                    f"{call} metric {key!r} is {type(value).__name__}, expected a Python float"
                )
            if math.isinf(value):
                self.fail(f"{call} metric {key!r} is infinite")
        return metrics

    def round_trip(
        self,
        bonus: IntrinsicBonus,
        make: Any,
        score: Transitions,
        train: Transitions,
        seed: int,
        when: str,
    ) -> None:
        """Reload ``bonus`` into a fresh instance; both must score and then train alike."""
        buffer = io.BytesIO()
        try:  # as the runner checkpoints: tensors and plain containers, weights_only loading
            torch.save(to_checkpoint(bonus.state_dict(), "state_dict()"), buffer)
        except TypeError as exc:
            self.fail(f"the state_dict {when} cannot be checkpointed: {exc}")
        buffer.seek(0)
        torch.manual_seed(seed + 7919)  # a fresh instance with different initial weights
        fresh = make()
        try:
            # Onto the CPU first, as a resumed run loads (load_state_dict must move it back).
            fresh.load_state_dict(
                from_checkpoint(torch.load(buffer, weights_only=True, map_location="cpu"))
            )
        except Exception as exc:
            self.fail(
                f"load_state_dict of a saved state_dict {when} failed: {type(exc).__name__}: {exc}"
            )
        if not torch.equal(
            self.compute(bonus, score, "compute"), self.compute(fresh, score, "compute")
        ):
            self.fail(
                f"a fresh instance loaded from state_dict() {when} scores differently; "
                "state_dict must hold all state"
            )
        m_orig = self.update(bonus, train, seed, "update")
        m_fresh = self.update(fresh, train, seed, "update")
        if not _same(m_orig, m_fresh):
            self.fail(
                f"after reloading {when}, the next update() gave different metrics "
                f"({m_orig} vs {m_fresh}); is the optimiser state in get_extra_state()?"
            )
        if not _same(bonus.state_dict(), fresh.state_dict()):
            self.fail(
                f"after reloading {when}, the next update() left a different state "
                f"(keys: {_diff(bonus.state_dict(), fresh.state_dict())})"
            )
        if not torch.equal(bonus.compute(score), fresh.compute(score)):
            self.fail(f"after reloading {when} and one update, the two instances score differently")


def _check_class(cls: type[IntrinsicBonus]) -> None:
    name = getattr(cls, "__name__", repr(cls))
    problems = []
    if not (isinstance(cls, type) and issubclass(cls, IntrinsicBonus)):
        raise AssertionError(
            f"check_bonus: {name} is not a subclass of bonuses.base.IntrinsicBonus"
        )
    cfg = cls.config_cls
    params = getattr(cfg, "__dataclass_params__", None)
    if not (issubclass(cfg, BonusConfig) and params is not None and params.frozen):
        problems.append(
            f"config_cls {cfg.__name__} must be a frozen dataclass subclassing BonusConfig"
        )
    for attr in ("description", "reference"):
        if not str(getattr(cls, attr, "")).strip():
            problems.append(f"class attribute {attr!r} is empty")
    if cls.default_normalizer not in NORMALIZERS:
        problems.append(
            f"default_normalizer {cls.default_normalizer!r} is not one of {', '.join(NORMALIZERS)}"
        )
    if not set(cls.observation_kinds) <= {"vector", "image", "discrete"}:
        problems.append(f"unknown observation_kinds {sorted(cls.observation_kinds)}")
    if not set(cls.action_kinds) <= {"box", "discrete"}:
        problems.append(f"unknown action_kinds {sorted(cls.action_kinds)}")
    if problems:
        raise AssertionError(f"check_bonus({name}): " + "; ".join(problems))


def check_bonus(
    cls: type[IntrinsicBonus],
    spaces: Sequence[tuple[gym.Space, gym.Space]] = DEFAULT_SPACES,
    *,
    config: BonusConfig | None = None,
    num_steps: int = 5,
    num_envs: int = 3,
    seed: int = 0,
    device: str = "cpu",
) -> BonusCheckReport:
    """Check ``cls`` against the bonus contract on each (observation, action) space pair.

    Pairs the class declares support for are fully checked (with ``config``, else
    ``cls.default_config`` for the pair); the others must raise `UnsupportedSpaceError`.
    Raises `AssertionError` on the first violation; returns a `BonusCheckReport` otherwise.
    """
    _check_class(cls)
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG as it was
        return _check_spaces(cls, spaces, config, num_steps, num_envs, seed, device)


def _check_spaces(
    cls: type[IntrinsicBonus],
    spaces: Sequence[tuple[gym.Space, gym.Space]],
    config: BonusConfig | None,
    num_steps: int,
    num_envs: int,
    seed: int,
    device: str,
) -> BonusCheckReport:
    report = BonusCheckReport(bonus=cls.__name__)
    for obs_space, act_space in spaces:
        label = _label(obs_space, act_space)
        check = _Checker(cls, label)
        supported = (
            observation_kind(obs_space) in cls.observation_kinds
            and action_kind(act_space) in cls.action_kinds
        )
        if not supported:
            try:
                cls(obs_space, act_space, config, device)
            except UnsupportedSpaceError as exc:
                if not str(exc).strip():
                    check.fail("UnsupportedSpaceError was raised with an empty message")
                report.refused.append(label)
                continue
            except Exception as exc:
                check.fail(
                    f"an undeclared space raised {type(exc).__name__} ({exc}), "
                    "expected UnsupportedSpaceError"
                )
            check.fail(
                "the class does not declare this space kind, but building it did not raise "
                "UnsupportedSpaceError"
            )
        with check.calling("default_config"):
            cfg = config if config is not None else cls.default_config(obs_space, act_space)

        def make(
            cfg: BonusConfig = cfg, o: gym.Space = obs_space, a: gym.Space = act_space
        ) -> IntrinsicBonus:
            return cls(o, a, cfg, device)

        torch.manual_seed(seed)
        with check.calling("building it"):
            try:
                bonus = make()
            except UnsupportedSpaceError as exc:
                check.fail(f"the class declares this space kind but refused it: {exc}")
        # Batches arrive on the bonus's device, as in a run (bonuses/base.py).
        first = random_batch(obs_space, act_space, num_steps, num_envs, seed).to(device)
        second = random_batch(obs_space, act_space, num_steps + 2, num_envs + 1, seed + 1)
        second = second.to(device)
        check.compute(bonus, first, "compute")
        # Three reloads: fresh, after one update and after two (warm-ups and lazily created
        # optimiser state show up only after the first).
        for stage, when in enumerate(
            ("before any update", "after one update", "after two updates")
        ):
            batch = second if stage % 2 else first
            with check.calling(f"saving, reloading and updating {when}"):
                check.round_trip(bonus, make, batch, batch, seed + stage + 1, when)
        report.checked.append(label)
    return report
