"""Issue 17: a results tree is data, one writer per run, bad values stopped up front.

Each test names the point of the issue it covers; each asserts the message, the exit code
and that nothing was written.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _extras import need

from explore_bench.runs import runner
from explore_bench.settings.config import ConfigError, parse_sets, resolve
from explore_bench.store import io

CLI = [sys.executable, "-m", "explore_bench.cli"]
#: The tiny run every test here starts from (CLI flags and the same as resolve() input).
ARGS = ["--steps", "512", "--num-envs", "2", "--set", "run.eval_episodes=1"]
RUN_DIR = Path("CartPole-v1") / "ppo" / "none" / "seed0"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


def main(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in this process (as `cli` in a subprocess, without its seconds of imports)."""
    from explore_bench import cli as cli_module

    capsys.readouterr()
    code = cli_module.main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)


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


def test_5_run_refuses_a_done_run_or_checkpoint_of_other_settings(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
    proc = main(capsys, "run", *ARGS[:1], "5000", *ARGS[2:], "--out", str(results))
    assert proc.returncode == 2
    assert "holds a checkpoint of different settings (run.steps: 512 -> 5000)" in proc.stderr
    assert tree(results) == before
    proc = main(capsys, "run", *ARGS, "--quiet", "--out", str(results))  # same settings: resumes
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "DONE").exists()


# --------------------------------------------------------------------------- 4: one writer


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped writing


