"""The matrix for real: kill -9 and resume, failure isolation, the Ray executor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _extras import need

from explore_bench import cli
from explore_bench.store import io

CLI = [sys.executable, "-m", "explore_bench.cli"]


def write_spec(path: Path, bonuses: list[str], seeds: int, steps: int, **run: int) -> Path:
    table = "\n".join(f"{k} = {v}" for k, v in {"eval_episodes": 1, **run}.items())
    path.write_text(
        f'name = "{path.stem}"\nagents = ["ppo"]\nbonuses = {json.dumps(bonuses)}\n'
        f'tasks = ["CartPole-v1"]\nseeds = {seeds}\nsteps = {steps}\nnum_envs = 2\n'
        f"[run]\n{table}\n"
    )
    return path


def cell_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("*/*/*/seed*"))


def snapshot(run_dir: Path) -> tuple[int, bytes, bytes]:
    done = run_dir / "DONE"
    return done.stat().st_mtime_ns, done.read_bytes(), (run_dir / "metrics.csv").read_bytes()


def assert_complete(root: Path, n_cells: int, steps: int) -> None:
    dirs = cell_dirs(root)
    assert len(dirs) == n_cells
    for d in dirs:
        assert (d / "DONE").is_file() and not (d / "FAILED").exists(), d
        assert not list(d.glob(".*.tmp")), f"temporary files left in {d}"
        config = json.loads((d / "config.json").read_text())
        assert config["run"]["steps"] == steps
        json.loads((d / "provenance.json").read_text())
        rows = io.read_csv(d / "metrics.csv")
        iterations = [r["iteration"] for r in rows]
        assert iterations == sorted(set(iterations)), f"repeated iterations in {d}"
        assert rows[-1]["env_steps"] >= steps


def test_kill_9_mid_matrix_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    steps, n_cells = 6144, 4
    spec = write_spec(
        tmp_path / "kr.toml", ["none", "const_bonus:ConstantBonus"], 2, steps, checkpoint_interval=1
    )
    out = tmp_path / "res"
    cmd = [*CLI, "matrix", str(spec), "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )  # its own process group, workers included
    deadline = time.monotonic() + 240
    try:
        while True:
            dirs = cell_dirs(out)
            done = [d for d in dirs if (d / "DONE").exists()]
            started = [
                d for d in dirs if not (d / "DONE").exists() and (d / "checkpoint.pt").exists()
            ]
            if done and started:
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no cell finished in time"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for _ in range(200):  # every worker of the group is gone, not only the driver
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("matrix workers survived kill -9 of the process group")
    before = {d: snapshot(d) for d in cell_dirs(out) if (d / "DONE").exists()}
    assert 1 <= len(before) < n_cells
    partial = {
        d: io.read_csv(d / "metrics.csv")
        for d in cell_dirs(out)
        if d not in before and (d / "checkpoint.pt").exists()
    }
    assert partial, "the kill hit no cell with a checkpoint"

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(before)} already DONE, {n_cells - len(before)} to run" in rerun.stdout
    assert_complete(out, n_cells, steps)
    for d, snap in before.items():
        assert snapshot(d) == snap, f"{d} was run again after it was DONE"
    assert rerun.stdout.count("DONE   ") == n_cells - len(before)
    for d, rows in partial.items():  # resumed, not restarted: the logged rows are kept
        # (the last row may postdate the last checkpoint; that iteration is redone)
        assert io.read_csv(d / "metrics.csv")[: len(rows) - 1] == rows[:-1], d


def test_a_failing_cell_is_isolated_and_the_exit_code_says_so(tmp_path: Path, capsys) -> None:
    spec = write_spec(tmp_path / "fail.toml", ["none", "const_bonus:ExplodingBonus"], 1, 1024)
    out = tmp_path / "res"
    code = cli.main(["matrix", str(spec), "--workers", "2", "--out", str(out)])
    assert code == 1
    captured = capsys.readouterr()
    assert "1 cell(s) FAILED" in captured.err and "ExplodingBonus exploded" in captured.err
    good = out / "CartPole-v1" / "ppo" / "none" / "seed0"
    bad = out / "CartPole-v1" / "ppo" / "const_bonus--ExplodingBonus" / "seed0"
    assert (good / "DONE").exists() and not (good / "FAILED").exists()
    assert not (bad / "DONE").exists()
    failed = (bad / "FAILED").read_text()
    assert failed.startswith("Traceback") and "RuntimeError: ExplodingBonus exploded" in failed
    assert "const_bonus.py" in failed
    # the matrix's cells are declared for its report, the failed one included
    declared = json.loads((out / "cells.json").read_text())["cells"]
    assert sorted(map(tuple, declared)) == [
        ("CartPole-v1", "ppo", "const_bonus:ExplodingBonus", 0),
        ("CartPole-v1", "ppo", "none", 0),
    ]
    # status shows it, and a rerun leaves DONE alone and retries only the failed cell
    assert cli.main(["status", str(out)]) == 0
    assert "failed" in capsys.readouterr().out
    done_before = snapshot(good)
    assert cli.main(["matrix", str(spec), "--workers", "1", "--out", str(out)]) == 1
    assert "1 already DONE, 1 to run" in capsys.readouterr().out
    assert snapshot(good) == done_before


def _ray_processes() -> set[int]:
    import psutil

    found = set()
    for p in psutil.process_iter(["pid", "name", "cmdline"]):
        text = " ".join([p.info["name"] or "", *(p.info["cmdline"] or [])])
        if any(
            k in text
            for k in (
                "raylet",
                "gcs_server",
                "ray::",
                "default_worker.py",
                "dashboard",
                "log_monitor",
                "runtime_env/agent",
            )
        ):
            found.add(p.info["pid"])
    return found


def test_ray_executor_runs_cells_to_done_and_leaves_no_process(tmp_path: Path, capsys) -> None:
    # The Ray extra is installed by the README's set-up and by .ci/run: in CI it must run.
    ray = need("ray", "ray")
    before = _ray_processes()
    spec = write_spec(tmp_path / "ray.toml", ["none"], 2, 1024)
    out = tmp_path / "res"
    code = cli.main(["matrix", str(spec), "--executor", "ray", "--workers", "2", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "local Ray instance" in capsys.readouterr().out
    assert not ray.is_initialized()
    assert_complete(out, 2, 1024)
    # files came back over Ray (no checkpoint: it stays with the worker)
    assert not list(out.glob("*/*/*/seed*/checkpoint.pt"))
    assert all(any((d / "tb").iterdir()) for d in cell_dirs(out))
    for _ in range(100):
        left = _ray_processes() - before
        if not left:
            break
        time.sleep(0.1)
    assert not left, f"Ray processes left after shutdown: {sorted(left)}"


def test_a_crashing_and_a_nan_cell_fail_alone_while_the_innocent_cell_runs_on(
    tmp_path: Path, capsys
) -> None:
    """Issue 17.8: a worker killed by SIGKILL used to break the shared process pool, and
    every cell in flight (the innocent `none` among them) was marked FAILED."""
    bonuses = ["crash_bonus:CrashingBonus", "crash_bonus:NaNBonus", "none"]
    spec = write_spec(tmp_path / "crash.toml", bonuses, 1, 4096)
    out = tmp_path / "res"
    assert cli.main(["matrix", str(spec), "--workers", "3", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "2 cell(s) FAILED" in err
    cells = out / "CartPole-v1" / "ppo"
    crashed = cells / "crash_bonus--CrashingBonus" / "seed0"
    assert "died by signal SIGKILL" in (crashed / "FAILED").read_text()
    assert "non-finite" in (cells / "crash_bonus--NaNBonus" / "seed0" / "FAILED").read_text()
    innocent = cells / "none" / "seed0"
    assert (innocent / "DONE").exists() and not (innocent / "FAILED").exists()
    assert io.read_csv(innocent / "metrics.csv")[-1]["env_steps"] == 4096
