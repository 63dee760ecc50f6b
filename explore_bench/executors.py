"""Where the cells of a matrix run: a local process pool (default) or a Ray cluster.

Both call the same function, `run_job`: a resolved config (as its JSON dict) in, a complete
run directory out (DONE, or FAILED with the traceback). Each executor keeps at most
``workers`` cells in flight and reports every start and finish to the caller, which draws
the progress and the summary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from explore_bench import io

DIED = (
    "a worker process died while this cell ran (killed, or crashed e.g. out of memory; "
    "with several workers the cell that crashed may be another one): rerun the matrix to "
    "resume it from its last checkpoint"
)
#: Kept on the worker; the driver's copy would only resume a run that is already DONE.
NOT_SHIPPED = ("checkpoint.pt",)


@dataclasses.dataclass(frozen=True)
class Job:
    """One cell to run: its label, its resolved config and its directory in the results tree."""

    label: str
    config: dict[str, Any]
    run_dir: str


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a job ended: DONE (ok) or FAILED, with the error's last line."""

    job: Job
    ok: bool
    seconds: float
    error: str = ""


Callback = Callable[[Job], None]
Report = Callable[[Outcome], None]


def run_job(config: dict[str, Any], run_dir: str) -> tuple[bool, float, str]:
    """Run one cell to DONE or FAILED; the worker-side entry point of every executor."""
    import torch

    from explore_bench import runner
    from explore_bench.config import ResolvedRun

    torch.set_num_threads(1)
    start = time.perf_counter()
    path = Path(run_dir)
    try:
        resolved = ResolvedRun.from_dict(config)
    except Exception as exc:  # runner.run never started, so it wrote no FAILED
        io.write_text(path / "FAILED", traceback.format_exc())
        return False, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    try:
        runner.run(resolved, path, progress=False)
    except Exception as exc:  # runner.run has written FAILED with the traceback
        return False, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    return True, time.perf_counter() - start, ""


def clean_temporaries(run_dir: Path) -> None:
    """Remove temporary files a killed run left behind (never the files they would replace)."""
    if run_dir.is_dir():
        for tmp in run_dir.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def fail(job: Job, message: str) -> Outcome:
    """Record a failure the worker could not record itself (e.g. it was killed)."""
    io.write_text(Path(job.run_dir) / "FAILED", message + "\n")
    return Outcome(job, False, 0.0, message.splitlines()[-1])


# --------------------------------------------------------------------------- local


def _init_worker() -> None:
    # Ctrl-C goes to the driver only; it stops the workers itself, so a worker never
    # turns the interrupt into a FAILED cell or picks up the next job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)


class LocalExecutor:
    """A process pool on this machine: ``workers`` processes, torch threads 1 in each."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.description = f"local, {workers} worker{'s' * (workers > 1)}"

    def _pool(self) -> ProcessPoolExecutor:
        # Never plain fork (the driver may hold threads). forkserver imports torch and the
        # runner once and forks every worker from that clean process, which saves each worker
        # seconds of imports; spawn where forkserver does not exist. Workers inherit
        # OMP_NUM_THREADS=1, which keeps BLAS from oversubscribing the cores.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        ctx: multiprocessing.context.BaseContext
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["explore_bench.runner"])
        else:
            ctx = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker)

    def run(self, jobs: Sequence[Job], on_start: Callback, on_done: Report) -> None:
        queue = list(reversed(jobs))
        running: dict[Future[tuple[bool, float, str]], Job] = {}
        pool = self._pool()
        try:
            while queue or running:
                # Never more jobs in the pool than workers: all in flight are really running,
                # and an interrupt leaves nothing queued inside the pool.
                while queue and len(running) < self.workers:
                    job = queue.pop()
                    clean_temporaries(Path(job.run_dir))
                    running[pool.submit(run_job, job.config, job.run_dir)] = job
                    on_start(job)
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    job = running.pop(future)
                    try:
                        ok, seconds, error = future.result()
                    except BrokenProcessPool:
                        broken = True
                        running[future] = job
                        continue
                    on_done(Outcome(job, ok, seconds, error))
                if broken:
                    # One worker died; the pool cannot tell whose job killed it, so every cell
                    # in flight is marked, and a fresh pool takes the rest of the queue.
                    for job in running.values():
                        on_done(fail(job, DIED))
                    running.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
        except BaseException:
            _terminate(pool)
            raise
        pool.shutdown(wait=True)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now; their files stay whole because every write is atomic."""
    processes = list(getattr(pool, "_processes", {}).values())
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(timeout=5)