def _tb_steps(run_dir: Path) -> list[int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    return [e.step for e in acc.Scalars("charts/sps")]


def test_4_workers_die_with_their_driver_and_a_second_matrix_never_runs_a_cell_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import signal
    import time

    spec = tmp_path / "w.toml"
    spec.write_text(
        'agents = ["ppo"]\nbonuses = ["none", "const_bonus:SlowBonus"]\n'
        'tasks = ["CartPole-v1"]\nseeds = 1\nsteps = 8192\nnum_envs = 2\n'
        "[run]\neval_episodes = 0\ncheckpoint_interval = 1\n"
        "[agent.ppo]\nupdate_epochs = 1\n"
    )
    out = tmp_path / "res"
    cmd = ["matrix", str(spec), "--workers", "2", "--out", str(out)]
    slow = {**os.environ, "SLOW_BONUS_S": "0.5"}
    first = subprocess.Popen(
        [*CLI, *cmd],
        env=slow,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    cells = [out / "CartPole-v1" / "ppo" / b / "seed0" for b in ("none", "const_bonus--SlowBonus")]
    try:
        deadline = time.monotonic() + 120
        while not all((c / "checkpoint.pt").exists() for c in cells):
            assert first.poll() is None and time.monotonic() < deadline, "cells never started"
            time.sleep(0.05)
        slow_cell = cells[1]
        worker = int((slow_cell / ".lock").read_text())
        second = main(capsys, *cmd)  # while the first one still writes the slow cell
        assert second.returncode == 1, second.stderr
        assert "not run here: another process is writing them" in second.stderr
        assert f"(pid {worker})" in second.stderr
        assert not (slow_cell / "DONE").exists(), "the first matrix finished too early"
        os.kill(first.pid, signal.SIGKILL)  # the driver alone, not its process group
        first.wait()
        deadline = time.monotonic() + 5
        while _alive(worker):
            assert time.monotonic() < deadline, "a worker survived its driver by over 5 s"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
    rerun = main(capsys, *cmd)
    assert rerun.returncode == 0, rerun.stderr
    for cell in cells:
        iterations = [r["iteration"] for r in io.read_csv(cell / "metrics.csv")]
        assert iterations == list(range(1, 33)), cell
        assert _tb_steps(cell) == [256 * i for i in iterations], cell


# --------------------------------------------------------------------------- 6, 7: resume


def test_6_7_resume_continues_one_series_and_restores_lost_metrics_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = resolve(
        {"steps": 2048, "num_envs": 2, "bonus": "const_bonus:FlakyBonus"},
        parse_sets(["run.eval_episodes=0", "run.checkpoint_interval=3"]),
    )
    run_dir = tmp_path / "run"
    monkeypatch.setenv("FLAKY_FAIL_AT", "5")  # dies in iteration 5, after the checkpoint at 3
    with pytest.raises(RuntimeError, match="FlakyBonus failed at update 5"):
        runner.run(cfg, run_dir, progress=False)
    assert [r["iteration"] for r in io.read_csv(run_dir / "metrics.csv")] == [1, 2, 3, 4]
    (run_dir / "metrics.csv").unlink()  # lost between the failure and the resume
    monkeypatch.delenv("FLAKY_FAIL_AT")
    runner.run(cfg, run_dir, progress=False)
    err = capsys.readouterr().err
    assert "metrics.csv was missing or incomplete (0 of 3 rows" in err
    assert "restored its rows from checkpoint.pt" in err
    rows = io.read_csv(run_dir / "metrics.csv")
    assert [r["iteration"] for r in rows] == list(range(1, 9))
    assert _tb_steps(run_dir) == [256 * i for i in range(1, 9)]  # iteration 4 logged once


def test_7_status_shows_done_runs_with_lost_metrics_as_broken(results: Path) -> None:
    good = results / RUN_DIR
    lines = (good / "metrics.csv").read_text().splitlines()
    assert len(lines) == 3  # header + 2 rows (512 steps, 256 per iteration)
    damaged = {
        "seed1": ("", "DONE but metrics.csv is missing"),
        "seed2": ("\n".join(lines[:2]) + "\n", "DONE but metrics.csv holds 1 of its 2 rows"),
        "seed3": (lines[0] + "\n" + "x" * 10 + "\n", "DONE but metrics.csv cannot be read"),
    }
    for seed, (text, _) in damaged.items():
        shutil.copytree(good, good.parent / seed)
        metrics = good.parent / seed / "metrics.csv"
        if text:
            metrics.write_text(text)
        else:
            metrics.unlink()
    before = tree(results)
    proc = cli("status", str(results))
    assert proc.returncode == 0, proc.stderr
    for _, detail in damaged.values():
        assert detail in proc.stdout
    assert "3 broken, 0 failed, 0 unfinished, 1 done" in proc.stdout
    assert tree(results) == before


# --------------------------------------------------------------------------- 2: paths


def test_2_a_spec_named_dotdot_writes_nothing_outside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "evil.toml"
    spec.write_text('name = ".."\nagents = ["ppo"]\nbonuses = ["none"]\ntasks = ["CartPole-v1"]\n')
    (tmp_path / "matrix.toml").write_text("mine\n")
    before = tree(tmp_path)
    proc = main(capsys, "matrix", str(spec))
    assert proc.returncode == 2
    assert "'name' must be a plain name" in proc.stderr and "got '..'" in proc.stderr
    assert tree(tmp_path) == before


def test_2_remote_results_are_confined_to_their_run_directory(tmp_path: Path) -> None:
    from explore_bench.matrices.ray_cluster import write_back

    run_dir = tmp_path / "a" / "b" / "run"
    (tmp_path / "outside").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    run_dir.mkdir()
    (run_dir / "tb").symlink_to(tmp_path / "outside")
    for rel in ("../../x", "/tmp/x", "tb/events", "ok/../../y"):
        with pytest.raises(ValueError, match=f"refused path {rel!r}"):
            write_back(run_dir, {"DONE": b"", "metrics.csv": b"1", rel: b"evil"})
        assert sorted(p.name for p in run_dir.iterdir()) == ["tb"]  # nothing was written
    assert not list((tmp_path / "outside").iterdir()) and not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="not a mapping of bytes"):
        write_back(run_dir, {"DONE": "text"})


# --------------------------------------------------------------------------- 12: Ray


def test_12_an_unreachable_ray_address_fails_fast_and_writes_nothing(tmp_path: Path) -> None:
    need("ray", "ray")
    spec = tmp_path / "r.toml"
    spec.write_text('agents = ["ppo"]\nbonuses = ["none"]\ntasks = ["CartPole-v1"]\nsteps = 512\n')
    out = tmp_path / "res"
    proc = cli(
        "matrix", str(spec), "--executor", "ray", "--ray-address", "127.0.0.1:1", "--out", str(out)
    )
    assert proc.returncode == 2, proc.stderr
    assert "cannot reach a Ray cluster at '127.0.0.1:1' (Connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


_LISTENERS = """
import json, os, psutil
from explore_bench.matrices.ray_cluster import RAY_LOOPBACK_SWITCH, RayExecutor
ex = RayExecutor(workers=1, address=None)
try:
    ex.ray.get(ex.ray.remote(lambda: 1).remote())  # a worker process is up as well
    procs = psutil.Process().children(recursive=True)
    found = []
    for proc in procs:
        try:
            found += [
                [proc.name(), c.laddr.ip]
                for c in proc.net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN
            ]
        except psutil.Error:
            pass
    print(json.dumps({"listen": found, "switch_left": RAY_LOOPBACK_SWITCH in os.environ}))
finally:
    ex.close()
"""


def test_3_a_local_ray_instance_listens_on_loopback_only() -> None:
    need("ray", "ray")
    proc = subprocess.run(
        [sys.executable, "-c", _LISTENERS], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    names = {name for name, _ in got["listen"]}
    assert {"gcs_server", "raylet"} <= names, got  # Ray's own services were inspected
    outside = [(n, ip) for n, ip in got["listen"] if ip not in ("127.0.0.1", "::ffff:127.0.0.1")]
    assert not outside, f"listening beyond loopback: {outside}"
    assert not got["switch_left"]  # the process's environment is as it was


# --------------------------------------------------------------------------- 9: bad values


def test_9_a_negative_seed_stops_the_cli_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "res"
    proc = cli("run", *ARGS, "--seed", "-1", "--out", str(out))
    assert proc.returncode == 2
    assert "run.seed must be in [0, 4294967295], got -1" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ["run.seed=1e30"],
            "run.seed must be in [0, 4294967295], got 1000000000000000019884624838656",
        ),
        (["run.steps=1e23"], "run.steps must be a positive integer of at most 1e+12"),
        (["agent.lr=nan"], "agent.lr=nan is not a finite number"),
        (["agent.lr=inf"], "agent.lr=inf is not a finite number"),
        (["agent.vf_coef=-0.5"], "agent.vf_coef=-0.5: expected a value >= 0"),
        (["shaping.coef=nan"], "shaping.coef=nan is not a finite number"),
        (["agent.policy_hidden=-4,8"], "agent.policy_hidden=(-4, 8): expected entries >= 1"),
        (["agent.policy_hidden=0"], "agent.policy_hidden=(0,): expected entries >= 1"),
        (["run.eval_interval=1e13"], "run.eval_interval must be in [0, 1e+12]"),
        (["bonus.value=nan"], "bonus.value=nan is not a finite number"),  # a plugin's field
    ],
)
def test_9_every_numeric_field_is_checked_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sets: list[str], message: str
) -> None:
    from explore_bench import cli as cli_module

    out = tmp_path / "res"
    plugin = ["--bonus", "const_bonus:ConstantBonus"]
    bonus = plugin if any(s.startswith("bonus.") for s in sets) else []
    steps = [] if any(s.startswith("run.steps") for s in sets) else ["--steps", "512"]
    argv = ["run", *steps, *bonus, *(a for s in sets for a in ("--set", s))]
    assert cli_module.main([*argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- 10: messages


def test_10_out_that_is_a_file_or_unwritable_is_refused_by_the_cli(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("mine\n")
    before = tree(tmp_path)
    proc = cli("run", *ARGS, "--out", str(tmp_path / "file"))
    assert proc.returncode == 2
    assert f"--out '{tmp_path / 'file'}' is an existing file, not a directory" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--steps", "512", "--out", "/proc/self/res"], "'/proc/self' is not writable"),
        # for root writable by its mode bits, yet no directory can be made there (the message
        # then says so; for others, that /proc is not writable)
        (["run", "--steps", "512", "--out", "/proc/res"], "--out '/proc/res': "),
        (["run", "--steps", "512", "--out", "file/res"], "'file' is a file, not a directory"),
        (["matrix", "SPEC", "--workers", "0"], "--workers must be a positive number"),
        (["matrix", "SPEC", "--workers", "-3"], "got -3"),
        (["report", "res", "--reps", "0"], "--reps must be a positive integer, got 0"),
        (["report", "res", "--final-window", "0"], "--final-window must be a share"),
        (["report", "res", "--final-window", "2"], "in (0, 1] (0.1: the last 10%), got 2.0"),
        (["report", "res", "--final-window", "nan"], "got nan"),
        (["report", "res", "--format", "pdf"], "--format 'pdf': give one or more of md, html"),
        (["report", "res", "--format", ","], "--format 'none': give one or more of md"),
        (["report", "res", "--out", "file"], "--out 'file' is an existing file"),
    ],
)
def test_10_bad_flags_are_one_line_errors_before_anything_is_written(
    finished: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    from explore_bench import cli as cli_module

    shutil.copytree(finished, tmp_path / "res")
    (tmp_path / "file").write_text("mine\n")
    spec = tmp_path / "s.toml"
    spec.write_text('agents = ["ppo"]\nbonuses = ["none"]\ntasks = ["CartPole-v1"]\nsteps = 512\n')
    before = tree(tmp_path)
    argv = [str(spec) if a == "SPEC" else a for a in argv]
    assert cli_module.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert tree(tmp_path) == before


def test_10_a_bad_report_option_in_a_spec_stops_the_matrix_before_any_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(
        'agents = ["ppo"]\nbonuses = ["none"]\ntasks = ["CartPole-v1"]\nsteps = 512\n'
        '[report]\nreps = "many"\n'
    )
    proc = main(capsys, "matrix", str(spec), "--out", str(tmp_path / "res"))
    assert proc.returncode == 2
    assert "[report] reps must be a positive integer, got 'many'" in proc.stderr
    assert not (tmp_path / "res").exists()


# --------------------------------------------------------------------------- 14: messages


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--bonus", "abstract_bonus:NoUpdate"],
            "NoUpdate does not implement the method update (required by IntrinsicBonus)",
        ),
        (
            ["--steps", "1000", "--set", "run.steps=2048"],
            "--set run.steps=2048 conflicts with --steps; give --steps only",
        ),
    ],
)
def test_14_plugin_and_flag_mistakes_get_a_message_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    out = tmp_path / "res"
    proc = main(capsys, "run", *argv, "--out", str(out))
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- 11, 15: report


