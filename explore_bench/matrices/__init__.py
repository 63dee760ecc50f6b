"""Many runs: matrix specs, their cells, the executors that run them, and the shipped specs.

`spec` reads and validates a TOML spec into cells (agents x bonuses x tasks x seeds, with
variants); `driver` runs a matrix and reports its status; `executors` runs cells on a local
process pool or a Ray cluster; `suites` holds the named task sets and their budgets;
`specs/` holds the shipped specs (``explore-bench matrix smoke``).

May import: every lower part (`runs`, `reports`, `settings`, `envs`, `plugins`, `store`).
"""
