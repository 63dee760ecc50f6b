"""Suites as data: which tasks, with what budget, agent preset and score normalisation.

Matrix specs refer to a suite by name (`get`). Budgets count every environment step.
Paper budgets follow the EMI paper's released scripts (Kim et al., ICML 2019; see
shared/reference/emi.md): TRPO with 50,000-step batches for 2,000 iterations on MuJoCo and
100,000-step batches for 500 iterations (50M agent steps = 200M frames) on Atari. They are
for a cluster; ``mini`` is sized so that 5 seeds of one bonus finish in minutes on 2 cores.
"""

from __future__ import annotations

import dataclasses
import difflib

from explore_bench.envs.catalog import EMI_GAMES, NAMESPACE
from explore_bench.registry import UnknownNameError

NORMALIZATIONS = ("card", "none")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SuiteTask:
    """One task of a suite and its step budget."""

    #: Task name (a registered task or any gymnasium id).
    task: str
    #: Environment-step budget per run (warm-up included).
    steps: int

    def __post_init__(self) -> None:
        if self.steps <= 0:
            raise ValueError(f"SuiteTask.steps must be positive, got {self.steps} ({self.task})")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Suite:
    """A named set of tasks with budgets, the agent (and preset) to run and the normalisation."""

    #: Name used by matrix specs and the command line.
    name: str
    #: One line: what the suite is for.
    description: str
    #: The tasks with their budgets.
    tasks: tuple[SuiteTask, ...]
    #: Agent name the suite is run with.
    agent: str = "ppo"
    #: Preset applied to every run ("" = the agent's defaults), see explore_bench.presets.
    preset: str = ""
    #: Seeds per (bonus, task) cell.
    seeds: int = 5
    #: "card": (score - random) / (reference - random) with each task's card constants
    #: (human scores for Atari); "none": raw scores.
    normalization: str = "card"

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError(f"suite {self.name!r} lists no tasks")
        names = [t.task for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"suite {self.name!r} lists a task twice: {names}")
        if self.seeds < 1:
            raise ValueError(f"suite {self.name!r}: seeds must be >= 1, got {self.seeds}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"suite {self.name!r}: normalization {self.normalization!r} is not one of "
                f"{', '.join(NORMALIZATIONS)}"
            )

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.task for t in self.tasks)

    def budget(self, task: str) -> int:
        """The step budget of ``task`` in this suite."""
        for t in self.tasks:
            if t.task == task:
                return t.steps
        raise UnknownNameError(
            f"task {task!r} is not in suite {self.name!r}: {', '.join(self.task_names)}"
        )


_NS = NAMESPACE

SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            name="smoke",
            description="CI-sized: a few thousand steps on a dense and a sparse task, checks "
            "that runs work",
            tasks=(
                SuiteTask(task="CartPole-v1", steps=4_096),
                SuiteTask(task=f"{_NS}/DeepSea20-v0", steps=4_096),
            ),
            seeds=2,
            normalization="none",
        ),
        Suite(
            name="mini",
            description="one machine: sparse tasks where PPO without a bonus fails, minutes per "
            "5 seeds on 2 cores",
            tasks=(
                SuiteTask(task=f"{_NS}/DeepSea20-v0", steps=100_000),
                SuiteTask(task=f"{_NS}/FourRooms-v0", steps=200_000),
                SuiteTask(task=f"{_NS}/SparseMountainCar-v0", steps=300_000),
            ),
        ),
        Suite(
            name="paper-mujoco",
            description="EMI paper's locomotion tasks with its TRPO (50k-step batches x 2,000)",
            tasks=(
                SuiteTask(task=f"{_NS}/SparseHalfCheetah-v0", steps=2_000 * 50_000),
                SuiteTask(task=f"{_NS}/SwimmerGather-v0", steps=2_000 * 50_000),
            ),
            agent="trpo",
            preset="emi-mujoco",
        ),
        Suite(
            name="paper-atari",
            description="EMI paper's Atari games and protocol with its TRPO (100k batches, "
            "50M steps)",
            tasks=tuple(
                SuiteTask(task=f"{_NS}/{game}-emi-v0", steps=50_000_000) for game in EMI_GAMES
            ),
            agent="trpo",
            preset="emi-atari",
        ),
    )
}


def get(name: str) -> Suite:
    """The suite ``name``; an unknown name lists the known ones and the closest match."""
    if name not in SUITES:
        close = difflib.get_close_matches(name, list(SUITES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(
            f"unknown suite {name!r}{hint} Known suites: {', '.join(sorted(SUITES))}"
        )
    return SUITES[name]


def names() -> list[str]:
    return sorted(SUITES)
