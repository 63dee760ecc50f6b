"""SparseHalfCheetah: the sparse locomotion task of VIME (Houthooft et al., 2016) and EMI.

A port of the rllab environment used by EMI (Kim et al., ICML 2019): gymnasium's half_cheetah
model with MuJoCo timestep 0.01 and frame skip 1 (so 500 steps are 5 s; gymnasium's default
frame skip 5 would make the task far easier), a 20-d observation with the whole-body centre of
mass, and reward 1 on every step where |COM_x| > 5, nothing else. It never terminates; the
500-step horizon is a TimeLimit set at registration.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

StepResult = tuple[np.ndarray, float, bool, bool, dict[str, Any]]

#: |COM_x| beyond which a step pays 1 (rllab's SparseHalfCheetah).
GOAL_DISTANCE = 5.0


class SparseHalfCheetahEnv(MujocoEnv):
    """Half cheetah with a sparse reward for moving the centre of mass 5 m either way."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 100}

    def __init__(
        self,
        reset_qpos_std: float = 0.01,
        reset_qvel_std: float = 0.1,
        goal_distance: float = GOAL_DISTANCE,
        **kwargs: Any,
    ) -> None:
        # rllab's MujocoEnv.reset adds N(0, 0.01^2) to qpos and N(0, 0.1^2) to qvel.
        self.reset_qpos_std = reset_qpos_std
        self.reset_qvel_std = reset_qvel_std
        self.goal_distance = goal_distance
        obs_space = spaces.Box(-np.inf, np.inf, shape=(20,), dtype=np.float32)
        MujocoEnv.__init__(self, "half_cheetah.xml", 1, observation_space=obs_space, **kwargs)
        self._torso = self.model.body("torso").id

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        # mujoco 4 deprecates the model's settotalmass="14" and logs a warning to
        # MUJOCO_LOG.TXT in the cwd; mj_setTotalmass + mj_setConst give identical masses,
        # inertias and derived constants (checked field by field).
        with open(self.fullpath) as f:
            xml = f.read()
        model = mujoco.MjModel.from_xml_string(xml.replace(' settotalmass="14"', ""))
        mujoco.mj_setTotalmass(model, 14.0)
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        data = mujoco.MjData(model)
        mujoco.mj_setConst(model, data)
        return model, data

    def _com(self) -> np.ndarray:
        # subtree_com is filled by the forward pass at the start of mj_step, i.e. before
        # integration; recompute it so the reward and observation see the current pose.
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        return self.data.subtree_com[self._torso].copy()

    def _obs(self, com: np.ndarray) -> np.ndarray:
        obs = np.concatenate([self.data.qpos[1:], self.data.qvel, com])
        return obs.astype(np.float32)

    def step(self, action: np.ndarray) -> StepResult:  # type: ignore[override]
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.do_simulation(action, self.frame_skip)
        com = self._com()
        reward = 1.0 if abs(com[0]) > self.goal_distance else 0.0
        return self._obs(com), reward, False, False, self._info(com)

    def reset_model(self) -> np.ndarray:
        qpos = self.init_qpos + self.np_random.normal(0.0, self.reset_qpos_std, self.model.nq)
        qvel = self.init_qvel + self.np_random.normal(0.0, self.reset_qvel_std, self.model.nv)
        self.set_state(qpos, qvel)
        return self._obs(self._com())

    def _get_reset_info(self) -> dict[str, Any]:
        return self._info(self._com())

    @staticmethod
    def _info(com: np.ndarray) -> dict[str, Any]:
        return {"com_x": float(com[0]), "com_y": float(com[1])}
