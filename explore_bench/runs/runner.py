"""One run: a resolved config in, a complete run directory out.

The directory follows the results layout of docs/design.md: config.json, provenance.json,
metrics.csv, tb/, and DONE written last and atomically (FAILED with the traceback instead,
when the run raises).
A resumable checkpoint.pt is saved every ``run.checkpoint_interval`` iterations; a run
started on a directory that holds one continues from it, provided its config.json records
the same settings. Environments cannot be checkpointed: a resumed run resets them with a
seed derived from the iteration. The checkpoint also holds the metrics rows it covers, so
a resume restores them even when metrics.csv was lost, and the TensorBoard series is cut
back to the checkpoint so that it continues without overlapping steps.

A run directory has one writer at a time (`explore_bench.store.lock`); checks that can refuse a
run happen before anything in the directory is touched.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from explore_bench.envs.tasks import resolve_task
from explore_bench.plugins import registry
from explore_bench.runs.provenance import provenance
from explore_bench.runs.resume import cut_tensorboard, resume, rng_state, seed_everything
from explore_bench.runs.wiring import (
    build_agent,
    eval_seed,
    eval_vector_kind,
    evaluate,
    make_vector_env,
)
from explore_bench.settings.config import ConfigError, ResolvedRun, config_differences
from explore_bench.store import io
from explore_bench.store.lock import writer_lock

#: Longest time metrics.csv may lag behind the run between checkpoints (seconds).
METRICS_FLUSH_S = 10.0
TIMING_COLUMNS = ("wall_s", "sps", "time_rollout_s", "time_bonus_s", "time_update_s")


@contextlib.contextmanager
def _on_device(run: Any, device: torch.device) -> Iterator[None]:
    """Make ``device`` the current CUDA device (stray allocations land on it) and apply
    ``run.deterministic`` for the run, restoring the process's settings afterwards (a pool
    worker runs other cells next)."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
    )
    if run.deterministic:
        # cuBLAS reads it when its first handle is made: set before any GPU product runs.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # warn_only: the few kernels without a deterministic version (NLLLoss on CUDA, in
        # ICM's inverse model) warn instead of stopping the run.
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic = before[2]


