"""Atari tasks under two protocols: the EMI paper's and the modern one.

EMI protocol (Kim et al., ICML 2019, following Tang et al., 2017): ``ALE/<Game>-v5`` with no
sticky actions and the minimal action set; frame skip 4 with a max over the last two frames,
grayscale, 52x52 (INTER_AREA), no noop or fire reset, no life-loss termination, 4 stacked
frames; horizon 4,500 agent steps (a TimeLimit at registration).
Modern protocol (Machado et al., JAIR 2018): sticky actions with probability 0.25, 84x84,
otherwise the same; horizon 27,000 agent steps (108,000 frames, ALE v5's default).
Under both, the learner sees rewards clipped to [-1, 1] and ``info["raw_reward"]`` carries the
game score, which is what is reported. Montezuma's Revenge also reports ``info["room"]``.

Two backends build the same observations: `make_atari` (one gymnasium env: ALE v5 +
``AtariPreprocessing`` + ``FrameStackObservation``, vectorised by gymnasium) and
`NativeAtariVectorEnv` (ale-py's C++ ``AtariVectorEnv``, all envs stepped in threads).
"""

from __future__ import annotations

import os
import re
from typing import Any, SupportsFloat

import ale_py
import gymnasium as gym
import numpy as np
from ale_py.vector_env import AtariVectorEnv
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from explore_bench.envs.coverage import ROOM_RAM_BYTE

gym.register_envs(ale_py)

PROTOCOLS: dict[str, dict[str, Any]] = {
    "emi": {"repeat_action_probability": 0.0, "screen_size": 52},
    "modern": {"repeat_action_probability": 0.25, "screen_size": 84},
}


class ClipRewardRawInInfo(gym.Wrapper):
    """Clips the learner's reward to [-clip, clip]; the raw score goes to info["raw_reward"].

    Also reports the room (from RAM) for games that expose one, for coverage metrics.
    """

    def __init__(self, env: gym.Env, clip: float = 1.0, room_byte: int | None = None) -> None:
        super().__init__(env)
        self.clip = clip
        self.room_byte = room_byte

    def _add_room(self, info: dict[str, Any]) -> dict[str, Any]:
        if self.room_byte is not None:
            info["room"] = int(self.env.unwrapped.ale.getRAM()[self.room_byte])  # type: ignore[attr-defined]
        return info

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return obs, self._add_room(dict(info))

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = self._add_room(dict(info))
        info["raw_reward"] = float(reward)
        clipped = float(np.clip(float(reward), -self.clip, self.clip))
        return obs, clipped, terminated, truncated, info


