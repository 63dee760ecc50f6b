"""run.device without a GPU (issue 18): validation, the staged (GPU) rollout path run on the
CPU against the direct one, the devices a bonus is handed, checkpoints that cross devices,
and the executors' GPU placement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import device_bonus
import pytest
import torch

from agents.base import OnPolicyAgent
from explore_bench.envs.tasks import resolve_task
from explore_bench.errors import ConfigError
from explore_bench.matrices.jobs import Job, check_gpu_options, place_local, place_ray
from explore_bench.matrices.local_pool import LocalExecutor
from explore_bench.runs.runner import TIMING_COLUMNS, run
from explore_bench.runs.wiring import build_agent, make_vector_env
from explore_bench.settings.config import resolve
from explore_bench.settings.devices import check_device_syntax, resolve_device
from explore_bench.store.io import read_csv

CLI = [sys.executable, "-m", "explore_bench.cli"]

# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["cuda9", "gpu", "meta", "cuda:", "CPU", "cuda:-1", " cpu"])
def test_malformed_devices_are_refused_with_the_valid_forms(value: str) -> None:
    with pytest.raises(ConfigError, match=r"valid: auto, cpu, cuda, cuda:K") as info:
        check_device_syntax(value)
    assert repr(value) in str(info.value)


def test_resolution_against_the_visible_gpus() -> None:
    assert resolve_device("auto", gpus=0) == "cpu"
    assert resolve_device("cpu", gpus=2) == "cpu"
    assert resolve_device("auto", gpus=2) == "cuda:0"
    assert resolve_device("cuda", gpus=1) == "cuda:0"
    assert resolve_device("cuda:1", gpus=2) == "cuda:1"
    with pytest.raises(ConfigError, match=r"'cuda:2' is not available.*cuda:0, cuda:1$"):
        resolve_device("cuda:2", gpus=2)
    with pytest.raises(ConfigError, match=r"'cuda' is not available.*valid here: auto, cpu$"):
        resolve_device("cuda", gpus=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("cuda9", "run.device 'cuda9' is not a device; valid: auto, cpu, cuda, cuda:K"),
        ("gpu", "run.device 'gpu' is not a device; valid: auto, cpu, cuda, cuda:K"),
        ("cuda:7", "run.device 'cuda:7' is not available: this process sees no CUDA device"),
    ],
)
def test_cli_bad_device_is_one_line_before_any_file(
    tmp_path: Path, value: str, message: str
) -> None:
    out = tmp_path / "res"
    proc = subprocess.run(
        [*CLI, "run", "--steps", "64", "--out", str(out), "--set", f"run.device={value}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"explore-bench: error: {message}"), lines
    assert not out.exists()


def test_config_json_records_requested_and_resolved_device(tmp_path: Path) -> None:
    resolved = resolve(
        {"steps": 64, "num_envs": 2, "eval_episodes": 0}, {"agent": {"num_steps": 32}}
    )
    run_dir = run(resolved, tmp_path / "run", progress=False)
    config = json.loads((run_dir / "config.json").read_text())
    # tests/conftest.py hides GPUs from in-process runs not marked gpu: auto is the CPU.
    assert config["device"] == {"requested": "auto", "resolved": "cpu"}
    assert json.loads((run_dir / "provenance.json").read_text())["host"]["device"] == "cpu"


# -- the staged rollout (the GPU code path) on the CPU ---------------------------------------


def _agent(task: str, agent: str, bonus: str, **run_opts: Any) -> OnPolicyAgent:
    resolved = resolve(
        {"task": task, "agent": agent, "bonus": bonus, "num_envs": 2, "seed": 3, **run_opts},
        {"agent": {"num_steps": 16}},
    )
    torch.manual_seed(3)
    envs = make_vector_env(resolve_task(task), 2)
    return build_agent(resolved, resolve_task(task), envs)


def _iterations(agent: OnPolicyAgent, n: int) -> tuple[list[dict[str, float]], list[Any]]:
    metrics, batches = [], []
    for _ in range(n):
        metrics.append(agent.train_iteration())
        batches.append([b.clone() for b in (agent.buf_obs, agent.buf_next_obs, agent.buf_actions)])
    agent.envs.close()
    return metrics, batches


CASES = [
    ("CartPole-v1", "ppo", "rnd"),  # discrete actions, MLP
    ("Pendulum-v1", "trpo", "icm"),  # Gaussian policy, separate value net
    ("explore_bench/MontezumaRevenge-emi-v0", "ppo", "emi"),  # frames, shared CNN trunk
]


@pytest.mark.parametrize(("task", "agent", "bonus"), CASES)
def test_staged_rollout_gives_the_numbers_of_the_direct_one(
    task: str, agent: str, bonus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off the CPU the env writes host arrays copied to device buffers; forced on the CPU,
    that path must reproduce the direct path exactly (both act through torch, since the
    staged path never uses the NumPy mirror)."""
    monkeypatch.setattr(OnPolicyAgent, "_numpy_mirror", lambda self: None)
    direct = _agent(task, agent, bonus)
    assert not direct.staged
    # The direct path's buffers are the env's arrays; the staged one keeps them apart.
    assert direct.buf_rewards.numpy().ctypes.data == direct._np_rewards.ctypes.data
    expected = _iterations(direct, 2)
    monkeypatch.setattr(OnPolicyAgent, "_force_staging", True)
    staged = _agent(task, agent, bonus)
    assert staged.staged and staged._numpy_mirror() is None
    assert staged.buf_rewards.data_ptr() != torch.from_numpy(staged._np_rewards).data_ptr()
    assert staged.buf_obs.data_ptr() != torch.from_numpy(staged._np_obs).data_ptr()
    got = _iterations(staged, 2)
    assert got[0] == expected[0]
    for a, b in zip(got[1], expected[1], strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_buffers_are_allocated_on_the_configured_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OnPolicyAgent, "_force_staging", True)
    agent = _agent("CartPole-v1", "ppo", "none", device="cpu")
    assert agent.device == torch.device("cpu")
    buffers = {k: v for k, v in vars(agent).items() if k.startswith("buf_")}
    assert len(buffers) == 9
    assert all(v.device == agent.device for v in buffers.values())
    assert agent.next_obs.device == agent.device
    params = [*agent.parameters(), *agent.bonus.parameters(), *agent.bonus.buffers()]
    assert all(p.device == agent.device for p in params)
    agent.envs.close()