class _Progress:
    """A tqdm bar on a terminal, plain log lines otherwise."""

    def __init__(self, total: int, initial: int, label: str, enabled: bool | None) -> None:
        self.bar = None
        self.label = label
        self.total = total
        self.quiet = enabled is False
        self._last_line = 0.0
        if enabled or (enabled is None and sys.stderr.isatty()):
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=initial, unit="step", desc=label, dynamic_ncols=True
            )

    def update(self, steps: int, done: int, row: dict[str, Any], last_return: float) -> None:
        if self.bar is not None:
            self.bar.update(steps)
            self.bar.set_postfix(sps=f"{row['sps']:.0f}", ret=f"{last_return:.1f}")
        elif not self.quiet and (time.time() - self._last_line > 10 or done >= self.total):
            self._last_line = time.time()
            print(
                f"[{self.label}] steps {done}/{self.total} sps {row['sps']:.0f} "
                f"return {last_return:.2f}"
                + (f" eval {row['eval_return']:.2f}" if "eval_return" in row else ""),
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(resolved: ResolvedRun, run_dir: Path, *, progress: bool | None = None) -> Path:
    """Train one (task, agent, bonus, seed) to its step budget in ``run_dir``.

    Returns the directory. Skips a directory that is already DONE with the same settings.
    Raises `ConfigError` without touching the directory when it holds a DONE run or a
    checkpoint of other settings, or a checkpoint that cannot be loaded, and
    `explore_bench.store.lock.RunBusyError` when another process is writing it. On an exception
    during training writes FAILED (with the traceback) and re-raises; on Ctrl-C leaves the
    last checkpoint.
    """
    run_dir = Path(run_dir)
    check_existing_run(resolved, run_dir)
    if (run_dir / "DONE").exists():
        return run_dir
    with writer_lock(run_dir):
        if (run_dir / "DONE").exists():  # finished by the writer that held the lock before
            return run_dir
        for tmp in run_dir.glob(".*.tmp"):  # left by a killed writer; no one else writes now
            tmp.unlink(missing_ok=True)
        (run_dir / "FAILED").unlink(missing_ok=True)
        try:
            _train(resolved, run_dir, progress)
        except KeyboardInterrupt:
            raise
        except BaseException:
            io.write_text(run_dir / "FAILED", traceback.format_exc())
            raise
    return run_dir


def check_existing_run(resolved: ResolvedRun, run_dir: Path) -> None:
    """Refuse (read-only) a directory whose DONE run or checkpoint has other settings, or
    whose checkpoint cannot be loaded safely; the message names the differing fields."""
    done = (run_dir / "DONE").exists()
    ckpt = run_dir / "checkpoint.pt"
    if not (done or ckpt.exists()):
        return
    what = "a finished (DONE) run" if done else "a checkpoint"
    config = run_dir / "config.json"
    try:
        old = json.loads(config.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(
            f"{run_dir} holds {what} but its config.json cannot be read ({exc}); "
            "delete the directory to rerun, or choose another --out"
        ) from None
    changes = config_differences(old, resolved)
    if changes:
        shown = "; ".join(changes[:5]) + (
            f"; and {len(changes) - 5} more" if len(changes) > 5 else ""
        )
        raise ConfigError(
            f"{run_dir} holds {what} of different settings ({shown}); "
            "delete it to rerun with these settings, or choose another --out"
        )
    if not done:
        io.load_checkpoint(ckpt)  # a corrupt or foreign checkpoint stops here, nothing written


def budget(resolved: ResolvedRun) -> dict[str, Any]:
    """The step budget asked for and the steps the run will take: agents step every env at
    once and learn from whole rollouts, so a run stops at the first whole vector step at or
    past the budget (its last rollout cut to fit), or, for an agent that cannot cut its last
    rollout, at the end of the rollout that reaches it. Written into config.json."""
    run = resolved.run
    n = run.num_envs
    per_rollout = int(getattr(resolved.agent, "num_steps", 1)) * n
    cuts = bool(getattr(registry.agents.load(run.agent), "cuts_last_rollout", False))
    unit = n if cuts else per_rollout
    return {
        "requested_steps": run.steps,
        "steps_run": -(-run.steps // unit) * unit,
        "steps_per_rollout": per_rollout,
        "last_rollout_cut_to_fit": cuts,
    }


def _next_multiple(steps: int, every: int) -> int:
    """The first multiple of ``every`` above ``steps`` (when the next evaluation is due)."""
    return (steps // every + 1) * every


def _train(resolved: ResolvedRun, run_dir: Path, progress: bool | None) -> None:
    run = resolved.run
    torch.set_num_threads(run.torch_threads)
    with _on_device(run, torch.device(resolved.device)):
        _train_on_device(resolved, run_dir, progress)


def _train_on_device(resolved: ResolvedRun, run_dir: Path, progress: bool | None) -> None:
    from explore_bench.runs.tracking import Tracker, start_wandb

    run = resolved.run
    seed_everything(run.seed)
    io.write_json(run_dir / "config.json", {**resolved.to_dict(), "budget": budget(resolved)})
    for warning in resolved.recipe.warnings if resolved.recipe is not None else ():
        print(f"warning: {warning}", file=sys.stderr, flush=True)  # also in config.json
    prov = provenance(resolved)
    io.write_json(run_dir / "provenance.json", prov)

    task = resolve_task(run.task)
    envs = make_vector_env(task, run.num_envs, run.vector)
    prov["vector_env"] = f"{type(envs).__module__}.{type(envs).__qualname__}"  # what auto chose
    eval_kind = eval_vector_kind(run)
    eval_envs = make_vector_env(task, run.eval_episodes, eval_kind) if run.eval_episodes else None
    agent = build_agent(resolved, task, envs)
    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists():
        rows, wall_offset = resume(agent, run_dir, run.seed)
    else:  # a fresh start: events of an earlier attempt that left no checkpoint go
        rows, wall_offset = [], 0.0
        cut_tensorboard(run_dir / "tb", -1)
    if run.warmup_steps and agent.env_steps == 0:  # random-action steps, within the budget
        agent.warm_up(run.warmup_steps)

    config = resolved.to_dict()
    tracker = Tracker(run_dir, config, start_wandb(run_dir, config) if run.track else None)
    bar = _Progress(
        run.steps, agent.env_steps, f"{run.agent}/{run.bonus}/{run.task}/seed{run.seed}", progress
    )
    eval_every = run.effective_eval_interval
    next_eval = _next_multiple(agent.env_steps, eval_every)
    next_video = _next_multiple(agent.env_steps, run.video_every) if run.video_every else 0
    start = time.perf_counter() - wall_offset
    last_flush, flushed = time.perf_counter(), len(rows)
    last_return = math.nan
    try:
        while agent.env_steps < run.steps:
            t0, steps0 = time.perf_counter(), agent.env_steps
            metrics = agent.train_iteration()
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            if bad:
                raise FloatingPointError(
                    f"non-finite metrics at iteration {agent.iteration}: {bad}"
                )
            row: dict[str, Any] = {
                "env_steps": agent.env_steps,
                "iteration": agent.iteration,
                "wall_s": round(time.perf_counter() - start, 3),
                "sps": (agent.env_steps - steps0) / max(time.perf_counter() - t0, 1e-9),
            }
            if agent.finished:
                returns, lengths = zip(*agent.finished, strict=True)
                row.update(
                    ext_return=float(np.mean(returns)),
                    episode_length=float(np.mean(lengths)),
                    episodes=len(returns),
                )
                last_return = row["ext_return"]
                agent.finished.clear()
            finished = agent.env_steps >= run.steps
            if eval_envs is not None and (agent.env_steps >= next_eval or finished):
                seed = eval_seed(run.seed, agent.iteration)
                scores = evaluate(agent, eval_envs, seed, task.card.deterministic)
                row.update(eval_return=float(scores.mean()), eval_return_std=float(scores.std()))
                if not task.card.deterministic:  # the other measure, on the same layouts
                    mode = evaluate(agent, eval_envs, seed, True)
                    row.update(eval_return_mode=float(mode.mean()))
                next_eval = _next_multiple(agent.env_steps, eval_every)
            if run.video_every and (agent.env_steps >= next_video or finished):
                from explore_bench.runs.video import record_episodes

                record_episodes(
                    agent,
                    task,
                    1,
                    eval_seed(run.seed, agent.iteration),
                    task.card.deterministic,
                    run_dir / "videos",
                    prefix=f"step{agent.env_steps}",
                )
                next_video = _next_multiple(agent.env_steps, run.video_every)
            row.update(metrics)
            row.update(agent.timers)
            if agent.coverage is not None:
                row.update(agent.coverage.metrics())
            rows.append(row)
            tracker.log(row, agent.env_steps)
            checkpoint = finished or (
                run.checkpoint_interval and agent.iteration % run.checkpoint_interval == 0
            )
            # metrics.csv is rewritten whole (atomically), so not after every iteration: at
            # each checkpoint (before it, so a resume never lacks rows), at the end, and at
            # least every METRICS_FLUSH_S seconds for anyone watching.
            if checkpoint or time.perf_counter() - last_flush >= METRICS_FLUSH_S:
                io.write_csv(run_dir / "metrics.csv", rows)
                last_flush, flushed = time.perf_counter(), len(rows)
            if checkpoint:
                io.save_torch(
                    ckpt_path,
                    {
                        "agent": agent.state_dict(),
                        "rng": rng_state(agent.device),
                        "wall_s": time.perf_counter() - start,
                        "rows": rows,
                    },
                )
            bar.update(agent.env_steps - steps0, agent.env_steps, row, last_return)
    finally:
        if len(rows) > flushed:  # rows past the last checkpoint help to debug a failure
            io.write_csv(run_dir / "metrics.csv", rows)
        bar.close()
        tracker.close()
        envs.close()
        if eval_envs is not None:
            eval_envs.close()
    prov["end_time"] = _dt.datetime.now(_dt.UTC).isoformat()
    prov["wall_s"] = round(time.perf_counter() - start, 3)
    io.write_json(run_dir / "provenance.json", prov)
    done = {"end_time": prov["end_time"], "rows": len(rows), "env_steps": agent.env_steps}
    io.write_json(run_dir / "DONE", done)
