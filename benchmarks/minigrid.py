"""(11) MiniGrid at engine speed (issue 30): PPO on ``explore_bench/DoorKey8x8-v0`` through the
runner on the envpool backend (``run.vector=auto``) vs the minigrid package
(``run.vector=sync``: SyncVectorEnv over `SymbolicView`, whose view is sliced from the
encoded grid since 2026-12-07: RESULTS-minigrid.md predates that), for ``none`` and every
bonus that runs on grids, at the same settings: 8 envs x 128 steps, the agent's defaults
otherwise (PPO: 10 epochs, 4 minibatches), each bonus with its paper recipe, evaluation and
checkpoints off, one torch thread. Beside them the ceiling: envpool's own random-action rate
at the same 8 envs on one thread (``envpool.make`` stepped with pre-drawn actions, no
adapter), and PPO ``none`` on envpool as a share of it.

The package path's own speed-up (`SymbolicView`'s view sliced from the encoded grid, on by
default since 2026-12-07) is measured beside them: MultiRoomN6S5 at the reproduction's 256
envs, random actions, against the package's ``gen_obs`` (``fast_view=False``).

Disagreement (five forward models of 512 units with residual blocks, the paper's) runs on
a quarter of the budget; its work per PPO iteration (counted FLOPs of one update + compute
on a 128 x 8 batch, and its time) is in the table after the pairs.

The ceiling on each ratio: both paths run the same agent and bonus, so a run's seconds per
env step are the backend's own cost (``env_cost``: the suite's vector env stepped with
random actions, no agent; ``c`` on envpool, ``d`` on the package path) plus the same agent
and bonus work ``x`` on each side, and envpool / package = (d + x) / (c + x), which falls as
``x`` grows. ``x`` is at least the bonus's counted floating-point work (`bonus_cost.work`
on DoorKey8x8, update + compute) at the attainable matrix-product rate, with the agent's
own work taken as free: (d + x_min) / (c + x_min) bounds the ratio that any implementation
of the same networks, batch and epochs could reach on this machine. The counter sees matrix
products and convolutions, not ``torch.cdist`` or top-k, so the bound is loose for the
bonuses that search nearest neighbours (RE3, NGU)."""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from benchmarks._common import ours_train
from benchmarks._harness import Measure, Pair, PairResult, run_measure
from explore_bench.envs.catalog import MINIGRID_TASKS
from explore_bench.envs.minigrid_tasks import make_minigrid
from explore_bench.envs.tasks import resolve_task
from explore_bench.runs.wiring import make_vector_env

TASK = "explore_bench/DoorKey8x8-v0"
#: The view speed-up's pair: the task and env count of the reproduction's MultiRoom part.
VIEW_TASK, VIEW_ENVS = "MultiRoomN6S5", 256
ENVPOOL_ID = "MiniGrid-DoorKey-8x8-v0"
NUM_ENVS = 8
#: Bonuses that run on symbolic grids (AE-SimHash's autoencoder is for pixels).
BONUSES = ("count", "rnd", "icm", "emi", "e3b", "noveld", "ride", "ngu", "re3", "disagreement")
#: Old-to-new targets of issue 30 (Disagreement: its cost stated, no ratio target).
TARGET_NONE, TARGET_BONUS, TARGET_RAW_SHARE = 5.0, 2.5, 0.10


def run(bonus: str, steps: int, vector: str) -> dict[str, Any]:
    return ours_train(
        agent="ppo", bonus=bonus, task=TASK, steps=steps, num_envs=NUM_ENVS,
        run_set={"vector": vector},
    )  # fmt: skip


def raw(steps: int) -> dict[str, Any]:
    """envpool's MiniGrid alone: random actions, one thread, no adapter."""
    import envpool

    pool = envpool.make(ENVPOOL_ID, env_type="gymnasium", num_envs=NUM_ENVS, num_threads=1, seed=0)
    pool.reset()
    per_env = steps // NUM_ENVS
    actions = np.random.default_rng(0).integers(0, 7, (per_env, NUM_ENVS), dtype=np.int32)
    for a in actions[:100]:
        pool.step(a)
    start, cpu = time.perf_counter(), time.process_time()
    for a in actions:
        pool.step(a)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    done = per_env * NUM_ENVS
    return {"sps": done / wall, "sps_cpu": done / cpu, "wall_s": round(wall, 3)}


