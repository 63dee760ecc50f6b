"""A run's resolved settings: every field, where its value came from, before anything runs.

`config` layers the defaults, a spec's base, the bonus's recipe, a named preset and the
user's overrides into one `ResolvedRun` and validates it; `fields` documents every field;
`presets` and `recipes` are the named settings as data; `devices` resolves ``run.device``.

May import: `explore_bench.envs` (a task's defaults), `explore_bench.plugins`, the contract,
`explore_bench.errors`. Never `runs`, `matrices` or `reports`.
"""
