from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

PLUGINS = Path(__file__).parent / "plugins"
sys.path.insert(0, str(PLUGINS))
# Subprocesses started by tests (the CLI) find the test plugins too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(PLUGINS), os.environ.get("PYTHONPATH", "")) if p
)

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _run_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mujoco writes MUJOCO_LOG.TXT into the working directory; keep it out of the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _cpu_unless_marked_gpu(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """run.device defaults to auto: on a GPU machine the default suite would silently move to
    the GPU, where its exact same-seed checks do not hold. In-process runs see no GPU unless
    a test is marked ``gpu`` (tests/test_gpu.py asks for cuda explicitly)."""
    if request.node.get_closest_marker("gpu") is None:
        from explore_bench.matrices import local_pool
        from explore_bench.settings import devices

        monkeypatch.setattr(devices, "cuda_device_count", lambda: 0)
        monkeypatch.setattr(local_pool, "cuda_device_count", lambda: 0)
