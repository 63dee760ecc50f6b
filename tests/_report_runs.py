"""Synthetic run directories in the exact results layout, for the report tests."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CARTPOLE = {
    "name": "CartPole-v1",
    "env_id": "CartPole-v1",
    "frame_skip": 1,
    "sticky_actions": 0.0,
    "random_score": None,
    "reference_score": None,
    "reference_kind": "none",
    "sparse": False,
    "success_threshold": None,
}


def atari_card(game: str, random: float, human: float, sparse: bool = False) -> dict[str, Any]:
    return {
        "name": f"ALE/{game}-v5",
        "env_id": f"ALE/{game}-v5",
        "frame_skip": 4,
        "random_score": random,
        "reference_score": human,
        "reference_kind": "human",
        "sparse": sparse,
        "success_threshold": None,
    }


def write_run(
    root: Path,
    task: str,
    agent: str,
    bonus: str,
    seed: int,
    *,
    card: dict[str, Any],
    evals: Sequence[float],
    steps: int = 1000,
    status: str = "done",
    matrix: str = "m",
    coverage: Sequence[float] | None = None,
    bonus_time: float = 0.25,
    variant: dict[str, Any] | None = None,
    recipe: str | None = None,
    agent_config: dict[str, Any] | None = None,
) -> Path:
    """A run whose k-th evaluation (evenly spaced up to ``steps``) scored evals[k].

    ``variant``: {"name": ..., "overrides": {...}}: a run of a matrix variant of ``bonus``;
    ``recipe`` is the recipe mode recorded in config.json (None: a run from before recipe
    modes); ``agent_config`` is the agent section of config.json.
    """
    entry = variant["name"] if variant else bonus
    path = root / matrix / task.replace("/", "__") / agent / entry / f"seed{seed}"
    path.mkdir(parents=True)
    config = {
        "run": {
            "agent": agent,
            "bonus": bonus,
            "task": task,
            "steps": steps,
            "seed": seed,
            "eval_interval": steps // len(evals),
            "eval_episodes": 5,
        },
        "agent": dict(agent_config or {}),
        "bonus": {},
        "shaping": {},
        "task_card": card,
    }
    if variant:
        config["variant"] = {"bonus": bonus, **variant}
    if recipe is not None:
        config["run"]["recipe"] = recipe
    (path / "config.json").write_text(json.dumps(config))
    lines = ["env_steps,iteration,wall_s,sps,ext_return,eval_return,time_bonus_s,coverage_cells"]
    n = len(evals)
    for k, score in enumerate(evals):
        env_steps = steps * (k + 1) // n
        wall = 2.0 * (k + 1)
        cov = "" if coverage is None else coverage[k]
        # a training row without evaluation, then the evaluation row
        lines.append(
            f"{env_steps - 1},{2 * k},{wall - 1},{env_steps / wall},{score - 1},,"
            f"{bonus_time * (wall - 1)},{cov}"
        )
        lines.append(
            f"{env_steps},{2 * k + 1},{wall},{env_steps / wall},{score - 1},{score},"
            f"{bonus_time * wall},{cov}"
        )
    (path / "metrics.csv").write_text("\n".join(lines) + "\n")
    if status == "done":
        (path / "DONE").write_text("")
    elif status == "failed":
        (path / "FAILED").write_text("Traceback (most recent call last):\nRuntimeError: boom\n")
    return path


def write_matrix(
    root: Path,
    *,
    tasks: dict[str, dict[str, Any]],
    bonuses: dict[str, float],
    seeds: Sequence[int] = (0, 1, 2),
    agent: str = "ppo",
    skip: Sequence[tuple[str, str, int]] = (),
    steps: int = 1000,
    variants: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Every task x bonus x seed; bonus b's final scores are offset by bonuses[b].

    ``variants``: entry name -> {"bonus": ..., "overrides": {...}} for entries of ``bonuses``
    that are variants.
    """
    rng = np.random.default_rng(0)
    for task, card in tasks.items():
        for bonus, offset in bonuses.items():
            for seed in seeds:
                if (task, bonus, seed) in skip:
                    continue
                base = 10.0 + offset + seed
                evals = [base * (k + 1) / 5 + float(rng.normal(0, 0.1)) for k in range(5)]
                variant = (variants or {}).get(bonus)
                write_run(
                    root,
                    task,
                    agent,
                    variant["bonus"] if variant else bonus,
                    seed,
                    card=card,
                    evals=evals,
                    steps=steps,
                    coverage=[0.1 * (k + 1) for k in range(5)],
                    variant={"name": bonus, "overrides": variant["overrides"]} if variant else None,
                )


CHROMIUM = Path("/usr/bin/chromium")


def chromium_dom(page: Path, tmp_path: Path, *flags: str) -> str:
    """The DOM of ``page`` after headless Chromium ran its scripts; skips without Chromium,
    except in CI (.ci/run installs it), where its absence fails the test."""
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("/usr/bin/chromium is missing in CI (.ci/run installs Debian's chromium)")
        pytest.skip("/usr/bin/chromium not installed (apt-get install -y chromium); CI runs it")
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        *flags,
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=15000",
        "--dump-dom",
        page.as_uri(),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout
