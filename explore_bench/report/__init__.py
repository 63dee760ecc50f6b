"""Leaderboards from a results directory (`explore-bench report`), reported with rliable."""

from explore_bench.report.build import ReportSummary, ReportWarning, main_report
from explore_bench.report.load import ReportError, load_results

__all__ = ["ReportError", "ReportSummary", "ReportWarning", "load_results", "main_report"]

from explore_bench._callable import make_callable

make_callable(__name__, "report")  # explore_bench.report(...) is explore_bench.api.report
