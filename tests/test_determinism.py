"""Same seed, same numbers (on CPU); a different seed, different numbers."""

from __future__ import annotations

from pathlib import Path

from explore_bench.runs.runner import TIMING_COLUMNS, run
from explore_bench.settings.config import resolve
from explore_bench.store.io import read_csv


def _metrics(out: Path, seed: int) -> list[dict]:
    resolved = resolve(
        {"task": "CartPole-v1", "steps": 2048, "num_envs": 2, "seed": seed, "eval_episodes": 2},
        {"bonus": {}, "agent": {"num_steps": 256}},
    )
    run_dir = run(resolved, out, progress=False)
    return [
        {k: v for k, v in row.items() if k not in TIMING_COLUMNS}
        for row in read_csv(run_dir / "metrics.csv")
    ]


def test_same_seed_gives_identical_metrics(tmp_path: Path) -> None:
    first, second = _metrics(tmp_path / "a", 1), _metrics(tmp_path / "b", 1)
    assert first == second
    assert len(first) == 4 and "eval_return" in first[-1]
    assert _metrics(tmp_path / "c", 2) != first
