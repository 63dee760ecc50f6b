"""Issue 17: a results tree is data, one writer per run, bad values stopped up front.

Each test names the point of the issue it covers; each asserts the message, the exit code
and that nothing was written.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explore_bench import io, runner
from explore_bench.config import ConfigError, parse_sets, resolve

CLI = [sys.executable, "-m", "explore_bench.cli"]
#: The tiny run every test here starts from (CLI flags and the same as resolve() input).
ARGS = ["--steps", "512", "--num-envs", "2", "--set", "run.eval_episodes=1"]
RUN_DIR = Path("CartPole-v1") / "ppo" / "none" / "seed0"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: equal before and after = nothing written."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def tiny(**run: object) -> object:
    return resolve({"steps": 512, "num_envs": 2, **run}, parse_sets(["run.eval_episodes=1"]))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DONE run of the tiny config (made once; tests copy it)."""
    root = tmp_path_factory.mktemp("finished")
    runner.run(tiny(), root / RUN_DIR, progress=False)
    return root


@pytest.fixture
def results(finished: Path, tmp_path: Path) -> Path:
    out = tmp_path / "res"
    shutil.copytree(finished, out)
    return out


# --------------------------------------------------------------------------- 1: checkpoints


class _Planted:
    """Unpickling this creates a file: what a hostile checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_1_a_planted_checkpoint_runs_no_code_and_is_named(results: Path, tmp_path: Path) -> None:
    run_dir = results / RUN_DIR
    (run_dir / "DONE").unlink()
    marker = tmp_path / "pwned"
    torch.save({"agent": _Planted(marker)}, run_dir / "checkpoint.pt")
    before = tree(results)
    proc = cli("run", *ARGS, "--out", str(results))
    assert proc.returncode == 2, proc.stderr
    assert f"checkpoint {run_dir / 'checkpoint.pt'} cannot be loaded safely" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists(), "unpickling the checkpoint ran code"
    assert tree(results) == before


def test_1_checkpoints_round_trip_numpy_state_with_weights_only(tmp_path: Path) -> None:
    import numpy as np

    state = {"rng": np.random.get_state(), "visited": np.eye(3, dtype=bool), "n": np.int64(7)}
    io.save_torch(tmp_path / "c.pt", state)
    torch.load(tmp_path / "c.pt", weights_only=True)  # the file itself needs no unpickler
    back = io.load_checkpoint(tmp_path / "c.pt")
    assert back["rng"][0] == "MT19937" and (back["rng"][1] == state["rng"][1]).all()
    assert back["visited"].dtype == bool and (back["visited"] == np.eye(3)).all()
    assert back["n"] == 7 and isinstance(back["n"], np.int64)
    with pytest.raises(TypeError, match=r"checkpoint\.x is a pathlib"):
        io.save_torch(tmp_path / "d.pt", {"x": tmp_path})
    assert not (tmp_path / "d.pt").exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 cut short"])
def test_10_a_truncated_checkpoint_says_which_file_and_how_to_restart(
    results: Path, content: bytes
) -> None:
    run_dir = results / RUN_DIR
    (run_dir / "DONE").unlink()
    (run_dir / "checkpoint.pt").write_bytes(content)
    before = tree(results)
    with pytest.raises(ConfigError, match="cannot be loaded safely") as err:
        runner.run(tiny(), run_dir, progress=False)
    assert str(run_dir / "checkpoint.pt") in str(err.value) and "rm " in str(err.value)
    assert tree(results) == before


# --------------------------------------------------------------------------- 5: other settings


def test_5_run_refuses_a_done_run_or_checkpoint_of_other_settings(results: Path) -> None:
    run_dir = results / RUN_DIR
    before = tree(results)
    proc = cli("run", *ARGS, "--set", "agent.lr=1e-3", "--out", str(results))
    assert proc.returncode == 2
    assert "holds a finished (DONE) run of different settings (agent.lr: 0.0003 -> 0.001)" in (
        proc.stderr
    )
    assert tree(results) == before
    (run_dir / "DONE").unlink()
    before = tree(results)
    proc = cli("run", *ARGS[:1], "5000", *ARGS[2:], "--out", str(results))
    assert proc.returncode == 2
    assert "holds a checkpoint of different settings (run.steps: 512 -> 5000)" in proc.stderr
    assert tree(results) == before
    proc = cli("run", *ARGS, "--out", str(results))  # the same settings resume and finish
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "DONE").exists()
