"""(8) The same learning results: our PPO and Stable-Baselines3 PPO with the settings of (1)
(HalfCheetah-v5, 1 env, 2048 steps per rollout, 10 epochs of minibatches of 64, constant
learning rate), trained from the same seeds for the same budget; each run's score is the mean
return of 10 deterministic evaluation episodes at the end. The speed work must not have bought
its speed by changing what PPO learns, so the two samples of final scores should agree.

Reported: each side's mean with a 95% percentile-bootstrap interval (10,000 resamples), the
difference of means (ours - SB3) with its bootstrap interval, and Welch's t-test p-value. The
check is met when the difference's interval contains 0. With a handful of seeds it can only
catch a large difference (its width is stated next to it); the runs are not timed and run two
at a time.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from benchmarks._harness import Measure, run_measure

BOOTSTRAP = 10_000


def budget(quick: bool) -> tuple[int, int]:
    """(seeds, steps per run)."""
    return (2, 4096) if quick else (10, 200_000)


def _bootstrap_mean(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return x[rng.integers(0, len(x), (BOOTSTRAP, len(x)))].mean(1)


def compare(ours: list[float], sb3: list[float]) -> dict[str, Any]:
    """Means, intervals, the difference's interval and Welch's p-value."""
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = np.asarray(ours), np.asarray(sb3)
    boot_a, boot_b = _bootstrap_mean(a, rng), _bootstrap_mean(b, rng)
    diff = boot_a - boot_b
    ci = [float(v) for v in np.percentile(diff, [2.5, 97.5])]
    return {
        "ours": (float(a.mean()), *np.percentile(boot_a, [2.5, 97.5]).tolist()),
        "sb3": (float(b.mean()), *np.percentile(boot_b, [2.5, 97.5]).tolist()),
        "diff": (float(a.mean() - b.mean()), *ci),
        "p_welch": float(stats.ttest_ind(a, b, equal_var=False).pvalue) if len(a) > 1 else 1.0,
        "met": ci[0] <= 0.0 <= ci[1],
    }


def measure(quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    seeds, steps = budget(quick)
    jobs = [
        (side, seed, Measure(side, f"ppo_sb3:{side}", {"num_envs": 1, "steps": steps,
                                                       "seed": seed, "evaluate": True}))
        for seed in range(seeds)
        for side in ("ours", "sb3")
    ]  # fmt: skip
    scores: dict[str, list[float]] = {"ours": [], "sb3": []}

    def one(job: tuple[str, int, Measure]) -> tuple[str, int, float]:
        side, seed, m = job
        score = float(run_measure(m)["eval_return"])
        log(f"  learning {side} seed {seed}: final eval {score:.1f}")
        return side, seed, score

    with ThreadPoolExecutor(2) as pool:  # one run per core: only the scores matter here
        for side, _, score in sorted(pool.map(one, jobs)):
            scores[side].append(score)
    return {"seeds": seeds, "steps": steps, "scores": scores, **compare(**scores)}


def title(result: dict[str, Any]) -> str:
    return (
        f"same learning results: final eval return, PPO vs SB3 PPO, HalfCheetah-v5, 1 env, "
        f"{result['seeds']} seeds x {result['steps']:,} steps"
    )


def _fmt(stat: tuple[float, float, float]) -> str:
    return f"{stat[0]:.0f} [{stat[1]:.0f}, {stat[2]:.0f}]"


def fmt_diff(result: dict[str, Any]) -> str:
    """The difference of means with its interval, its width and Welch's p-value."""
    diff = result["diff"]
    return f"{_fmt(diff)} (width {diff[2] - diff[1]:.0f}; Welch p = {result['p_welch']:.2f})"


def table(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"**{title(result)}** - difference of means ours - SB3 [95% CI]: {fmt_diff(result)}; "
        f"met: {result['met']}",
        "",
        "| side | mean [95% CI] | median | per seed |",
        "|---|---|---|---|",
    ]
    for side, label in (("ours", "ours"), ("sb3", "SB3")):
        runs = result["scores"][side]
        lines.append(
            f"| {label} | {_fmt(result[side])} | {statistics.median(runs):.0f} | "
            + ", ".join(f"{x:.0f}" for x in runs)
            + " |"
        )
    return lines
