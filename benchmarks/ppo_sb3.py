"""(1) Our PPO vs Stable-Baselines3 PPO on HalfCheetah-v5, identical hyperparameters.

Both: 2048 environment steps per rollout in total, 10 epochs of minibatches of 64, separate
64x64 tanh policy and value networks, orthogonal init, state-independent log-std starting at
std 1, Adam lr 3e-4 (eps 1e-5, constant), gamma 0.99, GAE lambda 0.95, clip 0.2, no value
clipping, entropy 0, value loss 0.5 x MSE (SB3's vf_coef 0.5; ours writes it as vf_coef 1 x
0.5 MSE), gradient-norm clip 0.5, advantages standardised per
minibatch, truncation bootstrapped; one torch thread.
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import (
    EVAL_EPISODES,
    OURS_MLP,
    ours_train,
    sb3_ppo,
    sb3_train,
)
from benchmarks._harness import Measure, Pair

TASK = "HalfCheetah-v5"
ROLLOUT = 2048


def ours(num_envs: int, steps: int, seed: int = 0, evaluate: bool = False) -> dict[str, Any]:
    """Our PPO; with ``evaluate``, `EVAL_EPISODES` deterministic episodes at the end."""
    run_set = {"eval_episodes": EVAL_EPISODES, "eval_interval": steps} if evaluate else {}
    return ours_train(
        agent="ppo",
        bonus="none",
        task=TASK,
        steps=steps,
        num_envs=num_envs,
        seed=seed,
        run_set=run_set,
        agent_set={
            "num_steps": ROLLOUT // num_envs,
            "minibatch_size": 64,
            "update_epochs": 10,
            "lr": 3e-4,
            "anneal_lr": False,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "clip_coef": 0.2,
            "clip_vloss": False,
            "ent_coef": 0.0,
            "vf_coef": 1.0,  # x 0.5 * MSE in our loss = SB3's 0.5 x MSE
            "max_grad_norm": 0.5,
            "norm_adv": True,
            **OURS_MLP,
        },
    )


def sb3(num_envs: int, steps: int, seed: int = 0, evaluate: bool = False) -> dict[str, Any]:
    """SB3's PPO with the same settings; ``evaluate`` as in `ours`."""
    from stable_baselines3.common.env_util import make_vec_env

    def build() -> Any:
        env = make_vec_env(TASK, n_envs=num_envs, seed=seed)
        return sb3_ppo(env, n_steps=ROLLOUT // num_envs, batch_size=64, n_epochs=10, seed=seed)

    eval_env = make_vec_env(TASK, n_envs=1, seed=seed + 100_003) if evaluate else None
    return sb3_train(build, steps, eval_env)


def pairs(quick: bool) -> list[Pair]:
    steps = ROLLOUT if quick else 5 * ROLLOUT
    out = []
    for n in (1, 8):
        kw = {"num_envs": n, "steps": steps}
        out.append(
            Pair(
                key=f"ppo-{n}env",
                title=f"PPO vs SB3 PPO, HalfCheetah-v5, {n} env{'s' if n > 1 else ''}, "
                f"{steps} steps",
                a=Measure("ours", "ppo_sb3:ours", kw),
                b=Measure("SB3", "ppo_sb3:sb3", kw),
                target=1.5,
                target_text="ours >= 1.5x SB3",
            )
        )
    return out
