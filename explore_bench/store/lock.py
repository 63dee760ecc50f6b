"""One writer per run directory: an ``flock`` on ``<run_dir>/.lock``.

The kernel drops the lock when its holder exits, however it exits (kill -9 included), so a
crashed run never blocks the next one and no stale-lock cleanup is needed. The file holds
the writer's pid, for the message a second writer gets. Torch-free: the driver of a matrix
uses it too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from explore_bench.errors import ConfigError

LOCK_NAME = ".lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, a single writer is assumed
    fcntl = None  # type: ignore[assignment]


class RunBusyError(ConfigError):
    """Another live process is writing this run directory."""


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        os.lseek(fd, 0, os.SEEK_SET)
        pid = os.read(fd, 32).decode(errors="replace").strip()
        if pid.isdigit():
            return f" (pid {pid})"
    return ""


@contextlib.contextmanager
def writer_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's writer lock (creating the directory), or raise RunBusyError."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunBusyError(
                    f"{run_dir} is being written by another process{_holder(fd)}; "
                    "wait for it to finish or stop it (a dead process releases it)"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
