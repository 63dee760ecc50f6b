"""explore-bench: compare exploration bonuses under the same agents, tasks and statistics.

The public API is four plain functions, `run`, `load`, `matrix` and `report`
(`explore_bench.api`); the harness behind them is grouped by part, lowest first:

- `store`: the results tree on disk (layout, atomic writes, checkpoints, the writer lock);
- `plugins`: the registries of bonuses, agents and tasks, and `check_bonus`;
- `envs`: tasks, their protocol cards and every environment family;
- `settings`: a run's resolved settings (config, fields, presets, recipes, devices);
- `runs`: one run (wiring, the shaping hook, tracking, video);
- `reports`: leaderboards, reading the results store only;
- `matrices`: many runs (specs, cells, executors, suites, the shipped specs).

A part imports only parts listed above it (`reports` none of `runs`); `docs/design.md` draws
the arrows and `tests/test_import_graph.py` enforces them.
"""

__version__ = "0.1.0"

# Registers the suite's task ids with gymnasium and the task registry; light (no torch,
# mujoco or ale-py until an environment is made).
from explore_bench.envs import register_all as _register_envs

_register_envs()

from explore_bench.api import (  # noqa: E402  (after the tasks are registered)
    Evaluation,
    RunResult,
    TrainedAgent,
    load,
    matrix,
    report,
    run,
)

__all__ = [
    "Evaluation",
    "RunResult",
    "TrainedAgent",
    "__version__",
    "load",
    "matrix",
    "report",
    "run",
]
