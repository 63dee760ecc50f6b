"""The local executor: each cell in a process of its own on this machine, at most ``workers``
at once, sharing the visible GPUs (`jobs.place_local`)."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import multiprocessing.connection as mp_connection
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from explore_bench.errors import ConfigError
from explore_bench.matrices.jobs import (
    DIED,
    Callback,
    Job,
    Report,
    fail,
    outcome,
    place_local,
    requested_device,
    run_job,
)
from explore_bench.settings.devices import cuda_device_count


def _watch_driver(driver_pid: int) -> None:
    """End this worker when the driver is gone, however it went (kill -9 included): no
    orphan keeps training, writing, or holding a run directory's lock."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the parent (forkserver) dies
    parent = os.getppid()

    def watch() -> None:  # the driver itself, and the parent if PDEATHSIG is unavailable
        while True:
            time.sleep(0.5)
            try:
                os.kill(driver_pid, 0)
            except ProcessLookupError:
                os._exit(70)
            except PermissionError:
                pass
            if os.getppid() != parent:
                os._exit(70)

    threading.Thread(target=watch, name="explore-bench-watchdog", daemon=True).start()


def _worker(
    conn: Connection, driver_pid: int, config: dict[str, Any], run_dir: str, device: str
) -> None:
    """One cell in its own process; the result goes back through ``conn``."""
    # Ctrl-C goes to the driver only; it stops the workers itself, so a worker never
    # turns the interrupt into a FAILED cell.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _watch_driver(driver_pid)
    try:
        result = run_job(config, run_dir, device)
    except BaseException as exc:  # run_job catches Exception; this is SystemExit and kin
        result = ("failed", 0.0, f"{type(exc).__name__}: {exc}")
    conn.send(result)
    conn.close()


def _died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"by signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            how += " (killed, e.g. by the out-of-memory killer)"
    else:
        how = f"with exit code {exitcode}"
    return f"the worker process running this cell died {how}: {DIED}"


@dataclasses.dataclass
class _Running:
    job: Job
    process: Any
    conn: Connection
    #: Where the cell runs (``cpu`` or ``cuda:K``), to free its GPU slot at the end.
    device: str


class LocalExecutor:
    """Cells in processes on this machine: at most ``workers`` at once, torch threads 1 in
    each, and one process per cell, so a cell that crashes its process (a segfault, the
    out-of-memory killer) fails alone; a shared pool would break and take every cell in
    flight with it. Cells that may use a GPU share the visible ones, at most
    ``cells_per_gpu`` per GPU."""

    def __init__(self, workers: int, cells_per_gpu: int = 1, gpus: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.cells_per_gpu = cells_per_gpu
        self.gpus = cuda_device_count() if gpus is None else gpus
        self.description = f"local, {workers} worker{'s' * (workers > 1)}"
        if self.gpus and cells_per_gpu:
            self.description += f", {self.gpus} GPU(s) x {cells_per_gpu} cell(s)"

    def _context(self) -> multiprocessing.context.BaseContext:
        # Never plain fork (the driver may hold threads). forkserver imports torch and the
        # runner once and forks every worker from that clean process, which saves each worker
        # seconds of imports; spawn where forkserver does not exist. Workers inherit
        # OMP_NUM_THREADS=1, which keeps BLAS from oversubscribing the cores.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["explore_bench.runs.runner"])
            return ctx
        return multiprocessing.get_context("spawn")

    def _next(self, queue: list[Job], load: list[int]) -> tuple[Job, str] | None:
        """The first queued job that can be placed now, taken off the queue, and its device."""
        for i in range(len(queue) - 1, -1, -1):  # the queue is reversed: the end goes first
            device = place_local(requested_device(queue[i]), load, self.cells_per_gpu)
            if device is not None:
                return queue.pop(i), device
        return None

    def run(self, jobs: Sequence[Job], on_start: Callback, on_done: Report) -> None:
        ctx = self._context()
        queue = list(reversed(jobs))
        running: dict[Any, _Running] = {}  # process sentinel -> cell
        load = [0] * self.gpus
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    nxt = self._next(queue, load)
                    if nxt is None:  # every queued cell waits for a GPU slot
                        break
                    job, device = nxt
                    receive, send = ctx.Pipe(duplex=False)
                    proc = ctx.Process(  # type: ignore[attr-defined]
                        target=_worker,
                        args=(send, os.getpid(), job.config, job.run_dir, device),
                        name=f"explore-bench {job.label}",
                    )
                    proc.start()
                    send.close()
                    running[proc.sentinel] = _Running(job, proc, receive, device)
                    if device != "cpu":
                        load[int(device.split(":")[1])] += 1
                    on_start(job)
                if not running:
                    raise ConfigError(
                        f"{len(queue)} cell(s) can never get a GPU "
                        f"(--cells-per-gpu {self.cells_per_gpu}, {self.gpus} GPU(s))"
                    )
                for sentinel in mp_connection.wait(list(running)):
                    cell = running.pop(sentinel)
                    if cell.device != "cpu":
                        load[int(cell.device.split(":")[1])] -= 1
                    result = None
                    with contextlib.suppress(EOFError, OSError):
                        if cell.conn.poll():
                            result = cell.conn.recv()
                    cell.conn.close()
                    cell.process.join()
                    if result is None:
                        on_done(fail(cell.job, _died(cell.process.exitcode)))
                    else:
                        on_done(outcome(cell.job, result))
        except BaseException:
            _terminate([c.process for c in running.values()])
            raise


def _terminate(processes: Sequence[Any]) -> None:
    """Stop the workers now; their files stay whole because every write is atomic."""
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
