"""(2) Our TRPO vs sb3-contrib TRPO on HalfCheetah-v5, identical settings.

Both: 1 env, 2048 steps per batch, 64x64 tanh policy and value networks, std 1 at start,
gamma 0.99, GAE lambda 0.95, advantages standardised, max KL 0.01, 15 conjugate-gradient
iterations with damping 0.1, line search shrinking 0.8 for at most 10 tries, value function
fitted by 10 Adam epochs (lr 1e-3) of minibatches of 128 (Adam eps: sb3-contrib 1e-5, ours
1e-8); one torch thread.
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import OURS_MLP, ours_train, sb3_mlp_policy_kwargs, sb3_train
from benchmarks._harness import Measure, Pair

TASK = "HalfCheetah-v5"
BATCH = 2048


def ours(steps: int) -> dict[str, Any]:
    return ours_train(
        agent="trpo",
        bonus="none",
        task=TASK,
        steps=steps,
        num_envs=1,
        agent_set={
            "num_steps": BATCH,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "norm_adv": True,
            "max_kl": 0.01,
            "cg_iters": 15,
            "cg_damping": 0.1,
            "backtrack_coef": 0.8,
            "max_backtracks": 10,
            "vf_lr": 1e-3,
            "vf_epochs": 10,
            "vf_minibatch_size": 128,
            **OURS_MLP,
        },
    )


def sb3(steps: int) -> dict[str, Any]:
    from sb3_contrib import TRPO
    from stable_baselines3.common.env_util import make_vec_env

    def build() -> Any:
        return TRPO(
            "MlpPolicy",
            make_vec_env(TASK, n_envs=1, seed=0),
            learning_rate=1e-3,
            n_steps=BATCH,
            batch_size=128,
            gamma=0.99,
            gae_lambda=0.95,
            cg_max_steps=15,
            cg_damping=0.1,
            line_search_shrinking_factor=0.8,
            line_search_max_iter=10,
            n_critic_updates=10,
            normalize_advantage=True,
            target_kl=0.01,
            sub_sampling_factor=1,
            policy_kwargs=sb3_mlp_policy_kwargs(),
            device="cpu",
            seed=0,
            verbose=0,
        )

    return sb3_train(build, steps)


def pairs(quick: bool) -> list[Pair]:
    steps = BATCH if quick else 5 * BATCH
    return [
        Pair(
            key="trpo-1env",
            title=f"TRPO vs sb3-contrib TRPO, HalfCheetah-v5, 1 env, {steps} steps",
            a=Measure("ours", "trpo_sb3:ours", {"steps": steps}),
            b=Measure("sb3-contrib", "trpo_sb3:sb3", {"steps": steps}),
            target=1.5,
            target_text="ours >= 1.5x sb3-contrib",
        )
    ]
