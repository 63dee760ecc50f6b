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
import csv
import datetime as _dt
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from explore_bench.envs.tasks import Task, read_step, resolve_task
from explore_bench.plugins import registry
from explore_bench.runs.shaping import RewardShaper
from explore_bench.settings.config import ConfigError, ResolvedRun, config_differences
from explore_bench.store import io
from explore_bench.store.lock import writer_lock

#: Longest time metrics.csv may lag behind the run between checkpoints (seconds).
METRICS_FLUSH_S = 10.0
TIMING_COLUMNS = ("wall_s", "sps", "time_rollout_s", "time_bonus_s", "time_update_s")
PACKAGES = ("explore-bench", "torch", "gymnasium", "mujoco", "ale-py", "numpy", "rliable", "pandas")


def make_vector_env(task: Task, num_envs: int, kind: str = "auto") -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``task``, same-step autoreset; ``kind`` as `RunSettings.vector`."""
    if kind in ("auto", "native") and task.make_native_vector is not None:
        return task.make_native_vector(num_envs)
    if kind == "native":
        raise ValueError(f"task {task.name!r} has no native vector env")
    fns = [task.make_env for _ in range(num_envs)]
    mode = gym.vector.AutoresetMode.SAME_STEP
    if kind == "async":
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)


def evaluate(agent: Any, envs: gym.vector.VectorEnv, seed: int, deterministic: bool) -> np.ndarray:
    """One episode per env of ``envs``; the raw score of each (info["raw_reward"] if given)."""
    obs, _ = envs.reset(seed=seed)
    n = envs.num_envs
    scores, running = np.full(n, np.nan), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        obs, reward, terminated, truncated, infos = envs.step(agent.act(obs, deterministic))
        raw, _ = read_step(reward, infos, False)
        running += np.where(active, raw, 0.0)
        ended = (terminated | truncated) & active
        scores[ended] = running[ended]
        active &= ~ended
    return scores


def provenance(resolved: ResolvedRun) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        git = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=Path(__file__).resolve().parent,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        git = None
    run = resolved.run
    return {
        "packages": versions,
        "python": sys.version.split()[0],
        "git_revision": git,
        "plugins": {
            "agent": {"name": run.agent, "source": registry.agents.source(run.agent)},
            "bonus": {"name": run.bonus, "source": registry.bonuses.source(run.bonus)},
            "task": {"name": run.task, "source": _task_source(run.task)},
        },
        "host": {
            "name": platform.node(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "device": resolved.device,
            "gpu": _gpu_name(resolved.device),
        },
        "start_time": _dt.datetime.now(_dt.UTC).isoformat(),
    }


def _gpu_name(device: str) -> str | None:
    if not device.startswith("cuda"):
        return None
    return str(torch.cuda.get_device_name(torch.device(device)))


def _task_source(name: str) -> str:
    if name in registry.tasks.names():
        return registry.tasks.source(name)
    return "gymnasium id"


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if device.type == "cuda":  # sampling and minibatch draws on the GPU use its generator
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    if device.type == "cuda" and "cuda" in state:  # a CPU checkpoint has none: seeded only
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


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


def _build_agent(resolved: ResolvedRun, task: Task, envs: gym.vector.VectorEnv) -> Any:
    """The run's agent on ``envs``, wired to the harness: its bonus inside the reward shaper,
    the task's coverage tracker and the task-aware step reader (see `agents.hooks`)."""
    run = resolved.run
    bonus_cls = registry.bonuses.load(run.bonus)
    bonus = bonus_cls(
        envs.single_observation_space, envs.single_action_space, resolved.bonus, resolved.device
    )
    return registry.agents.load(run.agent)(
        envs,
        RewardShaper(bonus, resolved.shaping),
        resolved.agent,
        seed=run.seed,
        total_steps=run.steps,
        coverage=task.coverage() if task.coverage else None,
        read_step=read_step,
        device=resolved.device,
    )


