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
