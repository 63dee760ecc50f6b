"""(4) What each bonus costs: steps/s of PPO with the bonus over PPO with ``none``, same task
(HalfCheetah-v5), same agent settings (8 envs x 128 steps, 10 epochs of minibatches of 256,
as in the PPO paper's MuJoCo setting) and each bonus with its own defaults, through the
runner."""

from __future__ import annotations

from typing import Any

from benchmarks._common import ours_train
from benchmarks._harness import ROOT, Measure, Pair

TASK = "HalfCheetah-v5"
#: bonus -> target ratio to `none` (issue 9).
TARGETS = {"count": 0.9, "rnd": 0.75, "icm": 0.75, "emi": 0.6}


def run(bonus: str, steps: int) -> dict[str, Any]:
    return ours_train(
        agent="ppo", bonus=bonus, task=TASK, steps=steps, num_envs=8,
        agent_set={"update_epochs": 10},
    )  # fmt: skip


def pairs(quick: bool) -> list[Pair]:
    steps = 2048 if quick else 8192
    out = []
    for bonus, target in TARGETS.items():
        if not (ROOT / "bonuses" / f"{bonus}.py").exists():
            continue
        out.append(
            Pair(
                key=f"bonus-{bonus}",
                title=f"PPO + {bonus} vs PPO + none, HalfCheetah-v5, 8 envs, {steps} steps",
                a=Measure(bonus, "bonus_cost:run", {"bonus": bonus, "steps": steps}),
                b=Measure("none", "bonus_cost:run", {"bonus": "none", "steps": steps}),
                target=target,
                target_text=f"{bonus} >= {target:.2f}x none",
            )
        )
    return out
