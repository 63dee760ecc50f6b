"""The Python API: `run`, `load`, `matrix`, `report`. The command line calls these.

import explore_bench as eb

result = eb.run(agent="ppo", bonus="count", task="explore_bench/DeepSea20-v0",
                steps=50_000, seed=0, out="results/runs", **{"shaping.coef": 0.5})
result.metrics.tail()                # metrics.csv as a DataFrame
policy = eb.load(result.directory)   # finished or unfinished (its last checkpoint)
policy.evaluate(episodes=20)         # raw scores, mean and 95% interval
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explore_bench.settings.config import SECTIONS, ConfigError, ResolvedRun

if TYPE_CHECKING:  # kept out of `import explore_bench`, which stays light
    import gymnasium as gym
    import numpy as np
    import pandas as pd

PathLike = str | os.PathLike[str]


@dataclasses.dataclass(frozen=True)
class RunResult:
    """A finished run: where it is, what it logged, how it scored."""

    #: The run directory (config.json, metrics.csv, tb/, checkpoint.pt, DONE).
    directory: Path
    #: metrics.csv: one row per agent iteration.
    metrics: pd.DataFrame
    #: The report's final score: mean evaluation return (raw score) over the evaluations in
    #: the last 10% of training (training-episode returns when the run logged no evaluation).
    final_score: float
    #: The resolved config (config.json).
    config: ResolvedRun


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Raw scores of evaluation episodes, with their mean and a 95% interval of the mean."""

    scores: np.ndarray
    deterministic: bool
    seed: int

    @property
    def mean(self) -> float:
        return float(self.scores.mean())

    @property
    def interval(self) -> tuple[float, float]:
        """Student-t 95% interval of the mean ((nan, nan) for fewer than two episodes)."""
        n = len(self.scores)
        if n < 2:
            return math.nan, math.nan
        from scipy import stats

        half = stats.t.ppf(0.975, n - 1) * float(self.scores.std(ddof=1)) / math.sqrt(n)
        return self.mean - half, self.mean + half

    def __str__(self) -> str:
        lo, hi = self.interval
        ci = f"[{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) else "n/a (one episode)"
        mode = "deterministic" if self.deterministic else "stochastic"
        return (
            f"raw score over {len(self.scores)} episodes ({mode} policy, seed {self.seed}): "
            f"mean {self.mean:.3f}, 95% interval {ci}"
        )


