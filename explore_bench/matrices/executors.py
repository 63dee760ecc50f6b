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
import multiprocessing.connection as mp_connection
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from explore_bench.errors import ConfigError
from explore_bench.settings.devices import cuda_device_count, is_pinned
from explore_bench.store import io
from explore_bench.store.lock import LOCK_NAME, RunBusyError, writer_lock

DIED = "rerun the matrix to resume it from its last checkpoint"
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
    """How a job ended: DONE (ok), FAILED with the error's last line, or not run because
    another process is writing its directory (busy)."""

    job: Job
    ok: bool
    seconds: float
    error: str = ""
    busy: bool = False


Callback = Callable[[Job], None]
Report = Callable[[Outcome], None]
#: What `run_job` returns: (state, seconds, error) with state one of these.
STATES = ("done", "failed", "busy")


def run_job(
    config: dict[str, Any], run_dir: str, device: str | None = None
) -> tuple[str, float, str]:
    """Run one cell to DONE or FAILED; the worker-side entry point of every executor.
    ``device`` is the executor's placement (default: the cell's own ``run.device``).

    Returns ("busy", ...) without touching the directory when another process holds its
    writer lock, and ("failed", ...) without writing FAILED when the directory is refused
    (a checkpoint of other settings, a corrupt one).
    """
    import torch

    from explore_bench.runs import runner
    from explore_bench.settings.config import ResolvedRun

    torch.set_num_threads(1)
    start = time.perf_counter()
    path = Path(run_dir)
    try:
        resolved = ResolvedRun.from_dict(config, device)
    except Exception as exc:  # runner.run never started, so it wrote no FAILED
        record_failure(path, traceback.format_exc())
        return "failed", time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    try:
        runner.run(resolved, path, progress=False)
    except RunBusyError as exc:
        return "busy", time.perf_counter() - start, str(exc)
    except ConfigError as exc:  # refused before anything was written
        return "failed", time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # runner.run has written FAILED with the traceback
        return "failed", time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    return "done", time.perf_counter() - start, ""


def outcome(job: Job, result: Any) -> Outcome:
    """The Outcome of a `run_job` result, checked: results from other processes or nodes
    are data, and a malformed one fails its cell instead of the driver."""
    if (
        isinstance(result, tuple | list)
        and len(result) == 3
        and result[0] in STATES
        and isinstance(result[1], int | float)
        and isinstance(result[2], str)
    ):
        state, seconds, error = result
        return Outcome(job, state == "done", float(seconds), error, busy=state == "busy")
    return fail(job, f"the worker sent back a malformed result ({str(result)[:80]!r})")


def record_failure(run_dir: Path, text: str) -> bool:
    """Write FAILED into ``run_dir`` unless another process is writing it now."""
    try:
        with writer_lock(run_dir):
            io.write_text(run_dir / "FAILED", text)
    except RunBusyError:
        return False
    return True


def fail(job: Job, message: str) -> Outcome:
    """Record a failure the worker could not record itself (e.g. it was killed)."""
    record_failure(Path(job.run_dir), message + "\n")
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


# --------------------------------------------------------------------------- ray

#: Seconds to wait for an existing Ray cluster to answer before giving up with a message.
RAY_CONNECT_TIMEOUT_S = 10.0
#: Ray's switch (read when Ray is imported, ``ray._private.ray_constants``) between a node
#: reachable from other hosts and one on loopback: "0" makes a local instance take 127.0.0.1
#: as its node address, and its services (GCS, raylet, workers, agents) then listen there
#: only. Set it yourself (to "1") to have the local instance listen on the host's address.
RAY_LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextlib.contextmanager
def _loopback_ray() -> Any:
    """Within: a Ray instance started in this process binds to loopback only, unless the
    user set `RAY_LOOPBACK_SWITCH`. Ray 2.x otherwise listens on every interface and maps a
    127.0.0.1 node address to the host's own (``services.resolve_ip_for_localhost``)."""
    if RAY_LOOPBACK_SWITCH in os.environ:  # the user's choice stands
        yield
        return
    os.environ[RAY_LOOPBACK_SWITCH] = "0"
    # Ray imported earlier in this process read the switch already: set its reading too.
    constants = sys.modules.get("ray._private.ray_constants")
    before = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        os.environ.pop(RAY_LOOPBACK_SWITCH, None)
        if constants is not None:
            constants.ENABLE_RAY_CLUSTER = before  # type: ignore[attr-defined]


def _read_tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The regular files under ``root`` (never through a symlink), by relative path."""
    if not root.is_dir():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not p.is_symlink()
        and p.name not in skip
        and p.name != LOCK_NAME
        and not p.name.endswith(".tmp")
    }


def confined(root: Path, rel: Any) -> Path:
    """``root / rel`` for a relative path from a remote result or a spec, which must stay
    inside ``root``: absolute paths, ``..`` and symlinked parents are refused."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise ValueError(f"refused path {rel!r} from a remote result: not a file name")
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or "\\" in rel:
        raise ValueError(f"refused path {rel!r} from a remote result: outside {root}")
    target = root / rel
    base = root.resolve()
    if not target.parent.resolve().is_relative_to(base) or target.is_symlink():
        raise ValueError(f"refused path {rel!r} from a remote result: outside {root}")
    return target