def _step_rate(envs: gym.vector.VectorEnv, steps: int) -> dict[str, Any]:
    """``envs`` stepped with pre-drawn random actions for ``steps`` env steps (after 100
    vector steps of warm-up): steps/s on wall and CPU time."""
    n = envs.num_envs
    envs.reset(seed=0)
    per_env = steps // n
    actions = np.random.default_rng(0).integers(0, 7, (per_env + 100, n))
    for a in actions[:100]:
        envs.step(a)
    start, cpu = time.perf_counter(), time.process_time()
    for a in actions[100:]:
        envs.step(a)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    envs.close()
    done = per_env * n
    # CPU time, not wall: the work each backend needs, without the waits a loaded machine
    # adds (envpool's worker thread counts, being in this process).
    return {"sps": done / wall, "sps_cpu": done / cpu, "us_per_step": cpu / done * 1e6}


def env_cost(steps: int, vector: str) -> dict[str, Any]:
    """The suite's vector env alone on ``vector`` ("auto": envpool, "sync": the package path),
    as the runner builds it: 8 envs stepped with pre-drawn random actions, no agent."""
    return _step_rate(make_vector_env(resolve_task(TASK), NUM_ENVS, vector), steps)


def view_rate(steps: int, fast_view: bool) -> dict[str, Any]:
    """MultiRoomN6S5 on the package path (MultiRoom's only backend) with the reproduction's
    256 envs, random actions: `SymbolicView`'s view sliced from the encoded grid
    (``fast_view``) or the package's own ``gen_obs``."""
    task = next(t for t in MINIGRID_TASKS if t.name == VIEW_TASK)
    envs = gym.vector.SyncVectorEnv(
        [lambda: make_minigrid(task.minigrid_id, fast_view=fast_view)] * VIEW_ENVS,
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    return _step_rate(envs, steps)


def pairs(quick: bool) -> list[Pair]:
    steps = 2048 if quick else 20480
    out = [
        Pair(
            key="minigrid-none",
            title=f"PPO + none, DoorKey8x8, envpool vs minigrid package, 8 envs, {steps} steps",
            a=Measure(
                "envpool", "minigrid:run", {"bonus": "none", "steps": steps, "vector": "auto"}
            ),
            b=Measure(
                "package", "minigrid:run", {"bonus": "none", "steps": steps, "vector": "sync"}
            ),
            target=TARGET_NONE,
            target_text=f"envpool >= {TARGET_NONE:.0f}x package (issue 30)",
        ),
        Pair(
            key="minigrid-raw-share",
            title=f"PPO + none on envpool vs envpool alone (random actions), DoorKey8x8, 8 envs, "
            f"{steps} steps",
            a=Measure("PPO", "minigrid:run", {"bonus": "none", "steps": steps, "vector": "auto"}),
            b=Measure("raw envpool", "minigrid:raw", {"steps": 40 * steps}),
            target=TARGET_RAW_SHARE,
            target_text=f"PPO >= {TARGET_RAW_SHARE:.0%} of raw envpool (issue 30)",
        ),
        Pair(
            key="minigrid-view",
            title=f"{VIEW_TASK} on the package path, view from the encoded grid vs the "
            f"package's gen_obs, {VIEW_ENVS} envs, random actions, {8 * steps} steps",
            a=Measure("fast view", "minigrid:view_rate", {"steps": 8 * steps, "fast_view": True}),
            b=Measure("gen_obs", "minigrid:view_rate", {"steps": 8 * steps, "fast_view": False}),
            target_text="gain stated (SymbolicView's docstring: 1.7-2.0x)",
        ),
    ]
    for bonus in BONUSES:
        n = steps // 4 if bonus == "disagreement" else steps
        target = None if bonus == "disagreement" else TARGET_BONUS
        out.append(
            Pair(
                key=f"minigrid-{bonus}",
                title=f"PPO + {bonus}, DoorKey8x8, envpool vs minigrid package, 8 envs, {n} steps",
                a=Measure(
                    "envpool", "minigrid:run", {"bonus": bonus, "steps": n, "vector": "auto"}
                ),
                b=Measure(
                    "package", "minigrid:run", {"bonus": bonus, "steps": n, "vector": "sync"}
                ),
                target=target,
                target_text="cost stated (below)"
                if target is None
                else f"envpool >= {target:.1f}x package (issue 30)",
            )
        )
    return out


def _median_run(res: PairResult) -> dict[str, Any]:
    """The envpool side's median run (by steps/s) over the rounds."""
    runs = sorted(res.a, key=lambda r: r["sps"])
    return runs[len(runs) // 2]


def extra(quick: bool, results: list[PairResult]) -> list[str]:
    """Where an envpool run's time goes, Disagreement's work beside its cost, and the ceiling
    each bonus's work sets on its ratio."""
    pairs = [res for res in results if res.pair.b.label == "package"]
    lines = [
        "",
        "**Where the time goes on envpool** - median over rounds of each envpool run's "
        "seconds in rollout (env + acting), bonus (compute + update) and PPO update, and "
        "the microseconds each costs per env step.",
        "",
        "| entry | steps/s | rollout us/step | bonus us/step | update us/step | other us/step |",
        "|---|---|---|---|---|---|",
    ]
    for res in pairs:
        r = _median_run(res)
        per = 1e6 / r["steps"]
        other = r["wall_s"] - r["rollout_s"] - r["bonus_s"] - r["update_s"]
        lines.append(
            f"| {res.pair.key.removeprefix('minigrid-')} | {r['sps']:,.0f} | "
            f"{r['rollout_s'] * per:.0f} | {r['bonus_s'] * per:.0f} | {r['update_s'] * per:.0f} "
            f"| {other * per:.0f} |"
        )
    repeats = 2 if quick else 5
    work = {
        bonus: run_measure(
            Measure(bonus, "bonus_cost:work", {"bonus": bonus, "repeats": repeats, "task": TASK})
        )
        for bonus in BONUSES
    }
    w = work["disagreement"]
    lines += [
        "",
        "**Disagreement's work per PPO iteration (1,024 transitions)**: "
        f"{w['gflop']:.2f} GFLOP (update + compute, backward included) in "
        f"{w['seconds']:.3f} s = {w['seconds'] / 1024 * 1e6:,.0f} us per env step, "
        f"{w['gflops']:.0f} GFLOP/s against an attainable {w['peak_gflops']:.0f} GFLOP/s "
        "(a float32 1024 x 512 x 512 product, same process).",
    ]
    return lines + ceiling(quick, pairs, work)


def ceiling(quick: bool, pairs: list[PairResult], work: dict[str, dict[str, Any]]) -> list[str]:
    """The highest envpool / package ratio each bonus's counted work leaves possible (module
    docstring): the backends' own costs measured here, the work from `bonus_cost.work`."""
    steps = 4096 if quick else 40960
    cost = {
        v: run_measure(Measure(v, "minigrid:env_cost", {"steps": steps, "vector": v}))[
            "us_per_step"
        ]
        for v in ("auto", "sync")
    }
    c, d = cost["auto"], cost["sync"]
    lines = [
        "",
        "**The ceiling on each ratio** - the backends alone, 8 envs, random actions, CPU time: "
        f"envpool {c:.0f} us per env step (c), the package path {d:.0f} (d); a bonus's counted "
        "work (update + compute on 1,024 transitions, per env step) at the attainable rate is the "
        "least agent and bonus work x a run can have, and (d + x) / (c + x) the highest "
        "envpool / package ratio it allows.",
        "",
        "| bonus | MFLOP per env step | at the attainable rate, us per step | measured bonus "
        "us per step (envpool run) | highest possible ratio | measured ratio | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for res in pairs:
        bonus = res.pair.key.removeprefix("minigrid-")
        w = work.get(bonus)
        mflop = 0.0 if w is None else w["gflop"] * 1e3 / 1024
        x = 0.0 if w is None else mflop / w["peak_gflops"] * 1e3
        r = _median_run(res)
        target = "-" if res.pair.target is None else f"{res.pair.target:.1f}x"
        lines.append(
            f"| {bonus} | {mflop:.2f} | {x:.0f} | {r['bonus_s'] * 1e6 / r['steps']:.0f} | "
            f"{(d + x) / (c + x):.2f}x | {res.median:.2f}x | {target} |"
        )
    return lines