class TrainedAgent:
    """A run's agent loaded from its checkpoint: act on observations, evaluate, record."""

    def __init__(self, run_dir: Path, config: ResolvedRun, task: Any, agent: Any) -> None:
        self.directory = run_dir
        self.config = config
        self.task = task
        self.agent = agent

    @property
    def observation_space(self) -> gym.Space:
        """One env's observation space, as the agent sees it (the task's wrappers applied):
        `act` takes a batch of these, shaped ``(N, *observation_space.shape)``."""
        return self.agent.obs_space

    @property
    def action_space(self) -> gym.Space:
        """One env's action space: `act` returns one of these per observation."""
        return self.agent.act_space

    def make_env(self, **kwargs: Any) -> gym.Env:
        """The run's task as one gymnasium env, with its protocol (frame skip, stacking,
        horizon): a source of observations for `act`. ``kwargs`` go to the env (for
        instance ``render_mode="rgb_array"``)::

            env = policy.make_env()
            obs, _ = env.reset(seed=0)
            action = policy.act(obs[None])[0]    # a batch of one
        """
        return self.task.make_env(**kwargs)

    @property
    def env_steps(self) -> int:
        """Environment steps the agent was trained for (its checkpoint's)."""
        return int(self.agent.env_steps)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations (leading axis = envs), as the env takes them;
        observations come from `make_env` (or any env with `observation_space`)."""
        import numpy as np

        return self.agent.act(np.asarray(obs), deterministic)

    def evaluate(
        self,
        episodes: int | None = None,
        *,
        deterministic: bool | None = None,
        seed: int | None = None,
        video: PathLike | None = None,
    ) -> Evaluation:
        """Play ``episodes`` episodes (default: the run's eval_episodes) on the raw score.

        Defaults reproduce the run's last evaluation: its seed (from the checkpoint's
        iteration) and its policy (the task card's final_score). ``video``: a directory
        that gets one video per episode (gymnasium's RecordVideo).
        """
        import numpy as np

        from explore_bench.runs.wiring import eval_seed, eval_vector_kind, evaluate, make_vector_env

        run = self.config.run
        n = (run.eval_episodes or 5) if episodes is None else episodes
        if n < 1:
            raise ConfigError(f"episodes must be a positive integer, got {n}")
        det = self.task.card.deterministic if deterministic is None else deterministic
        # The runner evaluates after the iteration counter moved on: the last evaluation of
        # a run used the checkpoint's iteration.
        base = eval_seed(run.seed, self.agent.iteration) if seed is None else seed
        if video is not None:
            from explore_bench.runs.video import record_episodes

            scores = record_episodes(self.agent, self.task, n, base, det, Path(video))
            return Evaluation(scores, det, base)
        width = min(n, 32)
        envs = make_vector_env(self.task, width, eval_vector_kind(run))  # as the run evaluated
        try:
            parts = [
                evaluate(self.agent, envs, base + start, det)[: n - start]
                for start in range(0, n, width)
            ]
        finally:
            envs.close()
        return Evaluation(np.concatenate(parts), det, base)


def _split_overrides(
    overrides: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``num_envs=4, agent__lr=1e-3, **{"shaping.coef": 0.3}`` -> run options and sections."""
    run_opts: dict[str, Any] = {}
    sets: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for key, value in overrides.items():
        section, sep, field = key.replace("__", ".", 1).partition(".")
        if not sep:
            run_opts[key] = value  # a RunSettings field, checked by resolve
        elif section in sets and field:
            sets[section][field] = value
        else:
            raise ConfigError(
                f"override {key!r}: expected a run field or section.field / section__field "
                f"with a section in {', '.join(SECTIONS)}"
            )
    return run_opts, sets


def resolve_run(
    agent: str | None = None,
    bonus: str | None = None,
    task: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
    **overrides: Any,
) -> ResolvedRun:
    """The resolved config `run` would train (every check, nothing written). Unset
    arguments take the RunSettings defaults (ppo, none, CartPole-v1)."""
    from explore_bench.settings.config import resolve

    run_opts, sets = _split_overrides(overrides)
    given = dict(agent=agent, bonus=bonus, task=task, steps=steps, seed=seed)
    run_opts.update({k: v for k, v in given.items() if v is not None})
    for key in run_opts:
        if key in sets["run"]:  # two values for one setting: say so instead of picking one
            flag = f"--{key.replace('_', '-')}"
            raise ConfigError(
                f"--set run.{key}={sets['run'][key]} conflicts with {flag}; give {flag} only"
            )
    return resolve(run_opts, sets)


def run(
    agent: str | None = None,
    bonus: str | None = None,
    task: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
    out: PathLike = "results/runs",
    *,
    progress: bool | None = False,
    **overrides: Any,
) -> RunResult:
    """Train one agent with one bonus on one task into ``out/<task>/<agent>/<bonus>/seed<k>``.

    ``overrides``: RunSettings fields by name (``num_envs=4``, ``preset="rnd"``), any other
    field as ``section__field`` or ``"section.field"`` (``agent__lr=1e-3``,
    ``**{"shaping.coef": 0.3}``). Everything is checked before a file is written. A run
    directory that is already DONE is returned as it is; an unfinished one resumes.
    """
    resolved = resolve_run(agent, bonus, task, steps, seed, **overrides)
    return run_resolved(resolved, out, progress=progress)


def run_resolved(
    resolved: ResolvedRun, out: PathLike = "results/runs", *, progress: bool | None = False
) -> RunResult:
    """`run` for a config already resolved (`resolve_run`): ``out`` is checked, and the
    runner refuses a directory holding a run of other settings before writing anything."""
    from explore_bench.runs.runner import run as run_one
    from explore_bench.settings.config import check_out_dir
    from explore_bench.store.layout import run_dir_for

    check_out_dir(Path(out), "out")
    directory = run_dir_for(Path(out), resolved.run)
    run_one(resolved, directory, progress=progress)
    return result_of(directory)


def result_of(directory: PathLike) -> RunResult:
    """The `RunResult` of a run directory that holds config.json and metrics.csv."""
    import json

    import pandas as pd

    from explore_bench.reports.load import final_score
    from explore_bench.store.layout import metrics_path

    directory = Path(directory)
    config = ResolvedRun.from_dict(json.loads((directory / "config.json").read_text()))
    metrics = pd.read_csv(metrics_path(directory))
    return RunResult(directory, metrics, final_score(metrics, 0.1)[0], config)


def load(run_dir: PathLike) -> TrainedAgent:
    """The trained agent of a run directory, finished or not (its last checkpoint)."""
    from explore_bench.runs.wiring import restore

    directory = Path(run_dir)
    resolved, task, agent = restore(directory)
    agent.envs.close()  # built only to construct the agent; evaluation makes its own
    return TrainedAgent(directory, resolved, task, agent)


def matrix(
    spec: PathLike,
    out: PathLike | None = None,
    *,
    executor: str = "local",
    workers: int | None = None,
    report: bool = False,
    dry_run: bool = False,
    ray_address: str | None = None,
    ray_shared_fs: bool = False,
) -> Any:
    """Run a matrix spec (a TOML path or a shipped name) as ``explore-bench matrix`` does.

    Returns a `explore_bench.matrices.driver.MatrixResult`: the results root, the cell count, the
    cells that failed, and the report's summary when one was written.
    """
    import argparse

    from explore_bench.matrices.driver import run_matrix

    return run_matrix(
        argparse.Namespace(
            spec=str(spec),
            out=None if out is None else str(out),
            executor=executor,
            workers=workers,
            report=report,
            dry_run=dry_run,
            ray_address=ray_address,
            ray_shared_fs=ray_shared_fs,
        )
    )


def report(
    results_dir: PathLike,
    out: PathLike | None = None,
    *,
    quiet_warnings: bool = True,
    **options: Any,
) -> Any:
    """Write the leaderboard of ``results_dir`` (default into DIR/report); its summary.

    ``options`` are those of `explore_bench.reports.build.main_report` (baseline, reps,
    final_window, formats, ...). The caveats are in the summary's ``warnings``.
    """
    from explore_bench.reports.build import main_report

    with warnings.catch_warnings():
        if quiet_warnings:
            warnings.simplefilter("ignore")
        return main_report(Path(results_dir), None if out is None else Path(out), **options)


__all__: Sequence[str] = (
    "Evaluation",
    "RunResult",
    "TrainedAgent",
    "load",
    "matrix",
    "report",
    "resolve_run",
    "run",
)
