"""Where the cells of a matrix run: a local process pool (default) or a Ray cluster.

Both call the same function, `run_job`: a resolved config (as its JSON dict) in, a complete
run directory out (DONE, or FAILED with the traceback). Each executor keeps at most
``workers`` cells in flight and reports every start and finish to the caller, which draws
the progress and the summary.

GPUs: a cell whose ``run.device`` is ``auto`` or ``cuda`` may run on a GPU; ``cpu`` never
does. The local pool hands each such cell one visible GPU with fewer than
``cells_per_gpu`` cells on it (`place_local`; a cell waits for a slot, CPU cells run
meanwhile) and passes it as an explicit ``cuda:K`` to the worker; ``cells_per_gpu = 0``
keeps every ``auto`` cell on the CPU. The Ray executor asks Ray for ``gpus_per_cell`` GPUs
per such cell (fractions share a GPU; `place_ray`) and Ray places the task; the default 0
keeps cells on CPUs. Either way the worker resolves the device it was given in its own
process, so config.json records where the cell really ran.
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
from explore_bench.devices import cuda_device_count, is_pinned
from explore_bench.errors import ConfigError

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


def run_job(
    config: dict[str, Any], run_dir: str, device: str | None = None
) -> tuple[bool, float, str]:
    """Run one cell to DONE or FAILED; the worker-side entry point of every executor.
    ``device`` is the executor's placement (default: the cell's own ``run.device``)."""
    import torch

    from explore_bench import runner
    from explore_bench.config import ResolvedRun

    torch.set_num_threads(1)
    start = time.perf_counter()
    path = Path(run_dir)
    try:
        resolved = ResolvedRun.from_dict(config, device)
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


# --------------------------------------------------------------------------- GPUs


def requested_device(job: Job) -> str:
    """The cell's ``run.device`` request (``auto`` for configs written before it existed)."""
    return str(job.config.get("run", {}).get("device", "auto"))


def check_gpu_options(
    requests: Sequence[str], executor: str, cells_per_gpu: int, gpus_per_cell: float
) -> None:
    """Refuse option combinations that could never place a cell, before anything runs."""
    if cells_per_gpu < 0:
        raise ConfigError(f"--cells-per-gpu must be >= 0, got {cells_per_gpu}")
    if gpus_per_cell < 0 or (gpus_per_cell > 1 and not float(gpus_per_cell).is_integer()):
        raise ConfigError(
            f"--gpus-per-cell must be 0, a fraction in (0, 1] or a whole number, "
            f"got {gpus_per_cell}"
        )
    explicit = sorted({r for r in requests if r.startswith("cuda")})
    if not explicit:
        return
    if executor == "ray" and any(is_pinned(r) for r in explicit):
        raise ConfigError(
            f"run.device {explicit[-1]!r}: Ray picks each cell's GPU; use run.device = "
            "'cuda' or 'auto' with --gpus-per-cell"
        )
    if executor == "ray" and gpus_per_cell == 0:
        raise ConfigError(
            f"cells ask for run.device {explicit[0]!r} but --gpus-per-cell is 0: give the "
            "GPUs per cell (e.g. --gpus-per-cell 0.5)"
        )
    if executor == "local" and cells_per_gpu == 0:
        raise ConfigError(
            f"cells ask for run.device {explicit[0]!r} but --cells-per-gpu is 0 (GPUs off)"
        )


def place_local(requested: str, load: Sequence[int], cells_per_gpu: int) -> str | None:
    """Where the local pool runs a cell: ``cpu``, ``cuda:K``, or None (wait for a slot).

    ``load[k]`` is the number of cells in flight on visible GPU k. A ``cpu`` cell, and an
    ``auto`` cell when there is no GPU or GPUs are off (``cells_per_gpu = 0``), runs on the
    CPU. Otherwise the cell takes the least loaded GPU (the lowest index on a tie; a pinned
    ``cuda:K`` only GPU K) if it has fewer than ``cells_per_gpu`` cells.
    """
    if requested == "cpu" or (requested == "auto" and (not load or cells_per_gpu == 0)):
        return "cpu"
    if is_pinned(requested):
        k = int(requested.split(":", 1)[1])
    elif load:
        k = min(range(len(load)), key=lambda i: (load[i], i))
    else:
        return None  # a GPU cell on a machine without one never fits
    return f"cuda:{k}" if k < len(load) and load[k] < cells_per_gpu else None


def place_ray(requested: str, gpus_per_cell: float) -> tuple[float, str]:
    """(GPUs Ray reserves for the cell, the device its worker resolves). Ray sets the task's
    CUDA_VISIBLE_DEVICES to the GPU(s) it reserved, so the worker's ``cuda`` is that GPU."""
    if requested == "cpu" or gpus_per_cell == 0:
        return 0.0, "cpu"
    return float(gpus_per_cell), "cuda"


