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

from explore_bench.envs.catalog import EMI_GAMES, NAMESPACE, register_all
from explore_bench.envs.tasks import Task, resolve_task
from explore_bench.plugins import registry
from explore_bench.plugins.registry import UnknownNameError

NORMALIZATIONS = ("card", "none")

#: Evidence budgets in env steps per run (calibration figures: specs/evidence.toml).
EVIDENCE_MINI_STEPS = {"DeepSea20": 100_000, "FourRooms": 100_000, "SparseMountainCar": 100_000}
#: The MiniGrid part's rerun (issue 31): 400 iterations of 8 x 128, 8 times the first run's
#: 50k, sized from the envpool rates to fit about 4 hours with 2 workers (specs/evidence.toml);
#: the first run (with KeyCorridorS3R1 at 204,800) is results/evidence-first-run.
EVIDENCE_MINIGRID_STEPS = {
    "DoorKey8x8": 409_600,
    "KeyCorridorS3R3": 409_600,
    "MultiRoomN4S5": 409_600,
}
#: Steps per reproduce-rlexplore run: 1M environment steps rounded up to whole 256 x 32
#: rollouts (128 iterations), RLeXplore's Table 8 budget on DoorKey-8x8 and, on
#: MultiRoom-N4-S5 (the 6-room -v0 their curves ran, on the minigrid package), the most the
#: measured rates fit in about DoorKey's wall time (the arithmetic:
#: specs/reproduce-rlexplore.toml).
REPRODUCE_RLEXPLORE_STEPS = {"DoorKey8x8": 128 * 256 * 32, "MultiRoomN6S5": 128 * 256 * 32}
#: TRPO steps per evidence-emi run: 52 whole 50k-step iterations of the emi-mujoco preset, the
#: most that the first (1.2M-step) run's measured rates fit in about 2 hours
#: (specs/evidence-emi.toml; that run is kept in results/evidence-emi-1.2m).
EVIDENCE_EMI_STEPS = 52 * 50_000


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
    #: Preset applied to every run ("" = the agent's defaults), see explore_bench.settings.presets.
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

# The `evidence` matrix (specs/evidence*.toml): every bonus x PPO x these tasks x 5 seeds,
# budgets calibrated so that the whole matrix runs in about 3 hours with 2 workers on a
# 2-core machine (the calibration figures are in specs/evidence.toml). The mini and the
# MiniGrid parts are suites of their own so that they can be run one after the other.
EVIDENCE_MINI = (
    SuiteTask(task=f"{_NS}/DeepSea20-v0", steps=EVIDENCE_MINI_STEPS["DeepSea20"]),
    SuiteTask(task=f"{_NS}/FourRooms-v0", steps=EVIDENCE_MINI_STEPS["FourRooms"]),
    SuiteTask(task=f"{_NS}/SparseMountainCar-v0", steps=EVIDENCE_MINI_STEPS["SparseMountainCar"]),
)
EVIDENCE_MINIGRID = tuple(
    SuiteTask(task=f"{_NS}/{name}-v0", steps=steps)
    for name, steps in EVIDENCE_MINIGRID_STEPS.items()
)

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
            name="evidence",
            description="every bonus x PPO on the mini and MiniGrid tasks, about 3 h with 2 "
            "workers on 2 cores (parts: evidence-mini, evidence-minigrid)",
            tasks=EVIDENCE_MINI + EVIDENCE_MINIGRID,
        ),
        Suite(
            name="evidence-mini",
            description="the evidence matrix's mini part",
            tasks=EVIDENCE_MINI,
        ),
        Suite(
            name="evidence-minigrid",
            description="the evidence matrix's MiniGrid part",
            tasks=EVIDENCE_MINIGRID,
        ),
        Suite(
            name="evidence-emi",
            description="EMI paper's TRPO on its sparse MuJoCo tasks at the budget that fits "
            "about 2 h with 2 workers on 2 cores",
            tasks=(
                SuiteTask(task=f"{_NS}/SparseHalfCheetah-v0", steps=EVIDENCE_EMI_STEPS),
                SuiteTask(task=f"{_NS}/SwimmerGather-v0", steps=EVIDENCE_EMI_STEPS),
            ),
            agent="trpo",
            preset="emi-mujoco",
        ),
        Suite(
            name="reproduce-rlexplore",
            description="RLeXplore's published MiniGrid budgets (Yuan et al. 2025: Table 8's "
            "DoorKey-8x8 at 1M steps; MultiRoom-N4-S5 at 1M, read off their Figure 26), raw "
            "returns as they report them",
            tasks=tuple(
                SuiteTask(task=f"{_NS}/{name}-v0", steps=steps)
                for name, steps in REPRODUCE_RLEXPLORE_STEPS.items()
            ),
            normalization="none",
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


def budget_table() -> str:
    """Every suite's tasks and step budgets, for ``explore-bench list --tasks``."""
    rows = [("suite", "agent", "seeds", "task", "steps")]
    for suite in SUITES.values():
        agent = suite.agent + (f" ({suite.preset})" if suite.preset else "")
        for t in suite.tasks:
            rows.append((suite.name, agent, str(suite.seeds), t.task, f"{t.steps:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i == len(r) - 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))
        )
        for r in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


_CARD_FIELDS_SHOWN = (
    "frame_skip",
    "sticky_actions",
    "observation",
    "horizon",
    "reward_clip",
    "termination",
    "random_score",
    "reference_score",
    "reference_kind",
    "sparse",
    "success_threshold",
    "notes",
)


def format_task_index() -> str:
    """One line per registered task, its name and description, for ``explore-bench list``."""
    register_all()
    names = registry.tasks.names()
    width = max((len(n) for n in names), default=0)
    lines = []
    for name in names:
        try:
            description = resolve_task(name).description
        except Exception as exc:  # a broken third-party task must not hide the others
            description = f"BROKEN: {exc}"
        lines.append(f"  {name:<{width}}  {description}".rstrip())
    lines.append("  (any other gymnasium id also works, with the environment's defaults)")
    return "\n".join(lines)


def format_task_cards() -> str:
    """Every registered task with its protocol card, for ``explore-bench list --tasks``."""
    register_all()
    budgets: dict[str, list[str]] = {}
    for suite in SUITES.values():
        for t in suite.tasks:
            budgets.setdefault(t.task, []).append(f"{suite.name} {t.steps:,}")
    blocks = []
    for name in registry.tasks.names():
        try:
            task: Task = resolve_task(name)
        except Exception as exc:  # a broken third-party task must not hide the others
            blocks.append(f"{name}\n  BROKEN: {exc}")
            continue
        lines = [name + (f"  -  {task.description}" if task.description else "")]
        card = dataclasses.asdict(task.card)
        width = max(len(k) for k in _CARD_FIELDS_SHOWN)
        for key in _CARD_FIELDS_SHOWN:
            lines.append(f"  {key:<{width}}  {card[key]}")
        if task.env_id != name:
            lines.append(f"  {'env_id':<{width}}  {task.env_id}")
        lines.append(f"  {'coverage':<{width}}  {'yes' if task.coverage else 'no'}")
        lines.append(f"  {'budgets':<{width}}  {'; '.join(budgets.get(name, ())) or '-'}")
        blocks.append("\n".join(lines))
    blocks.append("Step budgets of the suites (matrix specs refer to them):\n" + budget_table())
    blocks.append(
        "Any other gymnasium id also works as a task, with the environment's default settings."
    )
    return "\n\n".join(blocks)
