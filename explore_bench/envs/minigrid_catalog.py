"""The suite's MiniGrid tasks as data: ids on both backends, horizons, reference figures,
protocol cards.

Two backends build the same task (see `minigrid_envpool`): envpool's C++ engine
(``run.vector=auto``/``native``, the default) and the minigrid package wrapped in
`minigrid_tasks.SymbolicView` (``run.vector=sync``/``async``, the reference). MultiRoom runs
on the package under ``auto`` too: envpool 1.2.5's MultiRoom generator draws layouts with no
path to the goal (`MULTIROOM_DEFECT`). Importing this module imports neither.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import gymnasium as gym

from explore_bench.envs.tasks import ProtocolCard


@dataclasses.dataclass(frozen=True)
class MiniGridTask:
    """One MiniGrid task of the suite, with its measured reference figures."""

    #: Name under the suite's namespace.
    name: str
    #: The minigrid package's id it wraps.
    minigrid_id: str
    #: The package's max_steps T (checked against both backends by the tests).
    max_steps: int
    #: What the layout is.
    layout: str
    #: Mean return of uniform random actions, and over how many episodes.
    random_score: float
    random_episodes: int
    #: Mean of 1 - 0.9 t*/T over layouts, t* the fewest steps (BFS), and how many layouts;
    #: 0 layouts: not computed (the search is too large), the card states the bound 1.
    optimal_score: float
    optimal_layouts: int
    #: The backend the random score was measured on ("package" or "envpool").
    random_on: str = "package"
    #: envpool's id of the same task ("" = the package's id).
    envpool_id: str = ""
    #: Settings handed to ``envpool.make`` so that its task is the package's.
    envpool_config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: (width, height) of the package's grid where envpool draws a larger one (its extra
    #: rooms sealed off): the grid it hashes for state keys is cut to it.
    grid_crop: tuple[int, int] | None = None
    #: What differs on the envpool backend beyond the layout draws.
    envpool_note: str = ""
    #: Why envpool must not run this task ("" = it runs it under ``auto``/``native``); set,
    #: the task has no native vector env and ``auto`` runs the package.
    envpool_defect: str = ""

    @property
    def engine_id(self) -> str:
        return self.envpool_id or self.minigrid_id


def _doorkey(size: int, random: float, episodes: int, optimal: float, layouts: int) -> MiniGridTask:
    return MiniGridTask(
        f"DoorKey{size}x{size}",
        f"MiniGrid-DoorKey-{size}x{size}-v0",
        10 * size * size,
        f"two rooms split by a wall with a locked door on a {size} x {size} grid; the key on "
        "the agent's side, the goal in the far corner (layout drawn per episode)",
        random,
        episodes,
        optimal,
        layouts,
    )


def _corridor(
    size: int, random: float, episodes: int, optimal: float, layouts: int
) -> MiniGridTask:
    return MiniGridTask(
        f"KeyCorridorS{size}R3",
        f"MiniGrid-KeyCorridorS{size}R3-v0",
        30 * size * size,
        f"a corridor between 3 x 2 rooms of side {size}; the ball to pick up sits behind a "
        "locked door, its key in another room (layout drawn per episode)",
        random,
        episodes,
        optimal,
        layouts,
    )


#: Why the MultiRoom tasks do not run on envpool (docs/research/envpool-multiroom-layouts.md):
#: its generator (envpool 1.2.5) sets some rooms' exit doors in walls that open onto the next
#: room's wall, so the goal is walled off in 93 (N2-S4), 195 (N4-S5, 4 rooms), 247 (6 rooms)
#: and 199 (N6) of seeds 0-299, against 0 of 300 on the package; E3B at 1M steps, seed 0:
#: RLeXplore's code 0.68 on the package, the suite's 0.61 on the package and 0.09 on envpool.
#: The package's generator is the reference, so it runs these tasks.
MULTIROOM_DEFECT = (
    "envpool 1.2.5's MultiRoom generator draws layouts with no path to the goal (195 of 300 "
    "seeds of the 4-room task, the package 0 of 300; docs/research/envpool-multiroom-"
    "layouts.md), so run.vector=auto runs the minigrid package here and there is no native "
    "vector env."
)

#: Reference figures measured with ``python -m explore_bench.envs.minigrid_tasks EPISODES
#: LAYOUTS ID...`` on the package (episode / layout k reset with seed k; uniform random
#: actions over all 7). The first six are the suite's original tasks; the others are the
#: harder rungs the papers use (RIDE, NovelD, RLeXplore), their random scores measured on
#: envpool (16 envs seeded 0, 1,000 episodes; the backends agree in distribution) except
#: MultiRoom's (the package, 1,000 episodes, 2026-12-06: 0 on both), their optimal scores by
#: the same search where it finishes (DoorKey5x5, 5 layouts).
MINIGRID_TASKS = (
    _doorkey(8, 0.0118, 100, 0.9769, 20),
    _corridor(3, 0.0, 100, 0.9317, 20),
    dataclasses.replace(
        _doorkey(6, 0.0319, 200, 0.9694, 50),
        layout="DoorKey on a 6 x 6 grid (4 x 4 inside): the cheaper rung of DoorKey-8x8",
    ),
    MiniGridTask(
        "KeyCorridorS3R1",
        "MiniGrid-KeyCorridorS3R1-v0",
        270,
        "KeyCorridor with one row of rooms of side 3: the cheaper rung of KeyCorridorS3R3",
        0.0285,
        200,
        0.9509,
        50,
    ),
    MiniGridTask(
        "MultiRoomN2S4",
        "MiniGrid-MultiRoom-N2-S4-v0",
        40,
        "2 rooms of side at most 4 joined by a closed door: the cheaper rung of MultiRoom-N4-S5",
        0.0092,
        200,
        0.8344,
        50,
        envpool_defect=MULTIROOM_DEFECT,
    ),
    MiniGridTask(
        "MultiRoomN4S5",
        "MiniGrid-MultiRoom-N4-S5-v1",
        80,
        "4 rooms of side at most 5 chained by closed (unlocked) doors, goal in the last "
        "(the package's -v1: its -v0 of this name has 6 rooms)",
        0.0,
        100,
        0.7654,
        20,
        envpool_id="MiniGrid-MultiRoom-N4-S5-v0",
        envpool_config={"min_num_rooms": 4, "max_num_rooms": 4},
        envpool_note="envpool registers only the 6-room -v0 of this name; it is made with "
        "4 rooms and the package's 80 steps here.",
        envpool_defect=MULTIROOM_DEFECT,
    ),
    MiniGridTask(
        "MultiRoomN6S5",
        "MiniGrid-MultiRoom-N4-S5-v0",
        120,
        "6 rooms of side at most 5 chained by closed (unlocked) doors, goal in the last: the "
        "package's -v0 of the name MultiRoom-N4-S5, the task RLeXplore's MultiRoom-N4-S5 "
        "curves ran (minigrid 2.x and 3.x register that id with 6 rooms)",
        0.0,
        1000,
        0.0,
        0,
        envpool_defect=MULTIROOM_DEFECT,
    ),
    dataclasses.replace(_doorkey(5, 0.0303, 1000, 0.9640, 5), random_on="envpool"),
    dataclasses.replace(_doorkey(16, 0.0016, 1000, 0.0, 0), random_on="envpool"),
    dataclasses.replace(_corridor(4, 0.0, 1000, 0.0, 0), random_on="envpool"),
    dataclasses.replace(_corridor(5, 0.0, 1000, 0.0, 0), random_on="envpool"),
    dataclasses.replace(_corridor(6, 0.0, 1000, 0.0, 0), random_on="envpool"),
    MiniGridTask(
        "MultiRoomN6",
        "MiniGrid-MultiRoom-N6-v0",
        120,
        "6 rooms of side at most 10 chained by closed (unlocked) doors, goal in the last",
        0.0,
        1000,
        0.0,
        0,
        envpool_defect=MULTIROOM_DEFECT,
    ),
    MiniGridTask(
        "ObstructedMaze1Dl",
        "MiniGrid-ObstructedMaze-1Dl-v0",
        288,
        "2 rooms joined by a locked door; the key lies in the agent's room, the ball to pick "
        "up in the other",
        0.0013,
        1000,
        0.0,
        0,
        random_on="envpool",
        grid_crop=(11, 6),
        envpool_note="envpool lays this task out on the full maze's 3 x 3-room grid (16 x "
        "16) with the 7 rooms beyond the package's 2 walled off; the views are the same, and "
        "state keys hash the package's 11 x 6 part.",
    ),
    MiniGridTask(
        "ObstructedMaze2Dlh",
        "MiniGrid-ObstructedMaze-2Dlh-v0",
        576,
        "the full maze's 3 x 3 rooms with one quarter in play: the ball to pick up lies two "
        "locked doors away from the agent's room, each door's key hidden in a box",
        0.0037,
        1000,
        0.0,
        0,
        random_on="envpool",
    ),
)


@functools.cache
def envpool_version() -> str | None:
    """The installed envpool's version, or None when it cannot be imported (no wheel for
    this platform): MiniGrid tasks then run on the minigrid package under ``auto`` too."""
    if importlib.util.find_spec("envpool") is None:
        return None
    return metadata.version("envpool")


def native_vector(task: MiniGridTask, num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``task`` on envpool (`minigrid_envpool`)."""
    from explore_bench.envs.minigrid_envpool import EnvpoolMiniGridVectorEnv  # loads envpool

    return EnvpoolMiniGridVectorEnv(
        task.engine_id,
        num_envs,
        max_steps=task.max_steps,
        config=task.envpool_config,
        grid_crop=task.grid_crop,
    )