def ray_job(
    config: dict[str, Any], files: dict[str, bytes], device: str | None = None
) -> tuple[Any, ...]:
    """Run a job in a private temp dir on whatever node Ray picked; return its files.

    ``files`` is what the driver holds of an unfinished cell (e.g. its checkpoint), so a
    cell resumes wherever it runs; nothing is shared with the driver but these bytes.
    """
    with tempfile.TemporaryDirectory(prefix="explore-bench-") as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        for rel, data in files.items():
            io.write_bytes(confined(run_dir, rel), data)
        state, seconds, error = run_job(config, str(run_dir), device)
        return state, seconds, error, _read_tree(run_dir, NOT_SHIPPED if state == "done" else ())


def ray_job_shared(
    config: dict[str, Any], run_dir: str, device: str | None = None
) -> tuple[Any, ...]:
    """Run a job straight into a results tree that every node mounts at the same path."""
    return (*run_job(config, run_dir, device), {})


def write_back(run_dir: Path, files: Any) -> None:
    """Write a finished run's files into the results tree, the DONE/FAILED marker last.

    ``files`` come from another machine and are data: every path must stay inside
    ``run_dir`` and every value must be bytes, or nothing is written (ValueError).
    """
    if not isinstance(files, dict) or not all(isinstance(v, bytes) for v in files.values()):
        raise ValueError("refused a remote result: its files are not a mapping of bytes")
    run_dir.mkdir(parents=True, exist_ok=True)
    targets = {rel: confined(run_dir, rel) for rel in files}  # all checked before any write
    markers = ("DONE", "FAILED")
    for rel, data in files.items():
        if rel not in markers:
            io.write_bytes(targets[rel], data)
    for marker in markers:
        if marker in files:
            io.write_bytes(run_dir / marker, files[marker])
        else:
            (run_dir / marker).unlink(missing_ok=True)
    for name in NOT_SHIPPED:  # a copy here predates the run that just ended
        if name not in files:
            (run_dir / name).unlink(missing_ok=True)


def _check_reachable(address: str, timeout: float) -> None:
    """Fail fast, with a message, when ``host:port`` of an existing cluster does not
    answer (Ray itself retries for a minute or more before it gives up)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(
            f"--ray-address {address!r} is not host:port (e.g. 127.0.0.1:6379, "
            "ray://head:10001, or auto)"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise ConfigError(
            f"cannot reach a Ray cluster at {address!r} ({reason} after at most "
            f"{timeout:g} s); start one with `ray start --head`, check the address, or "
            "leave out --ray-address to start a local instance"
        ) from None


class RayExecutor:
    """Cells as Ray tasks (1 CPU each, and ``gpus_per_cell`` GPUs for a cell that may use
    one) on an existing cluster or a local one started here."""

    def __init__(
        self,
        workers: int | None,
        address: str | None,
        shared_fs: bool = False,
        gpus_per_cell: float = 0.0,
        connect_timeout: float = RAY_CONNECT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.shared_fs = shared_fs
        self.started_here = address is None
        if not self.started_here:
            _check_reachable(str(address), connect_timeout)
        # A local instance listens on loopback only (the web dashboard stays off); what keeps
        # other hosts out of a cluster is Ray's token authentication, on by default and never
        # disabled here. docs/ray.md: "Ray executor: what to secure".
        options: dict[str, Any] = {"num_cpus": workers} if self.started_here else {}
        with _loopback_ray() if self.started_here else contextlib.nullcontext():
            try:
                import ray
            except ImportError as exc:
                raise ImportError(
                    "the ray executor needs Ray: pip install 'explore-bench[ray]'"
                ) from exc
            self.ray = ray
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                **options,
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
        running: dict[Any, tuple[Job, contextlib.ExitStack]] = {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    job = queue.pop()
                    run_dir = Path(job.run_dir)
                    held = contextlib.ExitStack()
                    if not self.shared_fs:  # the driver writes this cell back: it is the writer
                        try:
                            held.enter_context(writer_lock(run_dir))
                        except RunBusyError as exc:
                            on_start(job)
                            on_done(Outcome(job, False, 0.0, str(exc), busy=True))
                            continue
                    arg = job.run_dir if self.shared_fs else _read_tree(run_dir)
                    num_gpus, device = place_ray(requested_device(job), self.gpus_per_cell)
                    task = self.remote.options(num_gpus=num_gpus)
                    running[task.remote(job.config, arg, device)] = (job, held)
                    on_start(job)
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job, held = running.pop(ref)
                    on_done(self._collect(ref, job, held))
        except BaseException:
            for ref, (_, held) in running.items():
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
                held.close()
            raise
        finally:
            self.close()

    def _collect(self, ref: Any, job: Job, held: contextlib.ExitStack) -> Outcome:
        """The cell's outcome, its files written back under the lock ``held`` (released
        here, before `fail` takes the lock to record a failure)."""
        problem = ""
        with held:
            try:
                result = self.ray.get(ref)
            except Exception as exc:  # the worker died or Ray lost the task
                result, problem = None, f"Ray could not run this cell: {exc}"
            if not problem and (not isinstance(result, tuple | list) or len(result) != 4):
                problem = f"Ray sent back a malformed result ({str(result)[:80]!r})"
            if not problem:
                done = outcome(job, tuple(result[:3]))
                if self.shared_fs or done.busy:
                    return done
                try:
                    write_back(Path(job.run_dir), result[3])
                    return done
                except (ValueError, OSError) as exc:
                    problem = f"the cell's remote result was not written back: {exc}"
        return fail(job, problem)

    def close(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()
