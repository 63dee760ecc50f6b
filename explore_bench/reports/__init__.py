"""Leaderboards from a results directory (`explore-bench report`), reported with rliable.

Reads the results store only: a run's identity comes from its config.json, and nothing in
the tree is executed. `load` reads the tree into tables, `suites` groups tasks that may be
aggregated, `stats` holds rliable's estimators (`bootstrap`: its resampling, vectorised),
`tables`, `figures`, `separation`, `reproduction` (published figures held against the
runs, checked by `options`) and `caveats` build the page's parts (`plots`, `ticks` and
`budgets` draw and label; `painter` draws charts in worker processes), `render` writes
Markdown and HTML, and `build` assembles the page.

The package itself imports nothing, so that reading a run's final score (`load`) does not
load the plotting stack (matplotlib and seaborn: 1.5-2 s of a short run's start-up):
`build.main_report` writes a report, `load.load_results` reads a tree.

May import: `explore_bench.store`, `explore_bench.settings` (option limits),
`explore_bench.errors`. Never `runs` or `matrices`.
"""