def restore(run_dir: Path, num_envs: int | None = None) -> tuple[ResolvedRun, Task, Any]:
    """The config, task and agent of a run directory, the agent loaded from its checkpoint.

    ``num_envs`` replaces the run's env count (the acting networks do not depend on it).
    Raises FileNotFoundError when the run has no config.json or no checkpoint yet.
    """
    run_dir = Path(run_dir)
    for name in ("config.json", "checkpoint.pt"):
        if not (run_dir / name).exists():
            raise FileNotFoundError(
                f"{run_dir} has no {name}: not a run directory, or a run that has not "
                "reached its first checkpoint (run.checkpoint_interval)"
            )
    resolved = ResolvedRun.from_dict(json.loads((run_dir / "config.json").read_text()))
    task = resolve_task(resolved.run.task)
    envs = make_vector_env(task, num_envs or resolved.run.num_envs, "sync")
    agent = _build_agent(resolved, task, envs)
    agent.load_state_dict(io.load_checkpoint(run_dir / "checkpoint.pt")["agent"])
    return resolved, task, agent


def eval_vector_kind(run: Any) -> str:
    """The vector env kind evaluations run on (one process: never async)."""
    return "sync" if run.vector == "async" else str(run.vector)


def eval_seed(seed: int, iteration: int) -> int:
    """The seed of the evaluation after agent iteration ``iteration`` of a run."""
    return seed + 100_003 * iteration


def _resume(agent: Any, run_dir: Path, seed: int) -> tuple[list[dict[str, Any]], float]:
    """Load checkpoint.pt into ``agent``; return the metrics rows it covers and its wall_s.

    Environments cannot be checkpointed: they restart with a seed derived from the iteration.
    Tensors load onto the CPU whatever device saved them, so a GPU run resumes on a CPU-only
    machine; ``load_state_dict`` then copies them onto the parameters' and buffers' device
    (and an optimizer casts its state to its parameters' device), which also covers CPU -> GPU.
    """
    ckpt = io.load_checkpoint(run_dir / "checkpoint.pt")
    agent.load_state_dict(ckpt["agent"])
    _set_rng_state(ckpt["rng"], agent.device)
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
    _cut_tensorboard(run_dir / "tb", agent.env_steps)
    obs, _ = agent.envs.reset(seed=seed + 7919 * agent.iteration)
    agent.next_obs = agent.as_obs(obs)
    return rows, ckpt["wall_s"]


def _cut_tensorboard(tb_dir: Path, last_step: int) -> None:
    """Rewrite the event files of ``tb_dir`` as one file holding only the steps up to
    ``last_step`` (those the checkpoint covers), so the resumed run continues one series
    instead of adding a second one that overlaps the first."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import RecordWriter

    files = sorted(p for p in tb_dir.glob("events.out.tfevents.*") if p.is_file())
    if not files:
        return
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
    _seed_everything(run.seed)
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
    agent = _build_agent(resolved, task, envs)
    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists():
        rows, wall_offset = _resume(agent, run_dir, run.seed)
    else:  # a fresh start: events of an earlier attempt that left no checkpoint go
        rows, wall_offset = [], 0.0
        _cut_tensorboard(run_dir / "tb", -1)
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
                scores = evaluate(
                    agent,
                    eval_envs,
                    eval_seed(run.seed, agent.iteration),
                    resolved.agent.eval_deterministic,
                )
                row.update(eval_return=float(scores.mean()), eval_return_std=float(scores.std()))
                next_eval = _next_multiple(agent.env_steps, eval_every)
            if run.video_every and (agent.env_steps >= next_video or finished):
                from explore_bench.runs.video import record_episodes

                record_episodes(
                    agent,
                    task,
                    1,
                    eval_seed(run.seed, agent.iteration),
                    resolved.agent.eval_deterministic,
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
                        "rng": _rng_state(agent.device),
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