def make_atari(game: str, protocol: str = "emi", **kwargs: Any) -> gym.Env:
    """Build ``game`` under ``protocol`` ("emi" or "modern"); kwargs go to the ALE env."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    settings = PROTOCOLS[protocol]
    env = gym.make(
        f"ALE/{game}-v5",
        frameskip=1,  # AtariPreprocessing skips frames and max-pools the last two
        repeat_action_probability=settings["repeat_action_probability"],
        full_action_space=False,
        **kwargs,
    )
    env = AtariPreprocessing(
        env,
        noop_max=0,
        frame_skip=4,
        screen_size=settings["screen_size"],
        terminal_on_life_loss=False,
        grayscale_obs=True,
        scale_obs=False,
    )
    env = FrameStackObservation(env, 4)
    return ClipRewardRawInInfo(env, clip=1.0, room_byte=ROOM_RAM_BYTE.get(game))


STACK = 4
FRAME_SKIP = 4
#: ale-py info fields passed on (gymnasium's ALE env reports the same names).
STEP_INFO_KEYS = ("lives", "frame_number", "episode_frame_number")


class NativeAtariVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of ``game`` under ``protocol`` on ale-py's C++ ``AtariVectorEnv``,
    giving what `make_atari` envs in a same-step-autoreset gymnasium vector env give.

    The same preprocessing (frame skip 4, max over the last two frames, grayscale, INTER_AREA
    resize, no noop or fire reset, no life-loss termination, sticky actions per the protocol),
    the same minimal action set, the same seeding (``reset(seed=s)`` seeds env i with s + i).
    Two differences of ale-py's are undone here: it fills the frames before an episode's
    first with zeros (``FrameStackObservation`` with the first frame), and its own episode
    limit stops the last step before its last frame is captured, so the horizon is counted
    here (in agent steps, as gymnasium's TimeLimit) and a truncated env is reset by mask,
    which keeps its generator running as an autoreset does. The learner's
    reward is clipped to [-1, 1] with the game score in ``info["raw_reward"]``, and at
    episode ends ``info["final_obs"]`` holds the true final observation (the returned one is
    the reset's). What cannot be reproduced: ``info["room"]`` (ale-py 0.12.1's vector
    interface returns no RAM, so Montezuma's room coverage needs `make_atari`), and the
    sticky-action draws themselves (ale-py's per-env generators differ from gymnasium's,
    same probability, so modern-protocol trajectories match in law, not draw for draw).
    ``lives``, ``frame_number`` and ``episode_frame_number`` are marked absent for envs
    whose episode ended (ale-py reports the reset's values there).
    """

    def __init__(
        self,
        game: str,
        protocol: str,
        num_envs: int,
        *,
        max_episode_steps: int,
        num_threads: int = 0,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        settings = PROTOCOLS[protocol]
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        self.horizon = max_episode_steps
        # One thread per env up to the cores this process may use (0 would take every core
        # of the host, oversubscribing matrix workers).
        threads = num_threads or min(num_envs, len(os.sched_getaffinity(0)))
        size = settings["screen_size"]
        self.env = AtariVectorEnv(
            rom_id(game),
            num_envs,
            num_threads=threads,
            max_num_frames_per_episode=self.horizon * FRAME_SKIP + 1,  # never reached
            repeat_action_probability=settings["repeat_action_probability"],
            full_action_space=False,
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
            img_height=size,
            img_width=size,
            grayscale=True,
            stack_num=STACK,
            frameskip=FRAME_SKIP,
            maxpool=True,
            noop_max=0,
            episodic_life=False,
            reward_clipping=False,
            use_fire_reset=False,
        )
        self.num_envs = num_envs
        self.single_observation_space = self.env.single_observation_space
        self.single_action_space = self.env.single_action_space
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        self._since_reset = np.zeros(num_envs, dtype=np.int64)
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self._all = np.ones(num_envs, dtype=bool)
        self._youngest = 0  # fewest steps since a reset over the envs, capped at STACK - 1
        self._ale = self.env.ale
        self._paddle = np.ones(num_envs, dtype=np.float32)

    def _pad(self, obs: np.ndarray, since: np.ndarray) -> np.ndarray:
        """Frames older than the episode's first become copies of the first (gymnasium's
        reset padding); ``since`` counts each env's steps since its reset."""
        for k in range(STACK - 1):
            rows = np.flatnonzero(since == k)
            if rows.size:
                first = STACK - 1 - k
                obs[rows, :first] = obs[rows, first : first + 1]
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if options:
            raise ValueError(f"NativeAtariVectorEnv.reset takes no options, got {options!r}")
        obs, info = self.env.reset(seed=seed)
        self._since_reset[:] = 0
        self._elapsed[:] = 0
        self._youngest = 0
        infos = {
            k: v for key in STEP_INFO_KEYS for k, v in ((key, info[key]), ("_" + key, self._all))
        }
        return self._pad(obs, self._since_reset), infos

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        # ale-py's send/recv directly: AtariVectorEnv.step adds shape asserts and a fresh
        # paddle-strength array per call (the C++ side checks the action ids).
        self._ale.send(np.asarray(actions, dtype=np.int64), self._paddle)
        obs, reward, terminated, _, info = self._ale.recv()
        since = np.minimum(self._since_reset + 1, STACK - 1, out=self._since_reset)
        self._youngest = min(self._youngest + 1, STACK - 1)
        self._elapsed += 1
        truncated = self._elapsed >= self.horizon  # with terminated too, as a TimeLimit does
        raw = reward.astype(np.float64)
        done = terminated | truncated
        present = ~done  # at episode ends ale-py reports the reset's values
        infos: dict[str, Any] = {"raw_reward": raw, "_raw_reward": self._all}
        for key in STEP_INFO_KEYS:
            infos[key], infos["_" + key] = info[key], present
        if done.any():
            self._youngest = 0
            final = self._pad(info["final_obs"] if terminated.any() else obs.copy(), since)
            cut = truncated & ~terminated  # ale-py reset the terminated ones already
            if cut.any():
                final[cut] = self._pad(obs[cut], since[cut])
                obs[cut] = self.env.reset(options={"reset_mask": cut})[0][cut]
            infos["final_obs"] = final
            infos["_final_obs"] = done
            since[done] = 0
            self._elapsed[done] = 0
        if self._youngest < STACK - 1:
            obs = self._pad(obs, since)
        return obs, np.clip(raw, -1.0, 1.0), terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        del self.env


def rom_id(game: str) -> str:
    """ale-py's ROM name of a game: "MontezumaRevenge" -> "montezuma_revenge"."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", game).lower()
