"""Learning-to-threshold checks for PPO (tox -e slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from explore_bench.runs.runner import run
from explore_bench.settings.config import resolve
from explore_bench.store.io import read_csv

pytestmark = pytest.mark.slow


def _evals(out: Path, run_opts: dict, agent: dict | None = None) -> list[float]:
    resolved = resolve(run_opts, {"agent": agent or {}})
    rows = read_csv(run(resolved, out, progress=False) / "metrics.csv")
    return [r["eval_return"] for r in rows if "eval_return" in r]


def test_ppo_solves_cartpole_within_100k_steps(tmp_path: Path) -> None:
    evals = _evals(tmp_path, {"task": "CartPole-v1", "steps": 100_000, "seed": 0})
    assert evals[-1] >= 400, evals


def test_ppo_improves_pendulum(tmp_path: Path) -> None:
    # rl-zoo's Pendulum settings (gamma 0.9, lr 1e-3, 10 epochs); random play scores about -1200.
    evals = _evals(
        tmp_path,
        {"task": "Pendulum-v1", "steps": 200_000, "seed": 0},
        {"gamma": 0.9, "lr": 1e-3, "num_steps": 256, "minibatch_size": 64, "update_epochs": 10},
    )
    assert evals[-1] >= -400 and evals[-1] - evals[0] >= 500, evals
