"""Compacted metrics (metrics.csv.gz, 9 significant digits): exact for float32, read by every
reader of the store, and applied only to runs that are finished and whole."""

from __future__ import annotations

import csv
import gzip
import json

import numpy as np
import pytest
from _report_runs import CARTPOLE, write_run

from explore_bench.cli import main
from explore_bench.reports.load import load_results
from explore_bench.store import io
from explore_bench.store.compact import compact_tree
from explore_bench.store.layout import METRICS_CSV, METRICS_GZ, done_problem, metrics_path

TASK = "CartPole-v1"


def test_nine_digits_round_trip_every_float32_and_keep_float64_to_a_part_in_1e9():
    rng = np.random.default_rng(0)
    f32 = np.concatenate(
        [rng.standard_normal(5000) * 10.0 ** rng.integers(-30, 30, 5000), [0.1, -0.0, 1e-38]]
    ).astype(np.float32)
    back = np.array([float(io.number_cell(float(v))) for v in f32], dtype=np.float32)
    assert np.array_equal(back, f32)
    f64 = rng.standard_normal(5000) * 10.0 ** rng.integers(-30, 30, 5000)
    back64 = np.array([float(io.number_cell(v)) for v in f64])
    assert np.max(np.abs(back64 - f64) / np.abs(f64)) <= 5e-9
    assert np.max(np.abs(back64 - f64) / np.abs(f64)) > 0  # 17 digits were really cut
    # an integral float stays a float, an int an int, a string a string
    assert [io.number_cell(v) for v in (1.0, 3, "x")] == ["1.0", 3, "x"]
    assert io.number_cell(np.float32(0.1)) == "0.100000001"


def test_write_csv_to_a_gz_path_compresses_deterministically(tmp_path):
    rows = [{"env_steps": 8, "loss": 0.1234567890123}, {"env_steps": 16, "eval_return": 2.0}]
    io.write_csv(tmp_path / "a.csv.gz", rows)
    io.write_csv(tmp_path / "b.csv.gz", rows)
    data = (tmp_path / "a.csv.gz").read_bytes()
    assert data == (tmp_path / "b.csv.gz").read_bytes()  # no timestamp in the gzip header
    assert gzip.decompress(data).decode() == (
        "env_steps,loss,eval_return\n8,0.123456789,\n16,,2.0\n"
    )
    assert io.read_csv(tmp_path / "a.csv.gz") == [
        {"env_steps": 8, "loss": 0.123456789},
        {"env_steps": 16, "eval_return": 2.0},
    ]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_compact_rewrites_only_finished_whole_runs_and_reports_read_the_same(tmp_path):
    evals = [0.123456789012345, 0.987654321098765, 1.5 / 7]
    done = [write_run(tmp_path, TASK, "ppo", "none", s, card=CARTPOLE, evals=evals) for s in (0, 1)]
    running = write_run(tmp_path, TASK, "ppo", "none", 2, card=CARTPOLE, evals=evals, status="")
    cut = write_run(tmp_path, TASK, "ppo", "count", 0, card=CARTPOLE, evals=evals)
    (cut / "DONE").write_text(json.dumps({"rows": 99}))  # DONE says 99 rows: truncated
    before_rows = _rows(done[0] / METRICS_CSV)
    before = load_results(tmp_path / "m").runs.set_index(["bonus", "seed"])["final_raw"]

    result = compact_tree(tmp_path / "m")

    assert result.runs == 2 and result.bytes_after < result.bytes_before
    assert [s.split(":")[0] for s in result.skipped] == [str(cut)]
    for run_dir in done:
        assert not (run_dir / METRICS_CSV).exists() and metrics_path(run_dir).name == METRICS_GZ
        assert done_problem(run_dir) == ""
    assert (running / METRICS_CSV).exists() and not (running / METRICS_GZ).exists()
    assert (cut / METRICS_CSV).exists() and not (cut / METRICS_GZ).exists()
    with gzip.open(done[0] / METRICS_GZ, "rt", newline="") as fh:
        after_rows = list(csv.reader(fh))
    assert after_rows[0] == before_rows[0]  # same columns, same order
    old = np.array([[float(c or "nan") for c in r] for r in before_rows[1:]])
    new = np.array([[float(c or "nan") for c in r] for r in after_rows[1:]])
    np.testing.assert_allclose(new, old, rtol=5e-9, equal_nan=True)
    assert not np.array_equal(new, old, equal_nan=True)  # the 17-digit values were rounded
    after = load_results(tmp_path / "m").runs.set_index(["bonus", "seed"])["final_raw"]
    np.testing.assert_allclose(after.to_numpy(), before.to_numpy(), rtol=5e-9)
    assert after.loc[("none", 0)] == pytest.approx(np.mean(evals[-1:]), rel=5e-9)

    again = compact_tree(tmp_path / "m")  # nothing left to do; the skipped run still named
    assert again.runs == 0 and len(again.skipped) == 1


