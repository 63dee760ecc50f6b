"""(6) Matrix scaling: a 4-cell matrix (PPO with 10 epochs, none, HalfCheetah-v5, seeds
0-3) run with
``explore-bench matrix SPEC --workers 2`` against ``--workers 1``: cell steps per second of
wall-clock time, end to end (process pool start-up included)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import Measure, Pair

SPEC = """\
name = "bench-scaling"
description = "issue 9: 2 workers vs 1"
agents = ["ppo"]
bonuses = ["none"]
tasks = ["HalfCheetah-v5"]
seeds = 4
steps = {steps}
num_envs = 8

[run]
eval_episodes = 0
checkpoint_interval = 0
device = "cpu"

[agent.ppo]
update_epochs = 10
"""
CELLS = 4


def matrix(workers: int, steps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="eb-matrix-") as tmp:
        spec = Path(tmp) / "spec.toml"
        spec.write_text(SPEC.format(steps=steps))
        cmd = [
            sys.executable, "-m", "explore_bench.cli", "matrix", str(spec),
            "--workers", str(workers), "--out", str(Path(tmp) / "out"),
        ]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        done = len(list((Path(tmp) / "out").rglob("DONE")))
    if proc.returncode != 0 or done != CELLS:
        raise RuntimeError(f"matrix failed ({done}/{CELLS} DONE):\n{proc.stdout}\n{proc.stderr}")
    return {"sps": CELLS * steps / wall, "wall_s": round(wall, 3), "cells": CELLS}


def pairs(quick: bool) -> list[Pair]:
    # Cells long enough (about 15 s each, still far shorter than a real cell) that each
    # worker's start-up (a spawned interpreter importing torch,
    # gymnasium and MuJoCo: 2-3 s here) is not what is measured.
    steps = 2048 if quick else 98304
    return [
        Pair(
            key="matrix-2v1",
            title=f"matrix of 4 cells (PPO, HalfCheetah-v5, 8 envs, {steps} steps each), "
            "2 workers vs 1",
            a=Measure("2 workers", "matrix_scaling:matrix", {"workers": 2, "steps": steps}),
            b=Measure("1 worker", "matrix_scaling:matrix", {"workers": 1, "steps": steps}),
            target=1.7,
            target_text="2 workers >= 1.7x 1 worker",
        )
    ]
