"""Watching a policy: episodes recorded with gymnasium's `RecordVideo` (the `video` extra).

Episodes run one at a time in a single environment made with ``render_mode="rgb_array"``;
episode ``i`` is reset with ``seed + i``, which is the seed env ``i`` of a vector env reset
with ``seed`` gets, so the scores equal those of the vectorised evaluation
(`explore_bench.runs.wiring.evaluate`) with the same seed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from explore_bench.envs.tasks import Task, raw_rewards
from explore_bench.errors import ConfigError


def _headless_gl() -> None:
    # MuJoCo renders through OpenGL; without a display, EGL (or OSMesa) must be asked for
    # before mujoco is imported. A user's own MUJOCO_GL wins.
    if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def check_recordable(task: Task) -> None:
    """Refuse, before anything is written, a task that cannot render RGB frames or a
    machine without moviepy (a `ConfigError`: one line from the command line)."""
    probe = task.make_env()
    modes = probe.metadata.get("render_modes", [])
    probe.close()
    if "rgb_array" not in modes:
        raise ConfigError(
            f"task {task.name!r} cannot render RGB frames (its render modes: {modes or 'none'}), "
            "so it cannot be recorded; drop --video (MuJoCo, Atari, MiniGrid and other "
            "rgb_array tasks can be)"
        )
    try:
        import moviepy  # noqa: F401  (RecordVideo needs it; fail before the episodes run)
    except ImportError as exc:
        raise ConfigError(
            "recording videos needs moviepy: pip install 'explore-bench[video]'"
        ) from exc


def make_recording_env(task: Task, video_dir: Path, prefix: str) -> Any:
    """``task``'s environment rendering to RGB frames, every episode written to video_dir."""
    _headless_gl()
    check_recordable(task)
    from gymnasium.wrappers import RecordVideo

    env = task.make_env(render_mode="rgb_array")
    with warnings.catch_warnings():  # files are named by prefix: a run's videos share a folder
        warnings.filterwarnings("ignore", message=".*Overwriting existing videos")
        return RecordVideo(
            env,
            str(video_dir),
            episode_trigger=lambda _: True,
            name_prefix=prefix,
            disable_logger=True,
        )


def record_episodes(
    agent: Any,
    task: Task,
    episodes: int,
    seed: int,
    deterministic: bool,
    video_dir: Path,
    prefix: str = "eval",
) -> np.ndarray:
    """Play ``episodes`` episodes of ``agent`` on ``task``, one video file each; raw scores.
    A task that cannot be recorded is refused before ``video_dir`` is made."""
    env = make_recording_env(task, Path(video_dir), prefix)
    Path(video_dir).mkdir(parents=True, exist_ok=True)
    scores = np.zeros(episodes)
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            done = False
            while not done:
                action = agent.act(np.asarray(obs)[None], deterministic)[0]
                obs, reward, terminated, truncated, info = env.step(action)
                raw = raw_rewards(
                    np.array([reward], dtype=float),
                    {k: np.array([v]) for k, v in info.items()}
                    | {f"_{k}": np.array([True]) for k in info},
                )
                scores[i] += float(raw[0])
                done = bool(terminated or truncated)
    finally:
        env.close()
    return scores
