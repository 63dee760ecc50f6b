"""How bonuses, agents and tasks are found: the registries and the contract checker.

`registry` holds one registry per kind (built-ins by import path, files dropped into
`bonuses/`, the ``explore_bench.bonuses`` entry-point group); `testing.check_bonus` runs the
bonus contract's checks on a plugin, for plugin authors and the suite's own tests.

May import: the contract (`bonuses.base`, `agents.hooks`), `explore_bench.store`,
`explore_bench.errors`.
"""
