"""Tasks: a gymnasium environment plus the protocol it is run under.

Every task carries a `ProtocolCard` that is written into each run's config.json, so that a
result always states how the environment was configured. Any gymnasium id works as a task
(with a card that says "environment defaults"); the suite's own tasks are registered in
`explore_bench.plugins.registry.tasks` by the modules under ``explore_bench.envs``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from agents.hooks import Coverage
from explore_bench.plugins import registry

#: `ProtocolCard.final_score` values.
FINAL_SCORES = ("mode", "sampled")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProtocolCard:
    """How a task's environment is configured; stated in every run and report."""

    #: Environment frames per agent step.
    frame_skip: int = 1
    #: Probability that the previous action is repeated (Machado et al. 2018); 0 = none.
    sticky_actions: float = 0.0
    #: What the agent observes (preprocessing, stacking).
    observation: str = "environment default"
    #: Agent steps after which an episode is truncated; None = the environment's own limit.
    horizon: int | None = None
    #: Rewards the learner sees are clipped to [-c, c]; the raw score is still logged.
    reward_clip: float | None = None
    #: What ends an episode (and whether a lost life does).
    termination: str = "environment default"
    #: Mean score of a uniformly random policy, for normalisation.
    random_score: float | None = None
    #: Reference score that maps to 1.0 (a human score for Atari, a stated target otherwise).
    reference_score: float | None = None
    #: Where the reference score comes from ("human", "stated target", ...).
    reference_kind: str = "none"
    #: Sparse-reward task: reports show a success rate beside IQM.
    sparse: bool = False
    #: A score at or above which an episode counts as a success (sparse tasks).
    success_threshold: float | None = None
    #: The final score's policy: "mode" (the most likely action; deterministic evaluation)
    #: or "sampled" (actions drawn from the policy, as its training episodes are). A run's
    #: ``eval_return`` uses it; a "sampled" card's runs log the mode's as
    #: ``eval_return_mode`` beside it. Compare with a published figure on its measure only.
    final_score: str = "mode"
    #: Free-form notes (what differs from the original, and why).
    notes: str = ""

    #: What a card written before a field existed stated: every run before issue 31
    #: evaluated the policy's mode (``agent.eval_deterministic`` was true throughout).
    legacy_fields: ClassVar[Mapping[str, Any]] = {"final_score": "mode"}

    def __post_init__(self) -> None:
        if self.final_score not in FINAL_SCORES:
            raise ValueError(
                f"final_score must be one of {', '.join(FINAL_SCORES)}, got {self.final_score!r}"
            )

    @property
    def deterministic(self) -> bool:
        """Whether the final score's evaluation takes the policy's most likely action."""
        return self.final_score == "mode"

    def normalize(self, score: float | np.ndarray) -> float | np.ndarray:
        """(score - random) / (reference - random); raises if the card has no constants."""
        if self.random_score is None or self.reference_score is None:
            raise ValueError("this task's card states no random/reference scores")
        return (score - self.random_score) / (self.reference_score - self.random_score)


#: Counts how much of a task's state space the agent has visited; the agents own the protocol.
CoverageTracker = Coverage


@dataclasses.dataclass(frozen=True, kw_only=True)
class Task:
    """A named environment with its protocol card."""

    #: Name used on the command line and in the results tree.
    name: str
    #: The gymnasium id that `make_env` builds.
    env_id: str
    #: The protocol this task is run under.
    card: ProtocolCard = ProtocolCard()
    #: Keyword arguments for `gymnasium.make`.
    make_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Wrappers applied in order after `gymnasium.make`.
    wrappers: tuple[Callable[[gym.Env], gym.Env], ...] = ()
    #: Builds a fresh coverage tracker, or None when the task has no coverage metric.
    coverage: Callable[[], CoverageTracker] | None = None
    #: One line for `explore-bench list --tasks`.
    description: str = ""
    #: Builds ``n`` envs as one native vector env (``run.vector`` "auto"/"native") giving what
    #: `make_env` copies in a same-step-autoreset gymnasium vector env give; None: none.
    make_native_vector: Callable[[int], gym.vector.VectorEnv] | None = None
    #: What `make_native_vector` runs on; when set, the card names the backend a run used.
    native_backend: str = ""
    #: What `make_env` (``run.vector`` "sync"/"async") runs on; named on the card when not
    #: the default or beside a native backend.
    backend: str = "gymnasium"

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        _import_env_backends(self.env_id)
        kwargs = {**self.make_kwargs, **({"render_mode": render_mode} if render_mode else {})}
        env = gym.make(self.env_id, **kwargs)
        for wrap in self.wrappers:
            env = wrap(env)
        return env

    def card_dict(self, vector: str = "auto") -> dict[str, Any]:
        """The card as written into config.json; for a task with a named backend,
        ``backend`` says what a run with ``run.vector=vector`` steps."""
        card = {"name": self.name, "env_id": self.env_id, **dataclasses.asdict(self.card)}
        if self.native_backend or self.backend != "gymnasium":
            native = vector in ("auto", "native") and self.make_native_vector is not None
            card["backend"] = self.native_backend if native else self.backend
        return card


