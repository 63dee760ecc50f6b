"""SwimmerGather: rllab's gather task with the swimmer robot (VIME; EMI, Kim et al. 2019).

The swimmer collects apples (+1) and avoids bombs (-1) scattered on a grid; it only sees them
through two 10-bin range sensors. Facts from rllab's ``GatherEnv`` (see
shared/reference/tasks.md): 8 apples then 8 bombs, coordinates ``2 * randint(-3, 3)`` (numpy's
exclusive upper bound: {-6, ..., 4}), (0, 0) excluded, one object per cell, a new layout each
reset; an object is caught when its squared distance to the swimmer's centre of mass is < 1;
the episode ends when nothing is left, else at the 500-step horizon (a TimeLimit).
The physics is approximate: our own model file (assets/swimmer_gather.xml) matches rllab's
numbers on current MuJoCo, whose fluid model differs in detail from MuJoCo 1.31's.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

StepResult = tuple[np.ndarray, float, bool, bool, dict[str, Any]]

APPLE, BOMB = 0, 1
#: Sensor half-span is pi/2 either side of the heading (rllab sensor_span = pi).
SENSOR_SPAN = math.pi
SENSOR_RANGE = 6.0
N_BINS = 10
#: rllab's motors take +-50; the agent acts in [-1, 1].
CTRL_SCALE = 50.0
FRAME_SKIP = 50


def sensor_readings(
    objects: list[tuple[float, float, int]],
    x: float,
    y: float,
    heading: float,
    n_bins: int = N_BINS,
    sensor_range: float = SENSOR_RANGE,
    sensor_span: float = SENSOR_SPAN,
) -> tuple[np.ndarray, np.ndarray]:
    """Apple and bomb readings, ``1 - dist / range`` per bin (rllab ``get_readings``).

    Objects are processed far to near, so within one sensor a nearer object overwrites a
    farther one in the same bin (occlusion); apples and bombs have separate sensors.
    """
    apples = np.zeros(n_bins, dtype=np.float64)
    bombs = np.zeros(n_bins, dtype=np.float64)
    bin_res = sensor_span / n_bins
    half_span = sensor_span * 0.5
    by_distance = sorted(objects, key=lambda o: (o[0] - x) ** 2 + (o[1] - y) ** 2, reverse=True)
    for ox, oy, typ in by_distance:
        dist = math.hypot(oy - y, ox - x)
        if dist > sensor_range:
            continue
        angle = math.atan2(oy - y, ox - x) - heading
        angle = (angle + math.pi) % (2.0 * math.pi) - math.pi
        if abs(angle) > half_span:
            continue
        # rllab indexes bin n_bins at angle == +half_span exactly; clamp to the last bin.
        index = min(int((angle + half_span) / bin_res), n_bins - 1)
        target = apples if typ == APPLE else bombs
        target[index] = 1.0 - dist / sensor_range
    return apples, bombs


class SwimmerGatherEnv(MujocoEnv):
    """Swimmer in the gather arena; observation 13 robot + 10 apple + 10 bomb readings."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 20}

    def __init__(
        self,
        n_apples: int = 8,
        n_bombs: int = 8,
        activity_range: int = 6,
        catch_range: float = 1.0,
        reset_qpos_std: float = 0.01,
        reset_qvel_std: float = 0.1,
        **kwargs: Any,
    ) -> None:
        cells = activity_range * activity_range - 1  # (0, 0) is excluded
        if n_apples + n_bombs > cells:
            raise ValueError(
                f"n_apples + n_bombs = {n_apples + n_bombs} exceeds the {cells} free cells"
            )
        self.n_apples = n_apples
        self.n_bombs = n_bombs
        self.activity_range = activity_range
        self.catch_range = catch_range
        self.reset_qpos_std = reset_qpos_std
        self.reset_qvel_std = reset_qvel_std
        self.objects: list[tuple[float, float, int]] = []
        model_path = str(resources.files("explore_bench.envs") / "assets" / "swimmer_gather.xml")
        obs_space = spaces.Box(-np.inf, np.inf, shape=(33,), dtype=np.float32)
        MujocoEnv.__init__(self, model_path, FRAME_SKIP, observation_space=obs_space, **kwargs)
        self._torso = self.model.body("torso").id

    def _set_action_space(self) -> spaces.Box:
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.model.nu,), dtype=np.float32)
        return self.action_space

    def com(self) -> np.ndarray:
        """Centre of mass of the whole swimmer at the current pose."""
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        return self.data.subtree_com[self._torso].copy()

    def _obs(self, com: np.ndarray) -> np.ndarray:
        apples, bombs = sensor_readings(self.objects, com[0], com[1], self.data.qpos[2])
        robot = np.concatenate([self.data.qpos, self.data.qvel, com])
        return np.concatenate([robot, apples, bombs]).astype(np.float32)

    def _place_objects(self) -> None:
        half = self.activity_range // 2
        objects: list[tuple[float, float, int]] = []
        taken: set[tuple[int, int]] = set()
        for typ, count in ((APPLE, self.n_apples), (BOMB, self.n_bombs)):
            placed = 0
            while placed < count:
                x, y = (2 * int(v) for v in self.np_random.integers(-half, half, size=2))
                if (x, y) == (0, 0) or (x, y) in taken:
                    continue  # too close to the start, or the cell is already used
                taken.add((x, y))
                objects.append((float(x), float(y), typ))
                placed += 1
        self.objects = objects

    def step(self, action: np.ndarray) -> StepResult:  # type: ignore[override]
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.data.ctrl[:] = CTRL_SCALE * action
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        com = self.com()
        reward = 0.0
        kept = []
        for ox, oy, typ in self.objects:
            if (ox - com[0]) ** 2 + (oy - com[1]) ** 2 < self.catch_range**2:
                reward += 1.0 if typ == APPLE else -1.0
            else:
                kept.append((ox, oy, typ))
        self.objects = kept
        terminated = not self.objects
        return self._obs(com), reward, terminated, False, self._info(com)

    def reset_model(self) -> np.ndarray:
        self._place_objects()
        qpos = self.init_qpos + self.np_random.normal(0.0, self.reset_qpos_std, self.model.nq)
        qvel = self.init_qvel + self.np_random.normal(0.0, self.reset_qvel_std, self.model.nv)
        self.set_state(qpos, qvel)
        return self._obs(self.com())

    def _get_reset_info(self) -> dict[str, Any]:
        return self._info(self.com())

    def _info(self, com: np.ndarray) -> dict[str, Any]:
        apples = sum(1 for o in self.objects if o[2] == APPLE)
        return {
            "com_x": float(com[0]),
            "com_y": float(com[1]),
            "apples_left": apples,
            "bombs_left": len(self.objects) - apples,
        }
