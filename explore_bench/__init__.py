"""explore-bench: compare exploration bonuses under the same agents, tasks and statistics."""

__version__ = "0.1.0"

# Registers the suite's task ids with gymnasium and the task registry; light (no torch,
# mujoco or ale-py until an environment is made).
from explore_bench.envs import register_all as _register_envs

_register_envs()
