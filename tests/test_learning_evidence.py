"""Learning checks at the evidence matrix's own budgets, settings and seeds (tox -e slow): a
bonus measured to solve a task succeeds on at least 3 of 5 seeds, PPO without a bonus does
not. Each run is the evidence spec's cell itself (same config, same seed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from explore_bench.matrices.spec import load_matrix
from explore_bench.reports.load import final_score, success_threshold
from explore_bench.runs.runner import run

pytestmark = pytest.mark.slow


def _successes(out: Path, spec: str, task: str, bonus: str) -> list[bool]:
    """Success (final score >= the card's threshold, as the report counts it) per seed."""
    matrix, configs, _ = load_matrix(spec, out)
    found = []
    for cell, cfg in zip(matrix.cells, configs, strict=True):
        if cell.task != task or cell.bonus != bonus:
            continue
        metrics = pd.read_csv(run(cfg, cell.run_dir, progress=False) / "metrics.csv")
        score, source = final_score(metrics, 0.1)
        assert source == "eval_return"
        found.append(score >= success_threshold(cfg.card))
    assert len(found) == 5
    return found


def _separates(out: Path, spec: str, task: str, bonus: str) -> None:
    with_bonus = _successes(out, spec, task, bonus)
    without = _successes(out, spec, task, "none")
    assert sum(with_bonus) >= 3, with_bonus
    assert sum(without) < 3, without


def test_count_solves_four_rooms_and_none_does_not(tmp_path: Path) -> None:
    # The first evidence run (results/evidence-first-run, revision d10cc5f): count's final
    # scores by seed 0.0, 1.0, 0.5, 1.0, 1.0 (3 of 5 reach the success threshold), none's all
    # 0.0; count's and none's cells are the same in the rerun (results/evidence).
    _separates(tmp_path, "evidence-mini", "explore_bench/FourRooms-v0", "count")


@pytest.mark.skip(
    reason="re-chosen from the MiniGrid rerun at 409,600 steps (issue 31), not yet run: at 50k "
    "steps RE3 at its release's scale (beta 0.005 added to the advantage, scoring s_t) solved "
    "0 of 5 seeds on the envpool backend (2026-12-05), where the first evidence run, at a "
    "coefficient 200 times larger, solved 3 of 5; none 0 of 5 in both"
)
def test_re3_solves_multiroom_and_none_does_not(tmp_path: Path) -> None:
    # MultiRoomN4S5 at 50k steps, the MiniGrid part's cheapest budget and the one MiniGrid
    # task where a bonus cleared this bar. The first evidence run
    # (results/evidence-first-run, revision d10cc5f): re3's final scores by seed 0.08, 0.08,
    # 0.07, 0.0, 0.0 (3 of 5 reach the card's success threshold, 0.05: the goal is reached in
    # part of the final evaluations), none's all 0.0. KeyCorridorS3R1 at 204,800 steps does
    # not qualify: none succeeds on 3 of its 5 seeds there (count 5 of 5, ride 2 of 5).
    _separates(tmp_path, "evidence-minigrid", "explore_bench/MultiRoomN4S5-v0", "re3")
