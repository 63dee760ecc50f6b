"""The Ray executor: cells as Ray tasks on an existing cluster, or on a local instance started on
demand and bound to loopback; results come back as files unless the cluster shares the
results directory (`jobs.place_ray` for GPUs)."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explore_bench.errors import ConfigError
from explore_bench.matrices.jobs import (
    NOT_SHIPPED,
    Callback,
    Job,
    Outcome,
    Report,
    fail,
    outcome,
    place_ray,
    requested_device,
    run_job,
)
from explore_bench.store import io
from explore_bench.store.lock import LOCK_NAME, RunBusyError, writer_lock

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