# --------------------------------------------------------------------------- ray


def _read_tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip and not p.name.endswith(".tmp")
    }


def ray_job(
    config: dict[str, Any], files: dict[str, bytes]
) -> tuple[bool, float, str, dict[str, bytes]]:
    """Run a job in a private temp dir on whatever node Ray picked; return its files.

    ``files`` is what the driver holds of an unfinished cell (e.g. its checkpoint), so a
    cell resumes wherever it runs; nothing is shared with the driver but these bytes.
    """
    with tempfile.TemporaryDirectory(prefix="explore-bench-") as tmp:
        run_dir = Path(tmp) / "run"
        for rel, data in files.items():
            io.write_bytes(run_dir / rel, data)
        ok, seconds, error = run_job(config, str(run_dir))
        return ok, seconds, error, _read_tree(run_dir, NOT_SHIPPED if ok else ())


def ray_job_shared(
    config: dict[str, Any], run_dir: str
) -> tuple[bool, float, str, dict[str, bytes]]:
    """Run a job straight into a results tree that every node mounts at the same path."""
    return (*run_job(config, run_dir), {})


def write_back(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a finished run's files into the results tree, the DONE/FAILED marker last."""
    markers = ("DONE", "FAILED")
    for rel, data in files.items():
        if rel not in markers:
            io.write_bytes(run_dir / rel, data)
    for marker in markers:
        if marker in files:
            io.write_bytes(run_dir / marker, files[marker])
        else:
            (run_dir / marker).unlink(missing_ok=True)
    for name in NOT_SHIPPED:  # a copy here predates the run that just ended
        if name not in files:
            (run_dir / name).unlink(missing_ok=True)


class RayExecutor:
    """Cells as Ray tasks (1 CPU each) on an existing cluster or a local one started here."""

    def __init__(self, workers: int | None, address: str | None, shared_fs: bool = False) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ImportError(
                "the ray executor needs Ray: pip install 'explore-bench[ray]'"
            ) from exc
        self.ray = ray
        self.address = address
        self.shared_fs = shared_fs
        self.started_here = address is None
        ray.init(
            address=address,
            num_cpus=workers if self.started_here else None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or cpus
        where = "a local Ray instance" if self.started_here else f"Ray at {address}"
        self.description = f"ray ({where}, {self.workers} cells at a time, {cpus} CPUs)"
        fn = ray_job_shared if shared_fs else ray_job
        self.remote: Any = ray.remote(num_cpus=1, max_retries=0)(fn)

    def run(self, jobs: Sequence[Job], on_start: Callback, on_done: Report) -> None:
        ray = self.ray
        queue = list(reversed(jobs))
        running: dict[Any, Job] = {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    job = queue.pop()
                    run_dir = Path(job.run_dir)
                    clean_temporaries(run_dir)
                    arg = job.run_dir if self.shared_fs else _read_tree(run_dir)
                    running[self.remote.remote(job.config, arg)] = job
                    on_start(job)
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job = running.pop(ref)
                    try:
                        ok, seconds, error, files = ray.get(ref)
                    except Exception as exc:  # the worker died or Ray lost the task
                        on_done(fail(job, f"Ray could not run this cell: {exc}"))
                        continue
                    if not self.shared_fs:
                        write_back(Path(job.run_dir), files)
                    on_done(Outcome(job, ok, seconds, error))
        except BaseException:
            for ref in running:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise
        finally:
            self.close()

    def close(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()
