"""Tasks and their environments: EMI paper tasks, Atari protocols, MiniGrid and the `mini` tasks.

`tasks` defines a task (a gymnasium id with its protocol card) and how a step's reward and
info are read; `catalog` registers every task; one module per environment family. Importing
this package only registers ids (gymnasium and the task registry); MuJoCo and ale-py are
imported when an environment is made.

May import: `explore_bench.plugins`, the contract (`agents.hooks`), `explore_bench.errors`.
"""

from __future__ import annotations

from explore_bench.envs.catalog import register_all

__all__ = ["register_all"]
