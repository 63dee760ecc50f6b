"""What the measurement functions share: warm-up of lazy imports and our training runs."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch

#: The MuJoCo comparisons' networks in our agent fields: separate 64x64 tanh policy and value
#: MLPs, std 1 at start; `sb3_mlp_policy_kwargs` is the same for SB3 / sb3-contrib.
OURS_MLP = {
    "policy_hidden": "64,64",
    "value_hidden": "64,64",
    "activation": "tanh",
    "value_activation": "tanh",
    "init_std": 1.0,
}


def sb3_mlp_policy_kwargs() -> dict[str, Any]:
    """SB3's ``policy_kwargs`` for `OURS_MLP` (log-std 0 = std 1)."""
    from torch import nn

    return {
        "net_arch": {"pi": [64, 64], "vf": [64, 64]},
        "activation_fn": nn.Tanh,
        "log_std_init": 0.0,
    }


def sb3_ppo(env: Any, *, n_steps: int, batch_size: int, n_epochs: int, seed: int) -> Any:
    """SB3's PPO with the comparisons' shared settings (`benchmarks.ppo_sb3`'s docstring):
    Adam lr 3e-4 constant, gamma 0.99, GAE 0.95, clip 0.2, no value clipping, entropy 0,
    vf_coef 0.5, gradient-norm clip 0.5, advantages standardised, `OURS_MLP`'s networks."""
    from stable_baselines3 import PPO

    return PPO(
        "MlpPolicy",
        env,
        n_steps=n_steps,
        batch_size=batch_size,
        n_epochs=n_epochs,
        learning_rate=3e-4,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        clip_range_vf=None,
        ent_coef=0.0,
        vf_coef=0.5,
        max_grad_norm=0.5,
        normalize_advantage=True,
        policy_kwargs={**sb3_mlp_policy_kwargs(), "ortho_init": True},
        device="cpu",
        seed=seed,
        verbose=0,
    )


#: Deterministic evaluation episodes at the end of a learning run (ours and SB3 alike).
EVAL_EPISODES = 10


def warm_up() -> None:
    """Pay one-off import costs outside the timed region, the same for every side (the first
    Adam builds import torch._dynamo; TensorBoard's writer imports tensorboard)."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    import gymnasium  # noqa: F401
    from torch.utils import tensorboard  # noqa: F401


def ours_train(
    *,
    agent: str,
    bonus: str,
    task: str,
    steps: int,
    num_envs: int,
    agent_set: dict[str, Any] | None = None,
    run_set: dict[str, Any] | None = None,
    bonus_set: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """One run of ours through the runner, as a user runs it (metrics.csv, TensorBoard,
    final checkpoint); evaluation off, so both sides do the same environment steps."""
    from explore_bench.runs.runner import run
    from explore_bench.settings.config import resolve

    warm_up()
    run_opts = {
        "agent": agent,
        "bonus": bonus,
        "task": task,
        "steps": steps,
        "num_envs": num_envs,
        "seed": seed,
        "eval_episodes": 0,
        "checkpoint_interval": 0,
        "device": "cpu",  # the peers run on the CPU; `benchmarks.gpu` asks for cuda itself
        **(run_set or {}),
    }
    sets = {
        "agent": {k: str(v) for k, v in (agent_set or {}).items()},
        "bonus": {k: str(v) for k, v in (bonus_set or {}).items()},
    }
    resolved = resolve(run_opts, sets)
    with tempfile.TemporaryDirectory(prefix="eb-run-") as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        run_dir = run(resolved, Path(tmp) / "run", progress=False)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        from explore_bench.store.io import read_csv

        rows = read_csv(run_dir / "metrics.csv")
    done = int(rows[-1]["env_steps"])
    last = rows[-1]
    extra = {"eval_return": last["eval_return"]} if "eval_return" in last else {}
    return {
        **extra,
        "sps": done / wall,
        "sps_cpu": done / cpu,
        "steps": done,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "rollout_s": round(float(last.get("time_rollout_s", 0.0)), 3),
        "bonus_s": round(float(last.get("time_bonus_s", 0.0)), 3),
        "update_s": round(float(last.get("time_update_s", 0.0)), 3),
    }


def sb3_train(build: Any, steps: int, eval_env: Any = None) -> dict[str, Any]:
    """Time ``build()`` (vector env and model) plus ``model.learn``: the same span as ours,
    which builds envs and networks inside `run`. With ``eval_env`` (a vector env of 1), also
    the mean return of `EVAL_EPISODES` deterministic episodes afterwards, as ours evaluates
    (for the learning comparison, which is not timed)."""
    warm_up()
    start, cpu = time.perf_counter(), time.process_time()
    model = build()
    model.learn(total_timesteps=steps)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    model.get_env().close()
    extra = {}
    if eval_env is not None:
        from stable_baselines3.common.evaluation import evaluate_policy

        mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=EVAL_EPISODES)
        extra["eval_return"] = float(mean)  # type: ignore[arg-type]  # a float here
    return {
        **extra,
        "sps": model.num_timesteps / wall,
        "sps_cpu": model.num_timesteps / cpu,
        "steps": int(model.num_timesteps),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
    }
