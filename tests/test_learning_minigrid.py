"""Learning check on the cheapest MiniGrid task of the evidence matrix (tox -e slow): with the
evidence spec's own budget, settings and seeds, a bonus measured to solve it succeeds on at
least 3 of 5 seeds and PPO without a bonus does not. Figures: see configs/evidence.toml."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from explore_bench.report.load import final_score, success_threshold
from explore_bench.runner import run
from explore_bench.spec import load_matrix

pytestmark = pytest.mark.slow

#: The cheapest MiniGrid task of the evidence matrix and the bonus measured to solve it.
TASK = "explore_bench/MultiRoomN2S4-v0"
BONUS = "count"


def _successes(tmp_path: Path, bonus: str) -> list[bool]:
    matrix, configs, _ = load_matrix("evidence-minigrid", tmp_path)
    out = []
    for cell, cfg in zip(matrix.cells, configs, strict=True):
        if cell.task != TASK or cell.bonus != bonus:
            continue
        metrics = pd.read_csv(run(cfg, cell.run_dir, progress=False) / "metrics.csv")
        score, source = final_score(metrics, 0.1)
        assert source == "eval_return"
        out.append(score >= success_threshold(cfg.card))
    assert len(out) == 5
    return out


def test_a_bonus_solves_the_cheapest_minigrid_task_and_none_does_not(tmp_path: Path) -> None:
    with_bonus = _successes(tmp_path, BONUS)
    without = _successes(tmp_path, "none")
    assert sum(with_bonus) >= 3, with_bonus
    assert sum(without) < 3, without
