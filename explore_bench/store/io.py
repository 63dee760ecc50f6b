"""Atomic file writes: write to a temporary name in the same directory, then rename, so a
reader (or a resumed matrix) never sees a half-written file. Checkpoints hold only tensors
and plain containers, and load with ``torch.load(weights_only=True)``: a results tree is
data, and a planted checkpoint must not run code when a run resumes from it."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from explore_bench.errors import ConfigError
from explore_bench.store.layout import open_table

#: Keys that mark an encoded NumPy value in a checkpoint (see `to_checkpoint`).
_NDARRAY, _NPSCALAR = "__ndarray__", "__numpy_scalar__"


class CheckpointError(ConfigError):
    """A checkpoint that cannot be loaded safely (corrupt, truncated, or not one of ours)."""


def _atomic(path: Path, write: Any, mode: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    _atomic(Path(path), lambda fh: fh.write(text), "w")


def write_bytes(path: Path, data: bytes) -> None:
    _atomic(Path(path), lambda fh: fh.write(data), "wb")


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def to_checkpoint(obj: Any, where: str = "checkpoint") -> Any:
    """``obj`` as tensors and plain containers only (NumPy arrays become tagged tensors), so
    that it loads with ``weights_only=True``; anything else is a TypeError naming its key."""
    if isinstance(obj, torch.Tensor | str | bytes | bool | int | float | complex | None):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError(f"{where}: a NumPy array of Python objects cannot be checkpointed")
        return {_NDARRAY: torch.from_numpy(np.array(obj, copy=True, order="C"))}
    if isinstance(obj, np.generic):
        return {_NPSCALAR: torch.from_numpy(np.array([obj]))}
    if isinstance(obj, Mapping):
        return _like(obj, {k: to_checkpoint(v, f"{where}.{k}") for k, v in obj.items()})
    if isinstance(obj, list | tuple | set | frozenset):
        items = [to_checkpoint(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else type(obj)(items)
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}: a checkpoint holds "
        "only tensors, NumPy arrays, numbers, strings and lists/tuples/dicts of them"
    )


def _like(original: Mapping[str, Any], items: dict[str, Any]) -> dict[str, Any]:
    """``items`` as an OrderedDict with the original's ``_metadata`` (the module versions a
    torch state_dict carries for `load_state_dict`) when the original was one."""
    if not isinstance(original, OrderedDict):
        return items
    out: OrderedDict[str, Any] = OrderedDict(items)
    metadata = getattr(original, "_metadata", None)
    if isinstance(metadata, dict):
        out._metadata = {str(k): dict(v) for k, v in metadata.items()}  # type: ignore[attr-defined]
    return out


def from_checkpoint(obj: Any) -> Any:
    """The inverse of `to_checkpoint`."""
    if isinstance(obj, dict):
        if set(obj) == {_NDARRAY} and isinstance(obj[_NDARRAY], torch.Tensor):
            return obj[_NDARRAY].numpy().copy()
        if set(obj) == {_NPSCALAR} and isinstance(obj[_NPSCALAR], torch.Tensor):
            return obj[_NPSCALAR].numpy()[0]
        return _like(obj, {k: from_checkpoint(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple | set | frozenset):
        items = [from_checkpoint(v) for v in obj]
        return items if isinstance(obj, list) else type(obj)(items)
    return obj


def save_torch(path: Path, obj: Any) -> None:
    safe = to_checkpoint(obj)
    _atomic(Path(path), lambda fh: torch.save(safe, fh), "wb")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by `save_torch`, loaded without running any code from it."""
    path = Path(path)
    restart = f"delete it to restart this run from scratch (rm {str(path)!r})"
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors, truncated zip archives, EOF, bad magic...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1].strip()
        if "Unsupported global" in str(exc) or "weights_only" in str(exc):
            first = "it holds objects other than tensors and plain containers; not loaded"
        raise CheckpointError(
            f"checkpoint {path} cannot be loaded safely ({first[:200]}); {restart}"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a dict; {restart}")
    return dict(from_checkpoint(data))


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Rows may have different keys; columns are their union in order of first appearance.
    Floats keep 9 significant digits (`number_cell`); a ``.gz`` path is gzip-compressed."""
    rows = list(rows)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: number_cell(v) for k, v in row.items()} for row in rows)
    if Path(path).suffix == ".gz":
        write_bytes(path, gzip_bytes(buf.getvalue()))
    else:
        write_text(path, buf.getvalue())


def gzip_bytes(text: str) -> bytes:
    """``text`` gzip-compressed, the same bytes for the same text (no timestamp inside), so
    a results tree rewritten unchanged shows no change to git."""
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def number_cell(value: Any) -> Any:
    """A float as the shortest text that reads back as it rounded to 9 significant digits:
    exact for float32, which every loss, reward and statistic computed by a network is
    (9 digits round-trip any float32); a float64 (a timing, a mean over episodes) keeps 1
    part in 10^9. Full precision (17 digits) made metrics tables half as large again, for
    digits no analysis reads. Other values are returned as they are."""
    if isinstance(value, float | np.floating):
        return repr(float(f"{float(value):.9g}"))
    return value


def read_csv(path: Path) -> list[dict[str, Any]]:
    """A CSV table (gzip-compressed or not) as rows of numbers where cells are numbers."""
    with open_table(path) as fh:
        return [
            {k: parse_cell(v) for k, v in row.items() if v not in ("", None)}
            for row in csv.DictReader(fh)
        ]


def parse_cell(text: str) -> Any:
    """A CSV cell as an int, else a float, else the text itself."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
