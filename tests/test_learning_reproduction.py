"""The reproduction's learning check (tox -e slow): the bonus with the largest published gain
over PPO on MiniGrid-DoorKey-8x8 at 1M steps, RE3 in RLeXplore's Table 8 (0.95 against PPO's
0.22), beats `none` on at least 4 of 5 seeds with RLeXplore's settings. Each run is the
reproduce-rlexplore spec's cell itself (same config, same seed); scores are RLeXplore's
measure, the training episodes' return over the last 10% of the run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from explore_bench.matrices.spec import load_matrix
from explore_bench.reports.load import train_return
from explore_bench.runs.runner import run

pytestmark = pytest.mark.slow

DOORKEY = "explore_bench/DoorKey8x8-v0"


def _train_returns(out: Path, entry: str) -> list[float]:
    matrix, configs, _ = load_matrix("reproduce-rlexplore", out)
    found = []
    for cell, cfg in zip(matrix.cells, configs, strict=True):
        if cell.task == DOORKEY and cell.entry == entry:
            metrics = pd.read_csv(run(cfg, cell.run_dir, progress=False) / "metrics.csv")
            found.append(train_return(metrics, 0.1))
    assert len(found) == 5
    return found


def test_re3_beats_none_on_doorkey8x8_at_1m_steps_with_rlexplores_settings(
    tmp_path: Path,
) -> None:
    re3 = _train_returns(tmp_path, "re3-rlexplore")
    none = _train_returns(tmp_path, "none")
    wins = sum(a > b for a, b in zip(re3, none, strict=True))
    assert wins >= 4, (re3, none)
