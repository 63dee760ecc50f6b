"""(5) Our PPO with the Nature CNN vs SB3's CnnPolicy on Venture, each as its users run it.

The same task for both: the suite's ``explore_bench/Venture-modern-v0`` (sticky actions 0.25,
84x84 grayscale, frame skip 4 with max-pool, 4 stacked frames, rewards clipped for the
learner), 8 envs. Ours steps them in the suite's default backend (``run.vector=auto``:
ale-py's native AtariVectorEnv, the same frames as the gymnasium stack); SB3 steps
``task.make_env`` copies (ALE v5 + AtariPreprocessing + FrameStackObservation) in its
DummyVecEnv, as it can only. Venture rather than Montezuma (the comparison until issue 16):
Montezuma's room coverage needs RAM, which the native env does not return, so it runs on
the gymnasium stack.
Same settings, rl-zoo's Atari PPO with constant schedules: 128 steps per env, 4 epochs of
minibatches of 256, lr 2.5e-4, clip 0.1, entropy 0.01, value loss 0.5 x MSE, gradient clip 0.5,
gamma 0.99, GAE lambda 0.95; Nature CNN trunk (Mnih et al. 2015) shared by policy and
value, linear heads. One torch thread.
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import ours_train, sb3_train
from benchmarks._harness import Measure, Pair

TASK = "explore_bench/Venture-modern-v0"
NUM_ENVS = 8
NUM_STEPS = 128


def ours(steps: int, vector: str = "auto") -> dict[str, Any]:
    return ours_train(
        agent="ppo",
        bonus="none",
        task=TASK,
        steps=steps,
        num_envs=NUM_ENVS,
        # only when asked: `hotpath --before REV` runs this with revisions that lack "auto"
        run_set={"vector": vector} if vector != "auto" else None,
        agent_set={
            "num_steps": NUM_STEPS,
            "update_epochs": 4,
            "minibatch_size": 256,
            "lr": 2.5e-4,
            "anneal_lr": False,
            "clip_coef": 0.1,
            "ent_coef": 0.01,
            "vf_coef": 1.0,  # x 0.5 * MSE in our loss = SB3's 0.5 x MSE
            "max_grad_norm": 0.5,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "cnn": "nature",
            "policy_hidden": "()",
            "value_hidden": "()",
        },
    )


def sb3(steps: int) -> dict[str, Any]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    import explore_bench.envs  # noqa: F401  (registers the suite's tasks)
    from explore_bench.envs.tasks import resolve_task

    task = resolve_task(TASK)

    def build() -> Any:
        env = DummyVecEnv([task.make_env for _ in range(NUM_ENVS)])
        env.seed(0)
        return PPO(
            "CnnPolicy",
            env,
            n_steps=NUM_STEPS,
            n_epochs=4,
            batch_size=256,
            learning_rate=2.5e-4,
            clip_range=0.1,
            ent_coef=0.01,
            vf_coef=0.5,
            max_grad_norm=0.5,
            gamma=0.99,
            gae_lambda=0.95,
            device="cpu",
            seed=0,
            verbose=0,
        )

    return sb3_train(build, steps)


def pairs(quick: bool) -> list[Pair]:
    steps = NUM_ENVS * NUM_STEPS * (1 if quick else 3)
    return [
        Pair(
            key="atari-ppo",
            title=f"PPO Nature CNN vs SB3 CnnPolicy, Venture (modern protocol), 8 envs, "
            f"{steps} steps",
            a=Measure("ours", "atari:ours", {"steps": steps}),
            b=Measure("SB3", "atari:sb3", {"steps": steps}),
            target=1.5,
            target_text="ours >= 1.5x SB3 (issue 16)",
        )
    ]
