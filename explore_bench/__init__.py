"""explore-bench: compare exploration bonuses under the same agents, tasks and statistics."""

__version__ = "0.1.0"

# Registers the suite's task ids with gymnasium and the task registry; light (no torch,
# mujoco or ale-py until an environment is made).
from explore_bench.envs import register_all as _register_envs

_register_envs()

from typing import TYPE_CHECKING, Any  # noqa: E402

from explore_bench.api import (  # noqa: E402  (after the tasks are registered)
    Evaluation,
    RunResult,
    TrainedAgent,
    load,
    run,
)

if TYPE_CHECKING:
    from explore_bench.api import matrix, report
else:

    def __getattr__(name: str) -> Any:
        # `matrix` and `report` are also submodules; importing one binds it here, so each
        # is a module that can be called (`explore_bench.report(dir)` = `api.report(dir)`).
        if name in ("matrix", "report"):
            import importlib

            return importlib.import_module(f"explore_bench.{name}")
        raise AttributeError(f"module 'explore_bench' has no attribute {name!r}")


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
