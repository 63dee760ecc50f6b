"""Leaderboards from a results directory (`explore-bench report`), reported with rliable.

Reads the results store only: a run's identity comes from its config.json, and nothing in
the tree is executed. `load` reads the tree into tables, `suites` groups tasks that may be
aggregated, `stats` holds rliable's estimators, `tables`, `figures` and `caveats` build the
page's parts, `render` writes Markdown and HTML, and `build` assembles the page.

May import: `explore_bench.store`, `explore_bench.settings` (option limits),
`explore_bench.errors`. Never `runs` or `matrices`.
"""

from explore_bench.reports.build import ReportSummary, ReportWarning, main_report
from explore_bench.reports.load import ReportError, load_results

__all__ = ["ReportError", "ReportSummary", "ReportWarning", "load_results", "main_report"]
