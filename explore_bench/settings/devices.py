"""``run.device``: which torch device a run uses, checked before anything is written.

A run asks for ``auto`` (the default: the first visible GPU when torch sees one, else the
CPU), ``cpu``, ``cuda`` (the current CUDA device) or ``cuda:K``. `check_device_syntax` runs
in the config's ``__post_init__`` (no torch import); `resolve_device` turns the request into
a concrete device on the machine (and in the process) that runs the cell, so a worker that
sees one GPU through ``CUDA_VISIBLE_DEVICES`` resolves ``auto`` to its own ``cuda:0``.
config.json records both the request and the resolution.
"""

from __future__ import annotations

import re

from explore_bench.errors import ConfigError

#: The forms ``run.device`` accepts, for messages.
VALID_DEVICES = "auto, cpu, cuda, cuda:K (K a visible GPU index)"
_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device_syntax(value: str) -> None:
    """Raise `ConfigError` unless ``value`` has one of the `VALID_DEVICES` forms."""
    if not isinstance(value, str) or not _PATTERN.fullmatch(value):
        raise ConfigError(f"run.device {value!r} is not a device; valid: {VALID_DEVICES}")


def cuda_device_count() -> int:
    """GPUs torch can use in this process (0 on a CPU-only build or machine)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(requested: str, gpus: int | None = None) -> str:
    """The concrete device (``cpu`` or ``cuda:K``) for a ``run.device`` request, given the
    ``gpus`` visible here (default: ask torch). Raises `ConfigError` naming the request and
    what this machine offers when it cannot be met."""
    check_device_syntax(requested)
    if gpus is None:
        gpus = cuda_device_count()
    here = (
        f"this process sees {gpus} CUDA device(s); valid here: auto, cpu, cuda, "
        + ", ".join(f"cuda:{k}" for k in range(gpus))
        if gpus
        else "this process sees no CUDA device; valid here: auto, cpu"
    )
    if requested == "cpu" or (requested == "auto" and not gpus):
        return "cpu"
    if not gpus:
        raise ConfigError(f"run.device {requested!r} is not available: {here}")
    if requested in ("auto", "cuda"):
        # A fresh process's current device; asking torch.cuda.current_device() would create
        # a CUDA context in the driver of a matrix, which never computes.
        return "cuda:0"
    index = int(requested.split(":", 1)[1])
    if index >= gpus:
        raise ConfigError(f"run.device {requested!r} is not available: {here}")
    return f"cuda:{index}"


def is_pinned(requested: str) -> bool:
    """Whether a request names one GPU (``cuda:K``) rather than leaving the choice open."""
    return requested.startswith("cuda:")