def _import_env_backends(env_id: str) -> None:
    if env_id.startswith("ALE/"):
        import ale_py

        gym.register_envs(ale_py)


def resolve_task(name: str) -> Task:
    """The registered task ``name``, or a plain task for any gymnasium id."""
    if name in registry.tasks.names():
        task = registry.tasks.load(name)
        if callable(task) and not isinstance(task, Task):
            task = task()
        if not isinstance(task, Task):
            raise TypeError(f"task {name!r} is registered as {task!r}, not a Task")
        return task
    _import_env_backends(name)
    try:
        gym.spec(name)
    except Exception as exc:
        known = registry.tasks.names()
        candidates = known + [k for k in gym.registry if "/" not in k or k.startswith("ALE/")]
        raise registry.UnknownNameError(
            f"unknown task {name!r}{registry.did_you_mean(name, candidates)} "
            "It is neither a registered task "
            f"({', '.join(known) or 'none registered'}) nor a gymnasium id "
            f"(see `explore-bench list --tasks`)."
        ) from exc
    return Task(name=name, env_id=name, description="gymnasium id with its default settings")


def step_infos(infos: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Per-env info values of the step just taken, from a same-step-autoreset vector env.

    For envs whose episode ended this step, gymnasium moves the step's info into
    ``infos["final_info"]`` and puts the reset info at the top level; this undoes that, so
    ``out[key][n]`` is always env n's value for this step (``out["_" + key]`` marks presence).
    """
    final = infos.get("final_info", {})
    ended = infos.get("_final_info")
    out: dict[str, np.ndarray] = {}
    keys = {k for k in infos if not k.startswith("_") and k not in ("final_info", "final_obs")}
    keys |= {k for k in final if not k.startswith("_")}
    for key in keys:
        if key in infos and key in final and ended is not None:
            value = np.where(ended, final[key], infos[key])
            mask = np.where(ended, final[f"_{key}"], infos[f"_{key}"])
        elif key in final and ended is not None:
            value, mask = final[key], final[f"_{key}"] & ended
        else:
            mask = infos[f"_{key}"] & (~ended if ended is not None else True)
            value = infos[key]
        out[key] = value
        out[f"_{key}"] = mask
    return out


def raw_rewards(reward: np.ndarray, step_info: Mapping[str, np.ndarray]) -> np.ndarray:
    """Each env's game score for this step: ``info["raw_reward"]`` where a wrapper set it
    (the learner's reward is clipped there), else the reward itself. ``step_info`` is the
    output of `step_infos`."""
    if "raw_reward" not in step_info:
        return reward
    return np.where(step_info["_raw_reward"], step_info["raw_reward"], reward)


def read_step(
    reward: np.ndarray, infos: Mapping[str, Any], need_info: bool
) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    """The `agents.hooks.StepInfoReader` the runner hands to agents: each env's game score
    (`raw_rewards`) and, when asked for or needed for the score, its info (`step_infos`)."""
    if (
        not need_info
        and "raw_reward" not in infos
        and "raw_reward" not in infos.get("final_info", ())
    ):
        return reward, None
    info = step_infos(infos)
    return raw_rewards(reward, info), info
