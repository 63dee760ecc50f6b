"""Many runs: matrix specs, their cells, the executors that run them, and the shipped specs.

`spec` reads and validates a TOML spec into `cells` (agents x bonuses x tasks x seeds, with
variants); `driver` runs a matrix and reports its status; `jobs` is a cell as a job, run by
`local_pool` (a process per cell on this machine) or `ray_cluster`; `suites` holds the named
task sets and their budgets; `specs/` holds the shipped specs (``explore-bench matrix smoke``).

May import: every lower part (`runs`, `reports`, `settings`, `envs`, `plugins`, `store`).
"""
