"""(8) Atari environment throughput: ale-py's native ``AtariVectorEnv`` (``run.vector`` auto /
native) vs the gymnasium stack (``run.vector=sync``: SyncVectorEnv over ALE v5 +
AtariPreprocessing + FrameStackObservation), 8 envs of ``explore_bench/Venture-emi-v0``
(EMI protocol: 52x52x4 grayscale, frame skip 4 with max-pool, no sticky actions), both built
by the runner's ``make_vector_env`` and stepped with the same pre-drawn random actions. The
native env uses one thread per core this process may use (2 on the development machine):
that parallelism is part of what it offers. CPU time counts all of the process's threads.
Venture, not Montezuma: Montezuma's room coverage needs RAM, which ale-py's vector env does
not return, so Montezuma runs on the gymnasium stack."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks._harness import Measure, Pair

TASK = "explore_bench/Venture-emi-v0"
NUM_ENVS = 8


def throughput(kind: str, steps: int) -> dict[str, Any]:
    import explore_bench.envs  # noqa: F401  (registers the suite's tasks)
    from explore_bench.envs.tasks import resolve_task
    from explore_bench.runs.wiring import make_vector_env

    envs = make_vector_env(resolve_task(TASK), NUM_ENVS, kind)
    envs.reset(seed=0)
    per_env = steps // NUM_ENVS
    rng = np.random.default_rng(0)
    actions = rng.integers(int(envs.single_action_space.n), size=(per_env, NUM_ENVS))  # type: ignore[attr-defined]
    for a in actions[:50]:  # warm-up (threads started, first frames)
        envs.step(a)
    start, cpu = time.perf_counter(), time.process_time()
    for a in actions:
        envs.step(a)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    envs.close()
    done = per_env * NUM_ENVS
    return {"sps": done / wall, "sps_cpu": done / cpu, "wall_s": round(wall, 3)}


def pairs(quick: bool) -> list[Pair]:
    steps = 4096 if quick else 32768
    return [
        Pair(
            key="atari-env",
            title=f"Atari env, native AtariVectorEnv vs gymnasium stack, Venture (EMI protocol), "
            f"8 envs, {steps} steps",
            a=Measure("native", "atari_env:throughput", {"kind": "native", "steps": steps}),
            b=Measure("gymnasium", "atari_env:throughput", {"kind": "sync", "steps": steps}),
            target=2.0,
            target_text="native >= 2x gymnasium (issue 16)",
        )
    ]
