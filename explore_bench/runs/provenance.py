"""What a run records about where it ran: package versions, git revision, plugin sources, host
and device (provenance.json)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from explore_bench.plugins import registry
from explore_bench.settings.config import ResolvedRun

PACKAGES = (
    "explore-bench",
    "torch",
    "gymnasium",
    "mujoco",
    "ale-py",
    "minigrid",
    "envpool",
    "numpy",
    "rliable",
    "pandas",
)


def provenance(resolved: ResolvedRun) -> dict[str, Any]:
    """provenance.json's fields at the start of a run (its end time is added at the end)."""
    versions: dict[str, str | None] = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        git = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=Path(__file__).resolve().parent,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        git = None
    run = resolved.run
    return {
        "packages": versions,
        "python": sys.version.split()[0],
        "git_revision": git,
        "plugins": {
            "agent": {"name": run.agent, "source": registry.agents.source(run.agent)},
            "bonus": {"name": run.bonus, "source": registry.bonuses.source(run.bonus)},
            "task": {"name": run.task, "source": _task_source(run.task)},
        },
        "host": {
            "name": platform.node(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "device": resolved.device,
            "gpu": _gpu_name(resolved.device),
        },
        "start_time": _dt.datetime.now(_dt.UTC).isoformat(),
    }


def _gpu_name(device: str) -> str | None:
    if not device.startswith("cuda"):
        return None
    return str(torch.cuda.get_device_name(torch.device(device)))


def _task_source(name: str) -> str:
    if name in registry.tasks.names():
        return registry.tasks.source(name)
    return "gymnasium id"
