"""The reproduction's learning check (tox -e slow): the bonus with the largest published gain
over PPO on MiniGrid-DoorKey-8x8 at 1M steps, RE3 in RLeXplore's Table 8 (0.95 against PPO's
0.22), beats `none` on at least 4 of 5 seeds with RLeXplore's settings. Each run is the
reproduce-rlexplore spec's cell itself (same config, same seed); scores are RLeXplore's
measure, the training episodes' return over the last 10% of the run.

The ten runs take ~2.7 h one after another on one core, so they go through the matrix's local
process pool (one worker per core, at most 2) into ``$EXPLORE_BENCH_SLOW_OUT`` when it is set:
a check cut short resumes there from its checkpoints, as a matrix does, and DONE cells are not
rerun. Unset, the runs go to pytest's temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from explore_bench.matrices.jobs import Job, Outcome
from explore_bench.matrices.local_pool import LocalExecutor
from explore_bench.matrices.spec import load_matrix
from explore_bench.reports.load import load_results

pytestmark = pytest.mark.slow

DOORKEY = "explore_bench/DoorKey8x8-v0"
ENTRIES = ("re3-rlexplore", "none")


def _train_returns(out: Path) -> dict[str, list[float]]:
    """Run the DoorKey cells of `ENTRIES` that are not DONE under ``out``; their training
    returns by entry, in seed order."""
    matrix, configs, _ = load_matrix("reproduce-rlexplore", out)
    cells = [
        (cell, cfg)
        for cell, cfg in zip(matrix.cells, configs, strict=True)
        if cell.task == DOORKEY and cell.entry in ENTRIES
    ]
    assert len(cells) == 10
    jobs = [Job(c.label, r.to_dict(), str(c.run_dir)) for c, r in cells if c.state() != "done"]
    outcomes: list[Outcome] = []
    LocalExecutor(min(2, os.cpu_count() or 1)).run(jobs, lambda job: None, outcomes.append)
    assert all(o.ok for o in outcomes), [(o.job.label, o.error) for o in outcomes if not o.ok]
    runs = load_results(out).runs
    runs = runs[(runs.task == DOORKEY) & (runs.status == "done")].sort_values("seed")
    return {entry: list(runs[runs.bonus == entry].train_return) for entry in ENTRIES}


def test_re3_beats_none_on_doorkey8x8_at_1m_steps_with_rlexplores_settings(
    tmp_path: Path,
) -> None:
    returns = _train_returns(Path(os.environ.get("EXPLORE_BENCH_SLOW_OUT", tmp_path)))
    re3, none = returns["re3-rlexplore"], returns["none"]
    assert len(re3) == len(none) == 5, returns
    wins = sum(a > b for a, b in zip(re3, none, strict=True))
    assert wins >= 4, returns
