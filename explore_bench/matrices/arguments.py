"""The command line of many runs: the options of ``explore-bench matrix`` and ``status``.

`explore_bench.cli` builds the parser from these and calls `driver.main_matrix` /
`driver.main_status`; nothing here imports torch (``--help`` stays fast).
"""

from __future__ import annotations

import argparse

MATRIX_EXAMPLES = """examples:
  explore-bench matrix smoke
  explore-bench matrix my.toml --workers 2 --out results/mine --dry-run
"""


def add_matrix_parser(
    sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]
) -> None:
    """``explore-bench matrix SPEC``: executor, workers, GPUs, output, dry run, report."""
    p = sub.add_parser(
        "matrix",
        help="run a comparison matrix from a spec",
        epilog=MATRIX_EXAMPLES,
        formatter_class=formatter,
    )
    p.add_argument("spec", help="a TOML file or the name of a shipped spec (smoke, mini, ...)")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument(
        "--workers", type=int, default=None, help="parallel runs (default: one per core)"
    )
    p.add_argument(
        "--ray-address", default=None, help="existing Ray cluster (default: start a local one)"
    )
    p.add_argument(
        "--ray-shared-fs",
        action="store_true",
        help="--out is on a filesystem all Ray nodes mount at the same path",
    )
    p.add_argument(
        "--cells-per-gpu",
        type=int,
        default=1,
        help="local: cells sharing each visible GPU (run.device auto/cuda; 0: GPUs off)",
    )
    p.add_argument(
        "--gpus-per-cell",
        type=float,
        default=0.0,
        help="ray: GPUs each auto/cuda cell requests, fractions allowed (default 0: CPU only)",
    )
    p.add_argument("--out", default=None, help="results root (default: results/<matrix name>)")
    p.add_argument("--dry-run", action="store_true", help="validate and list the cells only")
    p.add_argument("--report", action="store_true", help="write the leaderboard afterwards")


def add_status_parser(
    sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]
) -> None:
    """``explore-bench status DIR``: the state of every cell of a results directory."""
    p = sub.add_parser(
        "status",
        help="done / failed / missing cells of a results directory",
        formatter_class=formatter,
    )
    p.add_argument("dir")
    p.add_argument("--spec", default=None, help="the spec, to list cells not started yet")
