"""Atari tasks under two protocols: the EMI paper's and the modern one.

EMI protocol (Kim et al., ICML 2019, following Tang et al., 2017): ``ALE/<Game>-v5`` with no
sticky actions and the minimal action set; frame skip 4 with a max over the last two frames,
grayscale, 52x52 (INTER_AREA), no noop or fire reset, no life-loss termination, 4 stacked
frames; horizon 4,500 agent steps (a TimeLimit at registration).
Modern protocol (Machado et al., JAIR 2018): sticky actions with probability 0.25, 84x84,
otherwise the same; horizon 27,000 agent steps (108,000 frames, ALE v5's default).
Under both, the learner sees rewards clipped to [-1, 1] and ``info["raw_reward"]`` carries the
game score, which is what is reported. Montezuma's Revenge also reports ``info["room"]``.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import ale_py
import gymnasium as gym
import numpy as np
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

gym.register_envs(ale_py)

PROTOCOLS: dict[str, dict[str, Any]] = {
    "emi": {"repeat_action_probability": 0.0, "screen_size": 52},
    "modern": {"repeat_action_probability": 0.25, "screen_size": 84},
}
#: Games whose RAM holds the current room, and the byte (Montezuma's Revenge: byte 3).
ROOM_RAM_BYTE = {"MontezumaRevenge": 3}


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