@pytest.mark.parametrize("staged", [False, True])
@pytest.mark.parametrize("agent", ["ppo", "trpo"])
def test_every_tensor_a_bonus_receives_is_on_run_device(
    tmp_path: Path, agent: str, staged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OnPolicyAgent, "_force_staging", staged)
    device_bonus.SEEN.clear()
    resolved = resolve(
        {
            "agent": agent,
            "bonus": "device_bonus:DeviceRecorder",
            "steps": 128,
            "num_envs": 2,
            "eval_episodes": 0,
        },
        {"agent": {"num_steps": 32}},
    )
    run(resolved, tmp_path / "run", progress=False)
    expected = torch.device(resolved.device)
    # 2 iterations x (compute + update) x the six tensors of a Transitions.
    assert len(device_bonus.SEEN) == 2 * 2 * 6
    assert {device for _, _, device in device_bonus.SEEN} == {expected}


# -- checkpoints across devices --------------------------------------------------------------


def _tiny(steps: int, device: str = "auto") -> Any:
    return resolve(
        {
            "bonus": "rnd",
            "steps": steps,
            "num_envs": 2,
            "eval_episodes": 0,
            "checkpoint_interval": 1,
            "device": device,
            "recipe": "shared",  # RND's recipe spends 128 random steps per env: too many here
        },
        {"agent": {"num_steps": 32}},
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU machine resumes a GPU checkpoint")
def test_a_checkpoint_saved_on_a_gpu_resumes_on_this_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-save a CPU checkpoint with every storage tagged ``cuda:0``, as a GPU run writes it:
    plain torch.load fails here, the runner's resume (map_location) goes on."""
    run_dir = run(_tiny(128), tmp_path / "run", progress=False)
    before = read_csv(run_dir / "metrics.csv")
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(ckpt, run_dir / "checkpoint.pt")
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(run_dir / "checkpoint.pt", weights_only=False)
    (run_dir / "DONE").unlink()
    # Same settings (other ones are refused): the resume must load the checkpoint to finish.
    run(_tiny(128), run_dir, progress=False)
    assert (run_dir / "DONE").exists()
    after = read_csv(run_dir / "metrics.csv")
    assert [r["iteration"] for r in after] == [1, 2]
    strip = [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in after]
    assert strip == [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in before]


# -- executors: GPU placement ----------------------------------------------------------------


def test_local_placement_shares_gpus_up_to_the_cap() -> None:
    assert place_local("cpu", [0, 0], 2) == "cpu"
    assert place_local("auto", [], 2) == "cpu"  # no GPU: auto runs on the CPU
    assert place_local("auto", [0, 0], 0) == "cpu"  # GPUs off
    assert place_local("auto", [0, 0], 2) == "cuda:0"
    assert place_local("cuda", [1, 0], 2) == "cuda:1"  # the least loaded
    assert place_local("auto", [1, 1], 2) == "cuda:0"  # a tie: the lowest index
    assert place_local("auto", [2, 2], 2) is None  # every GPU full: wait
    assert place_local("cuda:1", [0, 2], 2) is None  # pinned to a full GPU: wait
    assert place_local("cuda:1", [2, 1], 2) == "cuda:1"
    assert place_local("cuda:3", [0, 0], 2) is None  # not visible: never fits


def test_local_pool_fills_gpu_slots_and_lets_cpu_cells_pass() -> None:
    pool = LocalExecutor(4, cells_per_gpu=2, gpus=1)
    devices = ["auto", "auto", "auto", "cpu"]
    queue = [Job(str(i), {"run": {"device": d}}, "") for i, d in enumerate(devices)][::-1]
    load = [0]
    order = []
    while (nxt := pool._next(queue, load)) is not None:
        job, device = nxt
        order.append((job.label, device))
        if device != "cpu":
            load[0] += 1
    # Two cells on the GPU, the third waits for a slot while the CPU cell goes ahead.
    assert order == [("0", "cuda:0"), ("1", "cuda:0"), ("3", "cpu")]
    assert [j.label for j in queue] == ["2"]


def test_ray_requests_gpus_only_for_cells_that_may_use_one() -> None:
    assert place_ray("auto", 0.0) == (0.0, "cpu")
    assert place_ray("auto", 0.25) == (0.25, "cuda")
    assert place_ray("cuda", 2) == (2.0, "cuda")
    assert place_ray("cpu", 0.5) == (0.0, "cpu")


@pytest.mark.parametrize(
    ("requests", "executor", "cells", "gpus", "message"),
    [
        (["auto"], "local", -1, 0.0, "--cells-per-gpu must be >= 0"),
        (["auto"], "ray", 1, 1.5, "--gpus-per-cell must be 0, a fraction"),
        (["auto"], "ray", 1, -0.5, "--gpus-per-cell must be 0, a fraction"),
        (["cuda:1"], "ray", 1, 0.5, "Ray picks each cell's GPU"),
        (["cuda"], "ray", 1, 0.0, "--gpus-per-cell is 0"),
        (["cpu", "cuda:0"], "local", 0, 0.0, "--cells-per-gpu is 0"),
    ],
)
def test_gpu_options_that_could_never_place_a_cell_are_refused(
    requests: list[str], executor: str, cells: int, gpus: float, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check_gpu_options(requests, executor, cells, gpus)


def test_gpu_options_that_can_place_every_cell_pass() -> None:
    check_gpu_options(["auto", "cpu"], "local", 0, 0.0)
    check_gpu_options(["cuda", "cuda:1"], "local", 2, 0.0)
    check_gpu_options(["cuda", "auto"], "ray", 1, 0.5)
    check_gpu_options(["auto"], "ray", 1, 2)


def test_matrix_refuses_bad_gpu_options_before_any_file(tmp_path: Path) -> None:
    out = tmp_path / "res"
    proc = subprocess.run(
        [*CLI, "matrix", "smoke", "--out", str(out), "--executor", "ray", "--gpus-per-cell", "1.5"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "explore-bench: error: --gpus-per-cell must be 0, a fraction in (0, 1] or a whole "
        "number, got 1.5"
    )
    assert not out.exists()


def test_deterministic_applies_to_the_run_and_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    original = OnPolicyAgent.train_iteration

    def spy(self: OnPolicyAgent) -> dict[str, float]:
        seen.append(torch.are_deterministic_algorithms_enabled())
        return original(self)

    monkeypatch.setattr(OnPolicyAgent, "train_iteration", spy)
    assert not torch.are_deterministic_algorithms_enabled()
    resolved = resolve(
        {"steps": 64, "num_envs": 2, "eval_episodes": 0, "deterministic": True},
        {"agent": {"num_steps": 32}},
    )
    run(resolved, tmp_path / "run", progress=False)
    assert seen == [True]  # one iteration of 2 envs x 32 steps
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_cell_checkpointed_on_another_device_still_resumes(tmp_path: Path) -> None:
    from test_matrix import spec

    from explore_bench.matrices import spec as specs

    m = specs.plan(
        spec(seeds=1, bonuses=["none"], agents=["ppo"], tasks=["CartPole-v1"]), tmp_path, "t.toml"
    )
    configs = specs.resolve_cells(m)
    cell = m.cells[0]
    cell.run_dir.mkdir(parents=True)
    old = configs[0].to_dict()
    old["run"]["device"] = "cuda:1"
    old["device"] = {"requested": "cuda:1", "resolved": "cuda:1"}
    (cell.run_dir / "config.json").write_text(json.dumps(old))
    (cell.run_dir / "checkpoint.pt").write_bytes(b"x")
    assert specs.check_existing(m.cells, configs) == []  # no refusal: it resumes here