def test_a_corrupt_compressed_table_makes_the_run_broken_not_the_report(tmp_path):
    evals = [0.5, 1.0]
    good = write_run(tmp_path, TASK, "ppo", "none", 0, card=CARTPOLE, evals=evals)
    bad = write_run(tmp_path, TASK, "ppo", "none", 1, card=CARTPOLE, evals=evals)
    compact_tree(tmp_path / "m")
    (bad / METRICS_GZ).write_bytes((bad / METRICS_GZ).read_bytes()[:20])  # cut short
    assert done_problem(bad).startswith(f"DONE but {METRICS_GZ} cannot be read")
    tables = load_results(tmp_path / "m")
    status = tables.runs.set_index("seed")["status"]
    assert status[0] == "done" and status[1] == "broken"
    assert done_problem(good) == ""


def test_compact_command_refuses_a_missing_tree_before_rewriting_any(tmp_path, capsys):
    run_dir = write_run(tmp_path, TASK, "ppo", "none", 0, card=CARTPOLE, evals=[1.0])
    missing = tmp_path / "nope"
    assert main(["compact", str(tmp_path / "m"), str(missing)]) == 2
    assert f"{str(missing)!r} is not a directory" in capsys.readouterr().err
    assert (run_dir / METRICS_CSV).exists() and not (run_dir / METRICS_GZ).exists()
    assert main(["compact", str(tmp_path / "m")]) == 0
    assert "1 finished runs compacted" in capsys.readouterr().out
    assert (run_dir / METRICS_GZ).exists()


def test_a_compressed_copy_that_reads_back_otherwise_is_removed_and_the_plain_file_kept(
    tmp_path, monkeypatch
):
    run_dir = write_run(tmp_path, TASK, "ppo", "none", 0, card=CARTPOLE, evals=[0.5, 1.0])
    plain = (run_dir / METRICS_CSV).read_bytes()
    real = io.gzip_bytes
    monkeypatch.setattr(io, "gzip_bytes", lambda text: real(text.replace("0.5", "0.6")))
    result = compact_tree(tmp_path / "m")
    assert result.runs == 0
    assert result.skipped == (
        f"{run_dir}: {METRICS_GZ} does not read back as {METRICS_CSV}: left uncompacted",
    )
    assert (run_dir / METRICS_CSV).read_bytes() == plain
    assert not (run_dir / METRICS_GZ).exists()


def test_a_ragged_table_is_left_as_it_is_and_named(tmp_path):
    run_dir = write_run(tmp_path, TASK, "ppo", "none", 0, card=CARTPOLE, evals=[0.5, 1.0])
    lines = (run_dir / METRICS_CSV).read_text().splitlines()
    lines[1] += ",9"  # one cell more than the header
    (run_dir / METRICS_CSV).write_text("\n".join(lines) + "\n")
    result = compact_tree(tmp_path / "m")
    assert result.runs == 0
    assert result.skipped == (
        f"{run_dir}: row 1 of {METRICS_CSV} does not have the header's columns",
    )
    assert not (run_dir / METRICS_GZ).exists()
