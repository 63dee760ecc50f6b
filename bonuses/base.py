"""The bonus contract: every exploration bonus in explore-bench implements `IntrinsicBonus`.

The contract is one module (about 530 lines), so that a plugin author reads it in one place:
the batch (`Transitions`), the bonus and its config, and the one episodic-memory mechanism
an episodic bonus builds on; besides them what agents and bonuses share about symbolic
grids (`is_grid`; the fast form of their grid networks is `bonuses._grid_conv`).

A bonus sees batches of transitions, never an environment. The harness calls, per agent
iteration and before any return or advantage is computed::

    if bonus.compute_after_update:  metrics = bonus.update(batch); raw = bonus.compute(batch)
    else:                           raw = bonus.compute(batch);    metrics = bonus.update(batch)

then scales ``raw`` with a normaliser and a coefficient that are the same for every bonus
(``explore_bench.runs.shaping``). Input normalisation that is part of a method (RND's observation
statistics) lives inside the bonus; output scaling never does.

Devices: a bonus is built with the run's device (``run.device`` resolved, e.g. ``cuda:0``)
and moves its modules there. Every tensor of a `Transitions` handed to ``compute`` and
``update`` is already on that device (the agent keeps its rollout buffers there), so a bonus
never copies its inputs and never assumes the CPU: tensors it creates go on
``self.device`` (or the batch's device). ``compute`` returns its (T, N) tensor on that
device; a CPU tensor is accepted and moved by the harness, at the cost of a copy each way.
Metrics from ``update`` are Python floats: read them back from the device once per update
(stack, then ``tolist()``), not once per minibatch.

Episodic memory (E3B, NovelD's first-visit term, RIDE, NGU): one mechanism, `EpisodicBonus`.

- Each env has a memory (a count table, an inverse covariance, a kNN store) that spans
  rollouts. An `EpisodicMemory` holds the memories of all N envs and advances them one time
  step at a time: ``step(*inputs_t)`` scores step t for every env from its memory, then adds
  step t to it; ``reset(mask)`` forgets the memories of the envs whose episode ended;
  ``walk`` does both over a whole rollout (a memory may batch it, as E3B's does with one
  Cholesky factorisation per episode segment, as long as it gives the same result).
- `EpisodicBonus.episodic_walk` walks a rollout in time order from a copy of the memory
  committed at rollout start: for t = 0..T-1, ``step`` with the bonus's per-step inputs
  (`memory_inputs`, computed for the whole rollout in one batched pass, so the walk itself
  costs only the memory's arithmetic), then ``reset`` for the envs with
  ``terminated[t] | truncated[t]``. So `compute` is a pure function of (memory at rollout
  start, the rollout), and splitting a rollout in two gives the same scores.
- `update` commits the walk's end memory (`commit_walk`) before it trains anything, so the
  committed memory holds what the scores were computed from (the release codes embed states
  with the networks of the acting step). The walk is cached on the batch object and the
  memory generation: `update` after `compute` on the same batch reuses compute's walk
  instead of repeating it; anything that changes the memory or the weights invalidates it.
- The committed memory is saved in ``state_dict()`` (``get_extra_state``, as tensors and
  plain Python values), so a resumed run continues every episode's memory exactly.
- A batch with a different number of envs than the committed memory starts every env with
  an empty memory (a new set of environments; the contract checks do this).
- Episodic counts (`EpisodicCounts`, NovelD and RIDE) key each s_{t+1} by
  `Transitions.state_keys` when the task provides them and ``count_key = "state"``, else by
  the exact observation (`exact_keys`: the state index, or a 64-bit BLAKE2b digest of the
  observation's bytes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import weakref
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

__all__ = [
    "COUNT_KEYS",
    "BonusConfig",
    "EpisodicBonus",
    "EpisodicCounts",
    "EpisodicMemory",
    "IntrinsicBonus",
    "Recipe",
    "Transitions",
    "UnsupportedSpaceError",
    "action_kind",
    "count_keys",
    "exact_keys",
    "is_grid",
    "observation_kind",
]


@dataclasses.dataclass(frozen=True)
class Transitions:
    """A time-major batch of transitions; every tensor is shaped (T, N, ...).

    ``next_obs[t, n]`` is the true successor of ``obs[t, n]``: at an episode end it is the
    final observation, never the observation the environment was reset to. ``ext_rewards``
    are the raw environment rewards (clipping for the learner is the agent's concern).
    """

    obs: torch.Tensor
    actions: torch.Tensor
    next_obs: torch.Tensor
    ext_rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    #: Optional (T, N) int64 keys of the env's full state after each step, when the task
    #: provides one (``info["state_key"]``; MiniGrid's fully observable grid). Exact episodic
    #: counts (NovelD, RIDE) hash these as their papers do; None when the task has none.
    state_keys: torch.Tensor | None = None

    @property
    def num_steps(self) -> int:
        """T, the number of time steps."""
        return int(self.obs.shape[0])

    @property
    def num_envs(self) -> int:
        """N, the number of parallel environments."""
        return int(self.obs.shape[1])

    def flat(self) -> Transitions:
        """The same transitions with (T, N) merged into one leading axis of T * N."""

        def merge(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])

        return self._map(merge)

    def to(self, device: torch.device | str) -> Transitions:
        return self._map(lambda x: x.to(device))

    def _map(self, fn: Any) -> Transitions:
        """Apply ``fn`` to every tensor field, leaving absent optional fields as None."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        mapped: dict[str, Any] = {k: None if v is None else fn(v) for k, v in values.items()}
        return Transitions(**mapped)


@dataclasses.dataclass(frozen=True, kw_only=True)
class BonusConfig:
    """Base of every bonus configuration: frozen, keyword-only, defaults from the paper.

    Subclasses add fields, each with a one-line doc comment and the paper's default, and
    validate them in ``__post_init__`` (raise ``ValueError`` naming the field and valid range).
    """


@dataclasses.dataclass(frozen=True, kw_only=True)
class Recipe:
    """A method's recipe: the settings that are part of the method wherever it runs.

    Plain config overrides declared next to the bonus in ``IntrinsicBonus.recipes`` (keyed by
    agent name; ``"*"`` for any agent), applied in ``recipe = "paper"`` mode between a spec's
    base layer and a named preset. A recipe carries only the method (issue 29): the intrinsic
    value head, its discount, the advantages' weights, total-reward clipping and where the
    intrinsic reward enters (the agent fields of ``METHOD_AGENT_FIELDS`` in
    ``explore_bench.settings.recipes``), the output shaping, and the random-action warm-up.
    A paper's optimiser settings are agent settings, declared as a named preset
    (``explore_bench.settings.presets``); the harness refuses them here.
    """

    #: Where the settings come from (paper section or released-code file).
    source: str
    #: Method fields of the agent's config (``METHOD_AGENT_FIELDS``: two_value_heads, ...).
    agent: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Reward-shaping fields (normaliser, coefficient, clipping).
    shaping: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Run-level method settings (only ``warmup_steps``).
    run: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class UnsupportedSpaceError(ValueError):
    """A bonus was built for an observation or action space it does not declare support for."""


def observation_kind(space: gym.Space) -> str:
    """Classify an observation space: ``vector`` (flat Box), ``image`` (C x H x W Box of
    stacked frames), or ``discrete``. Anything else is ``unsupported``."""
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    if isinstance(space, gym.spaces.Box):
        if len(space.shape) == 1:
            return "vector"
        if len(space.shape) == 3:
            return "image"
    return "unsupported"


#: Largest side (cells) of an image observation treated as a symbolic grid, not as frames:
#: MiniGrid's view is 7 x 7; the suite's smallest frames are 52 x 52 (EMI's Atari protocol).
GRID_MAX_SIDE = 16


def is_grid(shape: Sequence[int] | None) -> bool:
    """Whether a C x H x W ``image`` observation shape is a small symbolic grid (MiniGrid's
    (3, 7, 7) view: object, colour and state channels) rather than a stack of frames.
    Networks for frames (8 x 8 kernels, stride 4) do not fit it; agents and bonuses build
    grid networks for it instead."""
    return (
        shape is not None and len(shape) == 3 and max(int(shape[1]), int(shape[2])) <= GRID_MAX_SIDE
    )


def action_kind(space: gym.Space) -> str:
    """Classify an action space: ``box`` (flat continuous) or ``discrete``."""
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return "box"
    return "unsupported"


#: The output normalisers the harness applies (`explore_bench.runs.shaping`), the values a
#: bonus's ``default_normalizer`` and a run's ``shaping.normalizer`` may take.
NORMALIZERS = ("none", "reward_rms", "reward_rms_rows", "return_rms", "minmax")


class IntrinsicBonus(nn.Module, ABC):
    """An exploration bonus: scores transitions and trains its own model on them.

    Subclasses set the class attributes below and implement `compute` and `update`.
    Everything needed to resume (weights, optimiser, running statistics, counts) must be in
    ``state_dict()``: keep tensors as parameters or buffers, and return anything else (Python
    counters) from ``get_extra_state``. An optimiser stored as ``self.optimizer`` is saved
    and restored by the base class.
    """

    #: Frozen dataclass holding the hyper-parameters, with the paper's defaults.
    config_cls: ClassVar[type[BonusConfig]] = BonusConfig
    #: Whether the intrinsic return stops at episode ends (RND: False).
    episodic: ClassVar[bool] = True
    #: Score the batch after training on it (EMI's diversity bonus) instead of before. Read
    #: from the instance: a bonus whose order depends on its config sets it in ``__init__``.
    compute_after_update: bool = False
    #: Name of the output normaliser used unless the run config picks another (`NORMALIZERS`).
    default_normalizer: ClassVar[str] = "none"
    #: Observation kinds this bonus handles (see `observation_kind`).
    observation_kinds: ClassVar[frozenset[str]] = frozenset({"vector", "image", "discrete"})
    #: Action kinds this bonus handles (see `action_kind`).
    action_kinds: ClassVar[frozenset[str]] = frozenset({"box", "discrete"})
    #: One line for `explore-bench list`.
    description: ClassVar[str] = ""
    #: The paper the method comes from.
    reference: ClassVar[str] = ""
    #: The paper recipe per agent name (``"*"``: any agent); see `Recipe`.
    recipes: ClassVar[Mapping[str, Recipe]] = {}

    #: Set by learned bonuses; its state is then saved with ``state_dict()``.
    optimizer: torch.optim.Optimizer

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__()
        obs_kind, act_kind = observation_kind(observation_space), action_kind(action_space)
        name = type(self).__name__
        if obs_kind not in self.observation_kinds:
            raise UnsupportedSpaceError(
                f"{name} does not support {obs_kind} observations ({observation_space}); "
                f"supported: {sorted(self.observation_kinds)}"
            )
        if act_kind not in self.action_kinds:
            raise UnsupportedSpaceError(
                f"{name} does not support {act_kind} actions ({action_space}); "
                f"supported: {sorted(self.action_kinds)}"
            )
        if config is None:
            config = self.config_cls()
        if not isinstance(config, self.config_cls):
            raise TypeError(
                f"{name} expects a {self.config_cls.__name__}, got {type(config).__name__}"
            )
        self.observation_space = observation_space
        self.action_space = action_space
        self.obs_kind = obs_kind
        self.act_kind = act_kind
        self.config = config
        self.device = torch.device(device)
        #: Number of states of a Discrete observation space (width of its one-hot), else 0.
        self.num_states = int(getattr(observation_space, "n", 0))

    @classmethod
    def default_config(cls, observation_space: gym.Space, action_space: gym.Space) -> BonusConfig:
        """The config used when the user gives none. Override for per-domain defaults
        (EMI picks MuJoCo or Atari values from the observation space)."""
        return cls.config_cls()

    @abstractmethod
    def compute(self, batch: Transitions) -> torch.Tensor:
        """Raw bonus per transition, shaped (T, N), finite, float32. Must not change state."""

    @abstractmethod
    def update(self, batch: Transitions) -> dict[str, float]:
        """Train on the batch (or commit counts); return metrics such as losses."""

    def warm_up(self, batch: Transitions) -> None:
        """Fit input statistics on random-action steps taken before training (the run's
        ``warmup_steps``, counted in the budget; RND's observation statistics). Most
        bonuses have nothing to fit."""
        return None

    # Helpers shared by bonuses -------------------------------------------------------

    def action_features(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions as float features: one-hot for discrete, clipped to bounds for boxes."""
        if self.act_kind == "discrete":
            return nn.functional.one_hot(actions.long(), self.action_dim).float()
        low = torch.as_tensor(self.action_space.low, dtype=torch.float32, device=actions.device)  # type: ignore[attr-defined]
        high = torch.as_tensor(self.action_space.high, dtype=torch.float32, device=actions.device)  # type: ignore[attr-defined]
        finite = torch.isfinite(low) & torch.isfinite(high)
        clipped = torch.maximum(torch.minimum(actions.float(), high), low)
        return torch.where(finite, clipped, actions.float())

    def inverse_dynamics_loss(
        self, out: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Loss of an inverse model's output ``out`` (B, action_dim) for the taken actions, and
        for discrete actions the accuracy (else None): cross-entropy over discrete actions,
        and for boxes the squared error to the clipped actions (a unit-variance Gaussian)."""
        if self.act_kind == "discrete":
            target = actions.long()
            loss = nn.functional.cross_entropy(out, target)
            return loss, (out.argmax(-1) == target).float().mean()
        return nn.functional.mse_loss(out, self.action_features(actions)), None

    @property
    def action_dim(self) -> int:
        """Width of `action_features`."""
        if self.act_kind == "discrete":
            return int(self.action_space.n)  # type: ignore[attr-defined]
        return int(np.prod(self.action_space.shape))  # type: ignore[arg-type]

    def get_extra_state(self) -> Any:
        optimizer = getattr(self, "optimizer", None)
        return {} if optimizer is None else {"optimizer": optimizer.state_dict()}

    def set_extra_state(self, state: Any) -> None:
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])


