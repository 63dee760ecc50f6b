"""(7) Peak memory (RSS, the child's VmHWM) of a MuJoCo run and of an Atari run with the
harness defaults (PPO, bonus none, 8 envs, checkpoints every 10 iterations), with one
evaluation of 5 episodes at the end for MuJoCo and none for Atari (a Montezuma evaluation
episode can last 27,000 steps)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import warm_up
from benchmarks._harness import Measure

RUNS = {
    "mujoco": ("HalfCheetah-v5", 1.0),
    "atari": ("explore_bench/MontezumaRevenge-modern-v0", None),
}


def run(task: str, steps: int, eval_episodes: int, bonus: str = "none") -> dict[str, Any]:
    from explore_bench.runs.runner import run as run_one
    from explore_bench.settings.config import resolve

    warm_up()
    resolved = resolve(
        {
            "task": task,
            "steps": steps,
            "bonus": bonus,
            "num_envs": 8,
            "eval_episodes": eval_episodes,
            "eval_interval": steps,
            "device": "cpu",  # host memory of a CPU run
        }
    )
    with tempfile.TemporaryDirectory(prefix="eb-mem-") as tmp:
        start = time.perf_counter()
        run_one(resolved, Path(tmp) / "run", progress=False)
        wall = time.perf_counter() - start
    return {"sps": steps / wall, "wall_s": round(wall, 3)}


def measures(quick: bool) -> list[tuple[str, Measure, float | None]]:
    out = []
    for key, (task, limit_gb) in RUNS.items():
        steps = (2048 if quick else 16384) if key == "mujoco" else (1024 if quick else 2048)
        kwargs = {"task": task, "steps": steps, "eval_episodes": 5 if key == "mujoco" else 0}
        out.append((key, Measure(f"{task}, {steps} steps", "memory:run", kwargs), limit_gb))
    return out
