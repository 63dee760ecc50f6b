"""(0) Before/after of the hot paths: the same runs of our agents with the working tree and
with the packages (agents, bonuses, explore_bench) of an earlier git revision (``--before
REV``), e.g. the commit before issue 9's changes."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path

from benchmarks._harness import ROOT, Measure, Pair

PACKAGES = ("agents", "bonuses", "explore_bench")


def export(rev: str) -> tempfile.TemporaryDirectory[str]:
    """The revision's packages in a temp dir (put first on PYTHONPATH by the measurements)."""
    tmp = tempfile.TemporaryDirectory(prefix="eb-before-")
    archive = Path(tmp.name) / "src.tar"
    subprocess.run(
        ["git", "archive", "--format=tar", "-o", str(archive), rev, *PACKAGES],
        cwd=ROOT,
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(tmp.name, filter="data")
    return tmp


def pairs(quick: bool, rev: str, src: str) -> list[Pair]:
    before_env = {"PYTHONPATH": f"{src}:{ROOT}"}
    steps = 2048 if quick else 10240
    runs = [
        (f"PPO, HalfCheetah-v5, {n} env{'s' if n > 1 else ''}, {steps} steps (as in ppo)",
         "ppo_sb3:ours", {"num_envs": n, "steps": steps})
        for n in (1, 8)
    ]  # fmt: skip
    atari_steps = 1024 if quick else 2048
    runs.append(
        (f"PPO Nature CNN, Venture, 8 envs, {atari_steps} steps (as in atari)",
         "atari:ours", {"steps": atari_steps})
    )  # fmt: skip
    return [
        Pair(
            key=f"hotpath-{i}",
            title=f"this tree vs {rev}: {title}",
            a=Measure("this tree", func, kwargs),
            b=Measure(rev, func, {**kwargs, "env": before_env}),
            target=None,
            target_text="none (shows what the hot-path work bought)",
        )
        for i, (title, func, kwargs) in enumerate(runs)
    ]