# Episodic memory ---------------------------------------------------------------------------


class EpisodicMemory(ABC):
    """The episodic memories of ``num_envs`` environments (see the module docstring)."""

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs

    @abstractmethod
    def step(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Score one time step for every env, (N,), from the memory; then add the step."""

    @abstractmethod
    def reset(self, ended: torch.Tensor) -> None:
        """Empty the memories of the envs where ``ended`` (N,) is True."""

    def walk(self, inputs: tuple[torch.Tensor, ...], ended: torch.Tensor) -> torch.Tensor:
        """Advance over a whole rollout: scores (T, N). For t in time order, `step` on the
        inputs of step t, then `reset` of the envs with ``ended[t]``. A memory may override
        this with a batched computation of the same scores and end memory (E3B does)."""
        scores = []
        for t in range(ended.shape[0]):
            scores.append(self.step(*(x[t] for x in inputs)))
            if ended[t].any():
                self.reset(ended[t])
        return torch.stack(scores)

    @abstractmethod
    def copy(self) -> EpisodicMemory:
        """An independent copy (the walk advances a copy, never the committed memory)."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Tensors and plain Python values that `load` restores exactly."""

    @abstractmethod
    def load(self, state: dict[str, Any]) -> None:
        """Restore what `state` returned."""


class EpisodicCounts(EpisodicMemory):
    """Per-env visit counts of integer keys in the current episode. ``step(keys)`` returns
    the count of each env's key including this visit (incremented before use, as in the
    RIDE and NovelD releases)."""

    def __init__(self, num_envs: int) -> None:
        super().__init__(num_envs)
        self.tables: list[dict[int, int]] = [{} for _ in range(num_envs)]

    def step(self, *inputs: torch.Tensor) -> torch.Tensor:
        counts = []
        for table, key in zip(self.tables, inputs[0].tolist(), strict=True):
            table[key] = n = table.get(key, 0) + 1
            counts.append(n)
        return torch.tensor(counts, dtype=torch.int64)

    def reset(self, ended: torch.Tensor) -> None:
        for env in ended.nonzero().reshape(-1).tolist():
            self.tables[env] = {}

    def copy(self) -> EpisodicCounts:
        out = EpisodicCounts(self.num_envs)
        out.tables = [dict(table) for table in self.tables]
        return out

    def state(self) -> dict[str, Any]:
        return {
            "keys": [torch.tensor(list(t.keys()), dtype=torch.int64) for t in self.tables],
            "counts": [torch.tensor(list(t.values()), dtype=torch.int64) for t in self.tables],
        }

    def load(self, state: dict[str, Any]) -> None:
        self.tables = [
            dict(zip(k.tolist(), c.tolist(), strict=True))
            for k, c in zip(state["keys"], state["counts"], strict=True)
        ]


def exact_keys(obs: torch.Tensor, kind: str) -> torch.Tensor:
    """(T, N) int64 keys identifying each observation exactly: the state index for discrete
    observations, else the first 8 bytes of the BLAKE2b digest of the observation's bytes
    (deterministic across processes, unlike Python's ``hash``; two different observations
    share a key with probability about 2^-64)."""
    if kind == "discrete":
        return obs.long()
    rows = obs.reshape(obs.shape[0] * obs.shape[1], -1).cpu().contiguous().numpy()
    digests = [hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in rows]
    keys = [int.from_bytes(d, "little", signed=True) for d in digests]
    return torch.tensor(keys, dtype=torch.int64).reshape(obs.shape[0], obs.shape[1])


#: Values of a ``count_key`` config field (see `count_keys`).
COUNT_KEYS = ("state", "obs")


def count_keys(batch: Transitions, count_key: str, kind: str) -> torch.Tensor:
    """Keys of the states s_{t+1} an episodic count counts, (T, N) int64: the task's
    `Transitions.state_keys` when ``count_key == "state"`` and the task gives them, else the
    exact next observation (`exact_keys`)."""
    if count_key == "state" and batch.state_keys is not None:
        return batch.state_keys.long().cpu()
    return exact_keys(batch.next_obs, kind)


class EpisodicBonus(IntrinsicBonus):
    """A bonus with per-env episodic memory (see the module docstring). Subclasses implement
    `new_memory` and `memory_inputs`; `compute` calls `episodic_walk`, `update` calls
    `commit_walk` before training."""

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        self.memory: EpisodicMemory | None = None
        #: (weak reference to the batch, scores, memory) of the last walk; None once the
        #: committed memory changed.
        self._walk_cache: tuple[Any, torch.Tensor, EpisodicMemory] | None = None

    @abstractmethod
    def new_memory(self, num_envs: int) -> EpisodicMemory:
        """Empty memories for ``num_envs`` envs."""

    @abstractmethod
    def memory_inputs(self, batch: Transitions) -> tuple[torch.Tensor, ...]:
        """What the memory steps on, each shaped (T, N, ...): embeddings, count keys."""

    def episodic_walk(self, batch: Transitions) -> torch.Tensor:
        """The memory's scores (T, N) on the rollout, walked in time order from the committed
        memory. Pure: the committed memory is not changed."""
        return self._walk(batch)[0].clone()

    def commit_walk(self, batch: Transitions) -> torch.Tensor:
        """Commit the memory at the end of ``batch`` (call it before training, so that the
        memory holds what `compute` scored with); returns the walk's scores."""
        scores, memory = self._walk(batch)
        self.memory = memory
        self._invalidate()
        return scores

    @torch.no_grad()
    def _walk(self, batch: Transitions) -> tuple[torch.Tensor, EpisodicMemory]:
        cache = self._walk_cache
        if cache is not None and cache[0]() is batch:
            return cache[1], cache[2]
        inputs = self.memory_inputs(batch)
        ended = (batch.terminated.bool() | batch.truncated.bool()).cpu()
        committed = self.memory
        if committed is None or committed.num_envs != batch.num_envs:
            memory = self.new_memory(batch.num_envs)
        else:
            memory = committed.copy()
        out = memory.walk(inputs, ended)
        self._walk_cache = (weakref.ref(batch), out, memory)
        return out, memory

    def _invalidate(self) -> None:
        self._walk_cache = None

    def get_extra_state(self) -> Any:
        memory = None
        if self.memory is not None:
            memory = {"num_envs": self.memory.num_envs, **self.memory.state()}
        return {**super().get_extra_state(), "episodic_memory": memory}

    def set_extra_state(self, state: Any) -> None:
        super().set_extra_state(state)
        self._invalidate()
        saved = state.get("episodic_memory")
        if saved is None:
            self.memory = None
            return
        self.memory = self.new_memory(int(saved["num_envs"]))
        self.memory.load(saved)


class EpisodicCountBonus(EpisodicBonus):
    """An episodic bonus whose memory counts visits of the exact next state (NovelD, RIDE):
    `EpisodicCounts` stepping on `count_keys` of the config's ``count_key``."""

    def new_memory(self, num_envs: int) -> EpisodicCounts:
        return EpisodicCounts(num_envs)

    def memory_inputs(self, batch: Transitions) -> tuple[torch.Tensor, ...]:
        return (count_keys(batch, self.config.count_key, self.obs_kind),)  # type: ignore[attr-defined]
