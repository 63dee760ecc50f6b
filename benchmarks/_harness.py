"""Measurement plumbing: every measurement runs in a fresh subprocess (equal torch, thread
and allocator state, its own peak RSS), A and B alternate within each round, and a pair is
summarised by the median ratio A/B with its min and max over the rounds."""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: One intra-op thread everywhere (BLAS and OpenMP too), unless a measurement says otherwise.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclasses.dataclass(frozen=True)
class Measure:
    """One side of a comparison: a function run in a child process, with its arguments."""

    label: str
    #: "module:function" under benchmarks; it returns at least {"sps": float}.
    func: str
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "benchmarks._child", self.func, json.dumps(dict(self.kwargs))]


@dataclasses.dataclass(frozen=True)
class Pair:
    """A/B: ``ratio = A.sps / B.sps``; the target is met when the median ratio >= target."""

    key: str
    title: str
    a: Measure
    b: Measure
    target: float | None = None
    target_text: str = ""
    #: Judges the target from the runs when it is not "median ratio >= target" (e.g. a share
    #: of A's wall-clock): PairResult -> met.
    judge: Callable[[PairResult], bool] | None = None


@dataclasses.dataclass
class PairResult:
    pair: Pair
    a: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    b: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [x["sps"] / y["sps"] for x, y in zip(self.a, self.b, strict=True)]

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def ratios_cpu(self) -> list[float]:
        """The same ratio on CPU time (steps per CPU-second of the measuring process): less
        sensitive to other processes' load, blind to waiting (so no use for the matrix)."""
        if not all("sps_cpu" in r for r in self.a + self.b):
            return []
        return [x["sps_cpu"] / y["sps_cpu"] for x, y in zip(self.a, self.b, strict=True)]

    @property
    def met(self) -> bool | None:
        if self.pair.judge is not None and self.a:
            return self.pair.judge(self)
        if self.pair.target is None or not self.a:
            return None
        return self.median >= self.pair.target


def run_measure(measure: Measure, timeout: float = 1800) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (cwd: a temp dir, for MUJOCO_LOG.TXT)."""
    env = {**os.environ, **THREAD_ENV, "PYTHONPATH": str(ROOT)}
    env.update({k: str(v) for k, v in measure.kwargs.get("env", {}).items()})
    with tempfile.TemporaryDirectory(prefix="eb-bench-") as tmp:
        start = time.perf_counter()
        proc = subprocess.run(
            measure.command(),
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        wall = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{measure.label} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["process_wall_s"] = round(wall, 2)
    return result


def run_pairs(
    pairs: list[Pair], rounds: int, log: Callable[[str], None] = print
) -> list[PairResult]:
    """Each round runs every pair once, A first in even rounds and B first in odd ones."""
    results = [PairResult(p) for p in pairs]
    for r in range(rounds):
        for res in results:
            order = [("a", res.pair.a), ("b", res.pair.b)]
            if r % 2:
                order.reverse()
            for side, measure in order:
                out = run_measure(measure)
                getattr(res, side).append(out)
                log(f"  round {r + 1} {res.pair.key} {side}={measure.label}: {out['sps']:.1f}")
    return results


def fmt_ratio(res: PairResult, cpu: bool = False) -> str:
    rs = res.ratios_cpu if cpu else res.ratios
    if not rs:
        return "-"
    return f"{statistics.median(rs):.2f}x ({min(rs):.2f}-{max(rs):.2f})"


def fmt_met(met: bool | None) -> str:
    return {True: "**met**", False: "**missed**", None: "-"}[met]
