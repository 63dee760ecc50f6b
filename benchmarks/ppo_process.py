"""(1b) Our PPO vs Stable-Baselines3 PPO as whole processes, the way a user meets them.

`ppo_sb3` times the training call inside a warmed-up process; this comparison times the
whole process instead: interpreter and imports, resolving and validating the config, the
run directory (config.json, provenance.json, metrics.csv, TensorBoard events, checkpoints),
training and the summary line, against SB3's imports, ``make_vec_env``, ``PPO(...)`` and
``learn``. Ours runs through the command line (``explore_bench.cli.main``, as
``explore-bench run`` does); nothing is warmed up on either side. A measurement's steps/s
is its steps over the seconds since its process started (``psutil``'s create time).

Settings (both sides): PPO on HalfCheetah-v5, 8 envs x 128 steps, 4 epochs of minibatches of
256, separate 64x64 tanh policy and value networks, Adam lr 3e-4 constant, gamma 0.99, GAE
0.95, clip 0.2, no value clipping, entropy 0, gradient-norm clip 0.5, evaluation off, one
torch thread. ``steps = 8`` measures start-up and teardown: there the ratio is SB3's process
time over ours, although SB3 runs a whole rollout of 1,024 steps and one update to ours' 8
steps and one update (its ``learn`` cannot stop sooner).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import psutil

from benchmarks._common import OURS_MLP, sb3_ppo
from benchmarks._harness import Measure, Pair

TASK = "HalfCheetah-v5"
NUM_ENVS, NUM_STEPS, EPOCHS, MINIBATCH = 8, 128, 4, 256
FULL_STEPS = 81_920


def _since_start() -> float:
    return time.time() - psutil.Process().create_time()


def ours(steps: int) -> dict[str, Any]:
    """``explore-bench run`` in this process, as a user types it."""
    from explore_bench import cli

    agent = {
        "num_steps": NUM_STEPS,
        "update_epochs": EPOCHS,
        "minibatch_size": MINIBATCH,
        "lr": 3e-4,
        "anneal_lr": False,
        "clip_coef": 0.2,
        "clip_vloss": False,
        "ent_coef": 0.0,
        "vf_coef": 1.0,  # x 0.5 * MSE in our loss = SB3's 0.5 x MSE
        "max_grad_norm": 0.5,
        **OURS_MLP,
    }
    sets = [f"agent.{k}={v}" for k, v in agent.items()]
    with tempfile.TemporaryDirectory(prefix="eb-process-") as tmp:
        argv = ["run", "--agent", "ppo", "--bonus", "none", "--task", TASK]
        argv += ["--steps", str(steps), "--num-envs", str(NUM_ENVS), "--out", tmp]
        argv += ["--set", "run.eval_episodes=0", "--set", "run.device=cpu"]
        for item in sets:
            argv += ["--set", item]
        if cli.main(argv) != 0:
            raise RuntimeError("explore-bench run failed")
        wall = _since_start()
    return {"sps": steps / wall, "wall_s": round(wall, 3), "steps": steps}


def sb3(steps: int) -> dict[str, Any]:
    """SB3's PPO with the same settings, built and trained in this process."""
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(TASK, n_envs=NUM_ENVS, seed=0)
    model = sb3_ppo(env, n_steps=NUM_STEPS, batch_size=MINIBATCH, n_epochs=EPOCHS, seed=0)
    model.learn(total_timesteps=steps)
    env.close()
    wall = _since_start()
    # steps asked for, not model.num_timesteps: SB3 always runs a whole rollout (1,024 steps
    # and an update even for ``steps = 8``), so the start-up pair compares process times
    return {"sps": steps / wall, "wall_s": round(wall, 3), "steps": int(model.num_timesteps)}


def pairs(quick: bool) -> list[Pair]:
    full = FULL_STEPS // 4 if quick else FULL_STEPS
    return [
        Pair(
            key="ppo-process",
            title=f"PPO vs SB3 PPO as whole processes, HalfCheetah-v5, 8 envs, {full} steps",
            a=Measure("ours", "ppo_process:ours", {"steps": full}),
            b=Measure("SB3", "ppo_process:sb3", {"steps": full}),
            target=1.5,
            target_text="ours >= 1.5x SB3 (whole process)",
        ),
        Pair(
            key="ppo-startup",
            title="Start-up and teardown: an 8-step run as a whole process",
            a=Measure("ours", "ppo_process:ours", {"steps": 8}),
            b=Measure("SB3", "ppo_process:sb3", {"steps": 8}),
        ),
    ]