def _report(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from explore_bench import cli as cli_module

    code = cli_module.main(["report", str(root), "--reps", "200"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_11_a_report_lists_bad_runs_instead_of_crashing(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = results / RUN_DIR
    header, *rows = (good / "metrics.csv").read_text().splitlines()
    bad = good.parent / "seed1"
    shutil.copytree(good, bad)
    config = json.loads((bad / "config.json").read_text())
    config["run"]["seed"] = 1
    (bad / "config.json").write_text(json.dumps(config))
    (bad / "metrics.csv").write_text("\n".join([header, "abc" + rows[0][3:], *rows[1:]]) + "\n")
    code, out = _report(results, capsys)
    assert code == 0, out
    assert "seed1 is broken (metrics.csv row 1 column 'env_steps' holds 'abc'" in out
    assert "(1 finished, 0 failed, 0 unfinished, 0 missing, 1 broken runs)" in out
    (good / "metrics.csv").write_text(header + "\n")  # now no run has a single metrics row
    code, out = _report(results, capsys)
    assert code == 0, out
    assert "seed0 is broken (DONE but metrics.csv holds no rows): excluded" in out
    assert "(0 finished, 0 failed, 0 unfinished, 0 missing, 2 broken runs)" in out


def test_15_leaderboard_md_escapes_plugin_names(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = results / RUN_DIR / "config.json"
    config = json.loads(config_path.read_text())
    config["run"]["bonus"] = "<script>alert(1)</script>"
    config_path.write_text(json.dumps(config))
    code, out = _report(results, capsys)
    assert code == 0, out
    markdown = (results / "report" / "leaderboard.md").read_text()
    assert "&lt;script>alert(1)&lt;/script>" in markdown
    assert "<script" not in markdown


@pytest.mark.parametrize(
    ("output", "error", "message"),
    [
        (torch.zeros(8), ValueError, r"returned shape \(8,\); expected \(4, 2\) \(T, N\)"),
        (
            torch.tensor([[0.0, float("nan")], [1.0, 2.0], [0.0, float("inf")], [0.0, 0.0]]),
            FloatingPointError,
            r"returned 2 non-finite values of 8 \(first: nan\) in its \(T, N\) = \(4, 2\)",
        ),
    ],
)
def test_14_a_bad_bonus_output_says_which_check_failed(
    output: torch.Tensor, error: type[Exception], message: str
) -> None:
    import gymnasium as gym

    from bonuses.base import Transitions
    from bonuses.none import NoBonus
    from explore_bench.runs.shaping import RewardShaper
    from explore_bench.settings.config import ShapingConfig

    class Bad(NoBonus):
        def compute(self, batch: Transitions) -> torch.Tensor:
            return output

    space = gym.spaces.Box(-1, 1, (3,))
    shaper = RewardShaper(Bad(space, gym.spaces.Discrete(2)), ShapingConfig())
    obs = torch.zeros(4, 2, 3)
    flags = torch.zeros(4, 2, dtype=torch.bool)
    batch = Transitions(
        obs=obs,
        actions=torch.zeros(4, 2, dtype=torch.int64),
        next_obs=obs,
        ext_rewards=torch.zeros(4, 2),
        terminated=flags,
        truncated=flags,
    )
    with pytest.raises(error, match=message):
        shaper.apply(batch, 0.0)


# --------------------------------------------------------------------------- 13: budget


def test_13_the_last_rollout_fits_the_budget_and_config_json_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "res"
    proc = main(
        capsys,
        "run",
        "--agent",
        "trpo",
        "--steps",
        "1",
        "--set",
        "run.eval_episodes=1",
        "--out",
        str(out),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    run_dir = out / "CartPole-v1" / "trpo" / "none" / "seed0"
    assert "steps 8 " in proc.stdout  # one vector step of the 8 envs, not 256 x 8 = 2,048
    assert [r["env_steps"] for r in io.read_csv(run_dir / "metrics.csv")] == [8]
    budget = json.loads((run_dir / "config.json").read_text())["budget"]
    assert budget == {
        "requested_steps": 1,
        "steps_run": 8,
        "steps_per_rollout": 2048,
        "last_rollout_cut_to_fit": True,
    }


def test_13_an_agent_that_needs_whole_rollouts_rounds_up_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from explore_bench.cli import build_parser

    cfg = resolve(
        {"agent": "full_rollouts:FullRolloutPPO", "steps": 300, "num_envs": 2},
        parse_sets(["run.eval_episodes=0"]),
    )
    assert runner.budget(cfg)["steps_run"] == 512  # two rollouts of 128 x 2
    runner.run(cfg, tmp_path / "run", progress=False)
    assert [r["env_steps"] for r in io.read_csv(tmp_path / "run" / "metrics.csv")] == [256, 512]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    assert "PPO and TRPO cut their last rollout to fit" in " ".join(capsys.readouterr().out.split())
