"""The suite's tasks as data: gymnasium registrations plus `Task` objects with protocol cards.

Importing this module is cheap (gymnasium and numpy only): environments are registered by
entry-point strings, so MuJoCo and ale-py load only when an environment is made.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import gymnasium as gym

from explore_bench.envs.coverage import (
    ROOM_RAM_BYTE,
    DistinctCount,
    EpisodeCoverage,
    GridCoverage,
    StateCoverage,
)
from explore_bench.envs.minigrid_catalog import MINIGRID_TASKS, envpool_version
from explore_bench.envs.minigrid_catalog import backends as minigrid_backends
from explore_bench.envs.minigrid_catalog import card as minigrid_card
from explore_bench.envs.minigrid_catalog import native_vector as minigrid_native_vector
from explore_bench.envs.tasks import ProtocolCard, Task
from explore_bench.plugins import registry

NAMESPACE = "explore_bench"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """One task: what gymnasium registers and what the task registry holds."""

    #: The task's gymnasium id (also its task name).
    id: str
    #: "module:callable" building the bare environment.
    entry_point: str
    #: Keyword arguments for the entry point.
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: TimeLimit set by gymnasium.make (None: the environment ends episodes itself).
    max_episode_steps: int | None = None
    #: The protocol card.
    card: ProtocolCard
    #: Coverage tracker factory.
    coverage: Any = None
    #: Native vector-env factory (num_envs -> VectorEnv) reproducing the card, or None.
    native_vector: Any = None
    #: What the native vector env runs on, named on the card ("": the card names none).
    native_backend: str = ""
    #: What the gymnasium vector env runs on, named on the card beside ``native_backend``.
    backend: str = "gymnasium"
    #: One line for `explore-bench list --tasks`.
    description: str = ""

    def task(self) -> Task:
        return Task(
            name=self.id,
            env_id=self.id,
            card=self.card,
            coverage=self.coverage,
            description=self.description,
            make_native_vector=self.native_vector,
            native_backend=self.native_backend,
            backend=self.backend,
        )


def _sparse_card(**fields: Any) -> ProtocolCard:
    """Card of a sparse task a random policy never solves: random score 0, success at 1."""
    return ProtocolCard(**{"random_score": 0.0, "sparse": True, "success_threshold": 1.0, **fields})


def _mujoco_specs() -> list[TaskSpec]:
    ep = f"{__package__}.sparse_half_cheetah:SparseHalfCheetahEnv"
    cheetah = TaskSpec(
        id=f"{NAMESPACE}/SparseHalfCheetah-v0",
        entry_point=ep,
        max_episode_steps=500,
        card=_sparse_card(
            frame_skip=1,
            observation="20-d: qpos[1:] (8), qvel (9), whole-body centre of mass (3)",
            horizon=500,
            termination="never terminates; truncated at 500 steps (5 s at dt 0.01)",
            reference_score=250.0,
            reference_kind="stated target: |COM_x| > 5 m for the last half of the episode",
            notes="rllab/VIME SparseHalfCheetah: reward 1 per step while |COM_x| > 5; "
            "gymnasium half_cheetah model, timestep 0.01, frame skip 1; reset noise "
            "qpos N(0, 0.01^2), qvel N(0, 0.1^2). Uniform random actions: return 0 in "
            "40 of 40 episodes (max |COM_x| 1.3 m). Coverage: 60 cells of 0.5 m over COM_x "
            "in [-15, 15].",
        ),
        coverage=functools.partial(
            GridCoverage, ("com_x",), (-15.0,), (15.0,), (60,), "coverage_com_cells"
        ),
        description="VIME/EMI sparse locomotion: reward 1 while the COM is > 5 m from start",
    )
    gather = TaskSpec(
        id=f"{NAMESPACE}/SwimmerGather-v0",
        entry_point=f"{__package__}.swimmer_gather:SwimmerGatherEnv",
        max_episode_steps=500,
        card=_sparse_card(
            frame_skip=50,
            observation="33-d: qpos (5), qvel (5), COM (3), apple sensor (10), bomb sensor (10)",
            horizon=500,
            termination="all 8 apples and 8 bombs caught; else truncated at 500 steps",
            reference_score=1.0,
            reference_kind="stated target: one apple more than bombs per episode",
            notes="rllab gather with the swimmer: Euler, timestep 0.001 x 50, viscosity "
            "0.1, density 4000, control +-50 from actions in [-1, 1], walls at +-7 without "
            "contacts; physics approximate (current MuJoCo fluid model). Uniform random "
            "actions: return 0 in 100 of 100 episodes. Coverage: 14 x 14 cells of 1 m over "
            "the COM's x-y in [-7, 7]^2.",
        ),
        coverage=functools.partial(
            GridCoverage,
            ("com_x", "com_y"),
            (-7.0, -7.0),
            (7.0, 7.0),
            (14, 14),
            "coverage_com_cells",
        ),
        description="VIME/EMI gather: swimmer collects apples (+1), avoids bombs (-1)",
    )
    return [cheetah, gather]


#: game: (random, human) from Mnih et al. (2015) / Badia et al. (2020), as in rliable.
ATARI_SCORES = {
    "Freeway": (0.0, 29.6),
    "Frostbite": (65.2, 4334.7),
    "Gravitar": (173.0, 3351.4),
    "MontezumaRevenge": (0.0, 4753.3),
    "Solaris": (1236.3, 12326.7),
    "Venture": (0.0, 1187.5),
    "Pong": (-20.7, 14.6),
    "Breakout": (1.7, 30.5),
    "Seaquest": (68.4, 42054.7),
}
EMI_GAMES = ("Freeway", "Frostbite", "Gravitar", "MontezumaRevenge", "Solaris", "Venture")
MODERN_GAMES = (*EMI_GAMES, "Pong", "Breakout", "Seaquest")
#: Games where a random policy scores 0 and any point marks progress (success = score >= 1).
SPARSE_GAMES = ("Freeway", "MontezumaRevenge", "Venture")


#: Agent steps per episode (EMI: 4,500; modern: ALE v5's 108,000 frames / 4).
ATARI_HORIZON = {"emi": 4_500, "modern": 27_000}
_ATARI_OBS = {
    "emi": "4 stacked grayscale 52x52 frames (uint8, INTER_AREA), max over the last 2 of 4",
    "modern": "4 stacked grayscale 84x84 frames (uint8, INTER_AREA), max over the last 2 of 4",
}


def _atari_spec(game: str, protocol: str) -> TaskSpec:
    random_score, human = ATARI_SCORES[game]
    sparse, room_byte = game in SPARSE_GAMES, ROOM_RAM_BYTE.get(game)
    horizon = ATARI_HORIZON[protocol]
    where = (
        "EMI paper protocol (Kim et al. 2019; Tang et al. 2017)"
        if protocol == "emi"
        else "modern protocol (Machado et al. 2018)"
    )
    return TaskSpec(
        id=f"{NAMESPACE}/{game}-{protocol}-v0",
        entry_point=f"{__package__}.atari:make_atari",
        kwargs={"game": game, "protocol": protocol},
        max_episode_steps=horizon,
        card=ProtocolCard(
            frame_skip=4,
            sticky_actions=0.0 if protocol == "emi" else 0.25,
            observation=_ATARI_OBS[protocol],
            horizon=horizon,
            reward_clip=1.0,
            termination=f"game over; no life-loss termination; truncated at {horizon:,} "
            "agent steps",
            random_score=random_score,
            reference_score=human,
            reference_kind="human",
            sparse=sparse,
            success_threshold=1.0 if sparse else None,
            notes=f"{where}: ALE/{game}-v5, minimal action set, no noop or fire reset; the "
            "learner sees rewards clipped to [-1, 1], scores are raw."
            + (
                f" Coverage: distinct rooms (RAM byte {room_byte}). Runs on the gymnasium "
                "stack: ale-py 0.12.1's AtariVectorEnv returns no RAM, so run.vector=native "
                "is refused."
                if room_byte is not None
                else " Backend (run.vector=auto): ale-py's AtariVectorEnv, which gives the "
                "gymnasium stack's frames exactly (checked without sticky actions); sticky "
                "actions draw from ale-py's own generators (same probability, other draws)."
            ),
        ),
        coverage=(
            functools.partial(DistinctCount, "room", "coverage_rooms")
            if room_byte is not None
            else None
        ),
        native_vector=None
        if room_byte is not None
        else functools.partial(_native_atari, game, protocol, horizon),
        description=f"Atari {game}, {where.split(' (')[0]}",
    )


def _native_atari(game: str, protocol: str, horizon: int, num_envs: int) -> gym.vector.VectorEnv:
    from explore_bench.envs.atari import NativeAtariVectorEnv  # ale-py loads here, not before

    return NativeAtariVectorEnv(game, protocol, num_envs, max_episode_steps=horizon)


#: DeepSea size of the mini suite: a random policy finds the treasure once in 2^20 episodes.
DEEP_SEA_SIZE = 20
#: Room side of the mini suite's four-rooms grid (488 free cells).
FOUR_ROOMS_SIZE = 11


def _mini_specs() -> list[TaskSpec]:
    mini = f"{__package__}.mini"
    mountain_car = TaskSpec(
        id=f"{NAMESPACE}/SparseMountainCar-v0",
        entry_point=f"{mini}:SparseMountainCarEnv",
        max_episode_steps=200,
        card=_sparse_card(
            observation="position, velocity, each mapped linearly onto [-1, 1]",
            horizon=200,
            termination="car reaches the flag (x >= 0.5); else truncated at 200 steps",
            reference_score=1.0,
            reference_kind="optimal: reach the flag",
            notes="gymnasium MountainCar-v0 (3 actions) with reward 1 at the flag, 0 otherwise "
            "(sparse MountainCar of Tang et al. 2017). Uniform random actions reached the flag "
            "in 0 of 300 episodes. Observation scaled because raw velocity spans +-0.07. "
            "The continuous variant was dropped: with scaled observations PPO alone solved "
            "it. Coverage: 20 x 20 position-velocity cells.",
        ),
        coverage=functools.partial(
            GridCoverage,
            ("position", "velocity"),
            (-1.2, -0.07),
            (0.6, 0.07),
            (20, 20),
            "coverage_cells",
        ),
        description="discrete MountainCar, reward only at the flag",
    )
    n = DEEP_SEA_SIZE
    n_states = sum(min(r, n - 1) + 1 for r in range(1, n + 1))
    deep_sea = TaskSpec(
        id=f"{NAMESPACE}/DeepSea{n}-v0",
        entry_point=f"{mini}:DeepSeaEnv",
        kwargs={"size": n, "mapping_seed": 0},
        card=ProtocolCard(
            observation=f"one-hot of the cell, ({n} + 1) x {n} = {(n + 1) * n} floats",
            horizon=n,
            termination=f"after {n} steps (the bottom row)",
            random_score=2.0**-n - 0.005,
            reference_score=0.99,
            reference_kind="optimal return",
            sparse=True,
            success_threshold=0.5,
            notes=f"bsuite deep_sea (Osband et al. 2020), deterministic, size {n}, action "
            f"mapping from seed 0, move cost 0.01/{n}; random score is the expectation. "
            f"Coverage: share of the {n_states} cells a step can reach.",
        ),
        coverage=functools.partial(StateCoverage, n_states),
        description=f"DeepSea {n}x{n}: go right at every step to find the treasure",
    )
    rooms = FOUR_ROOMS_SIZE
    side = 2 * rooms + 3
    cells = 4 * rooms * rooms + 4
    four_rooms = TaskSpec(
        id=f"{NAMESPACE}/FourRooms-v0",
        entry_point=f"{mini}:FourRoomsEnv",
        kwargs={"room_size": rooms},
        max_episode_steps=200,
        card=_sparse_card(
            observation=f"one-hot row ({side}) + one-hot column ({side})",
            horizon=200,
            termination="goal cell reached; else truncated at 200 steps",
            reference_score=1.0,
            reference_kind="optimal: reach the goal",
            notes=f"four rooms of {rooms} x {rooms} cells ({cells} free cells), start "
            "top-left, goal bottom-right; reward 1 at the goal. A random policy reached it "
            f"in 0 of 3,000 episodes. Coverage: share of the {cells} free cells.",
        ),
        coverage=functools.partial(StateCoverage, cells),
        description="four-rooms grid world, reward only in the far corner",
    )
    return [mountain_car, deep_sea, four_rooms]


def _minigrid_specs() -> list[TaskSpec]:
    specs = []
    installed = envpool_version() is not None
    for t in MINIGRID_TASKS:
        native, package = minigrid_backends(t)
        envpool = installed and not t.envpool_defect
        specs.append(
            TaskSpec(
                id=f"{NAMESPACE}/{t.name}-v0",
                entry_point=f"{__package__}.minigrid_tasks:make_minigrid",
                kwargs={"minigrid_id": t.minigrid_id},
                card=minigrid_card(t),
                coverage=EpisodeCoverage,
                # without envpool (no wheel for the platform), or where its generator is
                # defective (MultiRoom), "auto" runs the package
                native_vector=functools.partial(minigrid_native_vector, t) if envpool else None,
                native_backend=native if envpool else "",
                backend=package
                + (
                    ""
                    if installed or t.envpool_defect
                    else " (envpool is not installed: run.vector=auto runs this)"
                ),
                description=f"MiniGrid {t.minigrid_id.removeprefix('MiniGrid-')}, "
                "7x7 symbolic view",
            )
        )
    return specs


def all_specs() -> list[TaskSpec]:
    specs = _mujoco_specs()
    specs += [_atari_spec(game, "emi") for game in EMI_GAMES]
    specs += [_atari_spec(game, "modern") for game in MODERN_GAMES]
    specs += _mini_specs()
    specs += _minigrid_specs()
    return specs


def register_all() -> None:
    """Register every task with gymnasium and the task registry (idempotent)."""
    for spec in all_specs():
        if spec.id not in gym.registry:
            gym.register(
                id=spec.id,
                entry_point=spec.entry_point,
                kwargs=dict(spec.kwargs),
                max_episode_steps=spec.max_episode_steps,
            )
        registry.tasks.register(spec.id, spec.task())
