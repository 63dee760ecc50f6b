"""Resuming a run from its checkpoint: random-number state, metrics rows, and the TensorBoard
series cut back to the checkpoint so that it continues without overlapping steps.

Environments cannot be checkpointed: a resumed run resets them with a seed derived from the
iteration.
"""

from __future__ import annotations

import csv
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from explore_bench.store import io


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state(device: torch.device) -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if device.type == "cuda":  # sampling and minibatch draws on the GPU use its generator
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    if device.type == "cuda" and "cuda" in state:  # a CPU checkpoint has none: seeded only
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def resume(agent: Any, run_dir: Path, seed: int) -> tuple[list[dict[str, Any]], float]:
    """Load checkpoint.pt into ``agent``; return the metrics rows it covers and its wall_s.

    Environments cannot be checkpointed: they restart with a seed derived from the iteration.
    Tensors load onto the CPU whatever device saved them, so a GPU run resumes on a CPU-only
    machine; ``load_state_dict`` then copies them onto the parameters' and buffers' device
    (and an optimizer casts its state to its parameters' device), which also covers CPU -> GPU.
    """
    ckpt = io.load_checkpoint(run_dir / "checkpoint.pt")
    agent.load_state_dict(ckpt["agent"])
    set_rng_state(ckpt["rng"], agent.device)
    metrics = run_dir / "metrics.csv"
    try:
        logged = io.read_csv(metrics) if metrics.exists() else []
    except (OSError, ValueError, csv.Error):
        logged = []
    rows = [
        r
        for r in logged
        if isinstance(r.get("iteration"), int) and r["iteration"] <= agent.iteration
    ]
    if "rows" in ckpt:  # the checkpoint's own copy is the record up to the checkpoint
        kept = list(ckpt["rows"])
        if [r.get("iteration") for r in rows] != [r.get("iteration") for r in kept]:
            print(
                f"warning: {metrics} was missing or incomplete ({len(rows)} of {len(kept)} "
                "rows up to the checkpoint); restored its rows from checkpoint.pt",
                file=sys.stderr,
                flush=True,
            )
        rows = kept
    cut_tensorboard(run_dir / "tb", agent.env_steps)
    obs, _ = agent.envs.reset(seed=seed + 7919 * agent.iteration)
    agent.next_obs = agent.as_obs(obs)
    return rows, ckpt["wall_s"]


def cut_tensorboard(tb_dir: Path, last_step: int) -> None:
    """Rewrite the event files of ``tb_dir`` as one file holding only the steps up to
    ``last_step`` (those the checkpoint covers), so the resumed run continues one series
    instead of adding a second one that overlaps the first."""
    files = sorted(p for p in tb_dir.glob("events.out.tfevents.*") if p.is_file())
    if not files:  # a fresh run: no need to load TensorBoard's readers (0.2 s of start-up)
        return
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import RecordWriter

    kept = []
    for path in files:
        try:
            for record in RawEventFileLoader(str(path)).Load():
                event = Event.FromString(record)
                if event.HasField("file_version") or event.step > last_step:
                    continue
                kept.append(record)
        except Exception:  # a file cut short by a kill: keep what was read before the cut
            continue
    target = files[0]
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "wb") as fh:
        writer = RecordWriter(fh)
        writer.write(Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        for record in kept:
            writer.write(record)
        writer.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    for path in files[1:]:
        path.unlink(missing_ok=True)