# --------------------------------------------------------------------------- local


def _init_worker() -> None:
    # Ctrl-C goes to the driver only; it stops the workers itself, so a worker never
    # turns the interrupt into a FAILED cell or picks up the next job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)


class LocalExecutor:
    """A process pool on this machine: ``workers`` processes, torch threads 1 in each; cells
    that may use a GPU share the visible ones, at most ``cells_per_gpu`` per GPU."""

    def __init__(self, workers: int, cells_per_gpu: int = 1, gpus: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.cells_per_gpu = cells_per_gpu
        self.gpus = cuda_device_count() if gpus is None else gpus
        self.description = f"local, {workers} worker{'s' * (workers > 1)}"
        if self.gpus and cells_per_gpu:
            self.description += f", {self.gpus} GPU(s) x {cells_per_gpu} cell(s)"

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

    def _next(self, queue: list[Job], load: list[int]) -> tuple[Job, str] | None:
        """The first queued job that can be placed now, taken off the queue, and its device."""
        for i in range(len(queue) - 1, -1, -1):  # the queue is reversed: the end goes first
            device = place_local(requested_device(queue[i]), load, self.cells_per_gpu)
            if device is not None:
                return queue.pop(i), device
        return None

    def run(self, jobs: Sequence[Job], on_start: Callback, on_done: Report) -> None:
        queue = list(reversed(jobs))
        running: dict[Future[tuple[bool, float, str]], Job] = {}
        placed: dict[Future[tuple[bool, float, str]], str] = {}
        load = [0] * self.gpus
        pool = self._pool()
        try:
            while queue or running:
                # Never more jobs in the pool than workers: all in flight are really running,
                # and an interrupt leaves nothing queued inside the pool.
                while queue and len(running) < self.workers:
                    nxt = self._next(queue, load)
                    if nxt is None:  # every queued cell waits for a GPU slot
                        break
                    job, device = nxt
                    clean_temporaries(Path(job.run_dir))
                    future = pool.submit(run_job, job.config, job.run_dir, device)
                    running[future], placed[future] = job, device
                    if device != "cpu":
                        load[int(device.split(":")[1])] += 1
                    on_start(job)
                if not running:
                    raise ConfigError(
                        f"{len(queue)} cell(s) can never get a GPU "
                        f"(--cells-per-gpu {self.cells_per_gpu}, {self.gpus} GPU(s))"
                    )
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    device = placed.pop(future)
                    if device != "cpu":
                        load[int(device.split(":")[1])] -= 1
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
                    placed.clear()
                    load = [0] * self.gpus
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
    config: dict[str, Any], files: dict[str, bytes], device: str | None = None
) -> tuple[bool, float, str, dict[str, bytes]]:
    """Run a job in a private temp dir on whatever node Ray picked; return its files.

    ``files`` is what the driver holds of an unfinished cell (e.g. its checkpoint), so a
    cell resumes wherever it runs; nothing is shared with the driver but these bytes.
    """
    with tempfile.TemporaryDirectory(prefix="explore-bench-") as tmp:
        run_dir = Path(tmp) / "run"
        for rel, data in files.items():
            io.write_bytes(run_dir / rel, data)
        ok, seconds, error = run_job(config, str(run_dir), device)
        return ok, seconds, error, _read_tree(run_dir, NOT_SHIPPED if ok else ())


def ray_job_shared(
    config: dict[str, Any], run_dir: str, device: str | None = None
) -> tuple[bool, float, str, dict[str, bytes]]:
    """Run a job straight into a results tree that every node mounts at the same path."""
    return (*run_job(config, run_dir, device), {})


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
    """Cells as Ray tasks (1 CPU each, and ``gpus_per_cell`` GPUs for a cell that may use
    one) on an existing cluster or a local one started here."""

    def __init__(
        self,
        workers: int | None,
        address: str | None,
        shared_fs: bool = False,
        gpus_per_cell: float = 0.0,
    ) -> None:
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
        gpus = float(ray.cluster_resources().get("GPU", 0))
        if gpus_per_cell > gpus:  # such a task would wait forever for a GPU
            self.close()
            raise ConfigError(
                f"--gpus-per-cell {gpus_per_cell} but the Ray cluster has {gpus:g} GPU(s)"
            )
        self.gpus_per_cell = gpus_per_cell
        self.workers = workers or cpus
        where = "a local Ray instance" if self.started_here else f"Ray at {address}"
        self.description = f"ray ({where}, {self.workers} cells at a time, {cpus} CPUs"
        self.description += f", {gpus_per_cell:g} GPU per cell)" if gpus_per_cell else ")"
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
                    num_gpus, device = place_ray(requested_device(job), self.gpus_per_cell)
                    task = self.remote.options(num_gpus=num_gpus)
                    running[task.remote(job.config, arg, device)] = job
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
