"""A matrix's cells as jobs, whatever runs them: the local process pool (`local_pool`,
the default) or a Ray cluster (`ray_cluster`).

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

import dataclasses
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from explore_bench.errors import ConfigError
from explore_bench.settings.devices import is_pinned
from explore_bench.store import io
from explore_bench.store.lock import RunBusyError, writer_lock

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
