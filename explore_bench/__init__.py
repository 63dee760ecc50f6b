"""explore-bench: compare exploration bonuses under the same agents, tasks and statistics."""

__version__ = "0.1.0"
