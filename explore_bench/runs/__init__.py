"""One run: wire a task, an agent and a bonus from a resolved config, train, and write the run's
directory (config, provenance, metrics, TensorBoard events, checkpoints, ``DONE``).

`runner` wires and trains; `shaping` is the hook that turns a bonus's raw scores into the
intrinsic reward before any return is computed; `tracking` mirrors metrics to TensorBoard
and W&B; `video` records evaluation episodes.

May import: `explore_bench.settings`, `explore_bench.envs`, `explore_bench.plugins`,
`explore_bench.store`, the contract and the agents, `explore_bench.errors`.
"""