def backends(task: MiniGridTask) -> tuple[str, str]:
    """What the card names as the backend: (envpool's, the package's)."""
    native = f"envpool {envpool_version()} C++ MiniGrid ({task.engine_id}), one thread"
    try:
        package = f"minigrid {metadata.version('minigrid')}"
    except metadata.PackageNotFoundError:
        package = "minigrid"
    return native, f"{package} package ({task.minigrid_id}) + SymbolicView, gymnasium vector env"


def card(t: MiniGridTask) -> ProtocolCard:
    """The protocol card of ``t``; the same on both backends."""
    random = f"uniform random actions over {t.random_episodes} episodes" + (
        " on envpool" if t.random_on == "envpool" else ""
    )
    reference = (
        f"optimal: mean over {t.optimal_layouts} layouts of 1 - 0.9 t*/T, t* the fewest "
        "steps found by breadth-first search"
        if t.optimal_layouts
        else "upper bound: 1, the score of a success at step 0 (the breadth-first search "
        "for the optimum is too large on this task)"
    )
    return ProtocolCard(
        observation="(3, 7, 7) uint8: the partial egocentric symbolic view "
        "(object, colour, state), channel-first",
        horizon=t.max_steps,
        termination=f"goal reached; else truncated at {t.max_steps} steps (the package's "
        "max_steps)",
        random_score=t.random_score,
        reference_score=t.optimal_score if t.optimal_layouts else 1.0,
        reference_kind=reference,
        sparse=True,
        success_threshold=0.05,
        # The field's measure: RLeXplore (rllte `reward` branch on_policy_agent.py, the last
        # 10 training episodes), RIDE and NovelD (their training episodes' return) score the
        # sampled policy; an argmax policy often loops on MiniGrid (issue 31: DoorKey8x8 at 1M
        # steps, training return 0.32-0.69 where the argmax evaluation scored 0).
        final_score="sampled",
        notes=f"minigrid {t.minigrid_id}: {t.layout}. Reward 1 - 0.9 t/T on success at step t "
        "(so any success scores >= 0.1), else 0; actions: minigrid's 7. Random score: "
        f"{random}. info['state_key'] hashes the full grid and the agent's pose (NovelD/RIDE "
        "episodic counts), the same function of the state on both backends. Coverage: share "
        "of the layout's reachable cells visited per episode (mean of the last 100 "
        "episodes); train_success_rate is logged beside it. " + _backend_note(t),
    )


def _backend_note(t: MiniGridTask) -> str:
    if t.envpool_defect:
        return f"Backend: the minigrid package under every run.vector: {t.envpool_defect}"
    return (
        "Backends: envpool (run.vector=auto/native) and the minigrid package (sync/async) give "
        "the same views, rewards, ends, keys and coverage; they draw layouts from different "
        "generators, so a seed gives other layouts on each (equal in distribution, tested)."
        + (f" {t.envpool_note}" if t.envpool_note else "")
    )
