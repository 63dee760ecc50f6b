"""The ``explore-bench`` command: run, evaluate, list, config, matrix, status, report, compact.

Each command calls the Python API (`explore_bench.api`) or the module behind it. The options
of a command live with the part it serves: `explore_bench.runs.arguments` (run, evaluate),
`explore_bench.matrices.arguments` (matrix, status); what ``config`` and ``list`` print is
built by `explore_bench.settings.catalog` and `explore_bench.matrices.suites`. Starting the
command imports no torch: ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from explore_bench.matrices.arguments import add_matrix_parser, add_status_parser
from explore_bench.plugins import registry
from explore_bench.runs.arguments import add_evaluate_parser, add_run_parser, run_arguments
from explore_bench.settings.catalog import format_config, format_presets, format_recipes
from explore_bench.settings.config import ConfigError


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help lists every option's default and keeps the examples' line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, []) or "default" in (action.help or ""):
            return action.help  # flags, and options whose help says what the default is
        return super()._get_help_string(action)


def _cmd_run(args: argparse.Namespace) -> int:
    from explore_bench import api
    from explore_bench.runs.runner import check_existing_run, run
    from explore_bench.settings.config import check_out_dir
    from explore_bench.store.layout import run_dir_for

    resolved = api.resolve_run(**run_arguments(args))  # every check, before any file is written
    check_out_dir(Path(args.out), "--out")
    run_dir = run_dir_for(Path(args.out), resolved.run)
    check_existing_run(resolved, run_dir)  # other settings in DONE or checkpoint: refused
    if (run_dir / "DONE").exists():
        print(f"{run_dir} is already complete (DONE); delete it or choose another --out")
        return 0
    # the runner itself, not api.run_resolved: the summary below reads metrics.csv as rows,
    # without the DataFrame and final score that loading pandas and the report would cost
    run(resolved, run_dir, progress=False if args.quiet else None)
    _print_summary(run_dir)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from explore_bench import api

    try:
        policy = api.load(args.run_dir)
    except FileNotFoundError as exc:
        print(f"explore-bench: error: {exc}", file=sys.stderr)
        return 2
    if args.video:
        from explore_bench.runs.video import check_recordable

        check_recordable(policy.task)  # a task without frames: one line, nothing written
    state = "finished" if (Path(args.run_dir) / "DONE").exists() else "unfinished"
    print(
        f"{args.run_dir}: {policy.config.run.agent}/{policy.config.run.bonus} on "
        f"{policy.config.run.task}, {state}, checkpoint at {policy.env_steps} env steps"
    )
    result = policy.evaluate(
        args.episodes, deterministic=args.deterministic, seed=args.seed, video=args.video
    )
    print(result)
    if args.video:
        print(f"videos: {args.video}")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    print(format_config(args.what, args.task))
    return 0


def _print_summary(run_dir: Path) -> None:
    from explore_bench.store.io import read_csv
    from explore_bench.store.layout import metrics_path

    rows = read_csv(metrics_path(run_dir))
    evals = [r["eval_return"] for r in rows if "eval_return" in r]
    sps = [r["sps"] for r in rows]
    line = f"done: {run_dir}  steps {rows[-1]['env_steps']}  mean sps {sum(sps) / len(sps):.0f}"
    if evals:
        line += f"  final eval return {evals[-1]:.2f}"
    print(line)


def _plugin_lines(reg: registry.Registry, recipes: bool = False) -> list[str]:
    """One line per plugin: name, description, [reference], (source); BROKEN with its error.
    ``recipes``: each bonus's paper recipes below it."""
    lines = []
    for name, source, error in reg.status():
        if error:
            lines.append(f"  {name:<12} BROKEN ({source}): {error}")
            continue
        cls = reg.load(name)
        reference = f"  [{cls.reference}]" if getattr(cls, "reference", "") else ""
        lines.append(f"  {name:<12} {cls.description}{reference}  ({source})")
        if recipes:
            lines += format_recipes(cls)
    return lines


def _cmd_list(args: argparse.Namespace) -> int:
    """Plain ``list`` is the short index, one line per name; ``--bonuses`` adds the paper
    recipes, ``--tasks`` the protocol cards and budgets."""
    from explore_bench.matrices.suites import format_task_cards, format_task_index

    index = not (args.bonuses or args.agents or args.tasks)
    if index or args.bonuses:
        more = "  (with their paper recipes: explore-bench list --bonuses)" if index else ""
        print(f"bonuses:{more}")
        print("\n".join(_plugin_lines(registry.bonuses, recipes=not index)))
    if index or args.agents:
        print("agents:")
        print("\n".join(_plugin_lines(registry.agents)))
    if index:
        print("tasks:  (with their protocol cards and budgets: explore-bench list --tasks)")
        print(format_task_index())
    elif args.tasks:
        print("tasks:")
        print(format_task_cards())
    if index:
        print("presets:  (explore-bench run --preset NAME)")
        print("\n".join(format_presets()))
    return 0


def _cmd_matrix(args: argparse.Namespace) -> int:
    from explore_bench.matrices.driver import main_matrix

    return main_matrix(args)


def _cmd_status(args: argparse.Namespace) -> int:
    from explore_bench.matrices.driver import main_status

    return main_status(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from explore_bench.reports.options import check_report_options, read_published_file
    from explore_bench.settings.config import check_out_dir

    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    options = {
        "baseline": args.baseline,
        "reps": args.reps,
        "final_window": args.final_window,
        "formats": formats,
    }
    flags = {"formats": "--format", "final_window": "--final-window"}
    check_report_options(options, lambda key: flags.get(key, f"--{key}"))
    if args.published:  # the file is read and checked before anything is written
        options["published"] = read_published_file(args.published)
    out = Path(args.out) if args.out else None
    check_out_dir(out if out is not None else Path(args.dir) / "report", "--out")

    from explore_bench.reports.build import main_report
    from explore_bench.reports.load import ReportError

    try:
        with warnings.catch_warnings():  # each caveat is printed once below and in the report
            warnings.simplefilter("ignore")
            summary = main_report(Path(args.dir), out, best_variant=args.best_variant, **options)
    except ReportError as exc:
        print(f"explore-bench: error: {exc}", file=sys.stderr)
        return 2
    for caveat in summary.warnings:
        print(f"note: {caveat}")
    print(
        f"report: {summary.out_dir}  ({summary.runs_finished} finished, {summary.runs_failed} "
        f"failed, {summary.runs_unfinished} unfinished, {summary.runs_missing} missing"
        + (f", {summary.runs_broken} broken" if summary.runs_broken else "")
        + " runs)"
    )
    if "published" in options:
        from explore_bench.reports.reproduction import summary_line

        print(f"reproduction: {summary_line(summary.reproduction)} (reproduction.md/.csv)")
    return 0


def _cmd_compact(args: argparse.Namespace) -> int:
    from explore_bench.store.compact import compact_tree

    for root in args.dirs:  # every root checked before any file is rewritten
        if not Path(root).is_dir():
            raise ConfigError(f"{root!r} is not a directory: expected a results tree")
    for root in args.dirs:
        done = compact_tree(Path(root))
        for line in done.skipped:
            print(f"note: left as it is: {line}")
        print(
            f"{root}: {done.runs} finished runs compacted, metrics "
            f"{done.bytes_before / 1e6:.2f} MB -> {done.bytes_after / 1e6:.2f} MB"
        )
    return 0


MAIN_EXAMPLES = """examples:
  explore-bench matrix smoke                     # the shipped smoke matrix and its leaderboard
  explore-bench run --bonus count --task explore_bench/DeepSea20-v0 --steps 50000
  explore-bench evaluate results/runs/CartPole-v1/ppo/none/seed0 --episodes 20
  explore-bench config agent ppo                 # every field, its default, doc and source
  explore-bench list                             # bonuses, agents, tasks, presets

`explore-bench COMMAND --help` shows each command's options and defaults.
"""


def _add_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="every config field with its type, default, doc and source",
        description="Print the fields `--set section.field=value` and spec tables can change.",
        epilog="examples:\n"
        "  explore-bench config run\n"
        "  explore-bench config agent ppo\n"
        "  explore-bench config bonus rnd --task explore_bench/DeepSea20-v0\n"
        "  explore-bench config shaping\n",
        formatter_class=_Help,
    )
    p.add_argument(
        "what", nargs="*", metavar="SECTION [NAME]", help="run | shaping | agent NAME | bonus NAME"
    )
    p.add_argument("--task", default=None, help="show a bonus's defaults for this task's spaces")


def build_parser() -> argparse.ArgumentParser:
    from explore_bench import __version__

    parser = argparse.ArgumentParser(
        prog="explore-bench",
        description="Compare exploration bonuses under the same agents, tasks and statistics.",
        epilog=MAIN_EXAMPLES,
        formatter_class=_Help,
    )
    parser.add_argument("--version", action="version", version=f"explore-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub, _Help)
    add_evaluate_parser(sub, _Help)
    _add_config(sub)
    p = sub.add_parser(
        "list",
        help="registered bonuses, agents, tasks and presets, one line each",
        description="The short index: every bonus, agent, task and preset on one line. "
        "An option shows that kind in full instead.",
        formatter_class=_Help,
    )
    p.add_argument("--bonuses", action="store_true", help="bonuses with their paper recipes")
    p.add_argument("--agents", action="store_true", help="agents only")
    p.add_argument(
        "--tasks", action="store_true", help="tasks with their protocol cards and budgets"
    )
    add_matrix_parser(sub, _Help)
    add_status_parser(sub, _Help)
    p = sub.add_parser(
        "report",
        help="rliable leaderboard from a results directory",
        epilog="example:\n  explore-bench report results/smoke --reps 2000\n",
        formatter_class=_Help,
    )
    p.add_argument("dir")
    p.add_argument("--out", default=None, help="default: DIR/report")
    p.add_argument("--baseline", default="none", help="bonus every other is compared against")
    p.add_argument("--reps", type=int, default=50_000, help="bootstrap replications")
    p.add_argument(
        "--final-window",
        type=float,
        default=0.1,
        help="final score = mean eval score over this last share of training",
    )
    p.add_argument("--format", default="md,html,csv")
    p.add_argument(
        "--best-variant",
        default="",
        metavar="METRIC",
        help="add each bonus's best variant by METRIC (iqm, mean, median, success_rate); "
        "flagged as optimistic: selected on the reported seeds",
    )
    p.add_argument(
        "--published",
        default=None,
        metavar="FILE.toml",
        help="published figures to hold the runs against (a Reproduction section, "
        "reproduction.md/.csv): the file's [report.published] table (a matrix spec serves), "
        "its [published] table, or the whole file as task = [{ entry, value, measure, "
        "source }, ...]; docs/report.md",
    )
    p = sub.add_parser(
        "compact",
        help="store finished runs' metrics gzip-compressed (metrics.csv.gz), for committing",
        description="Rewrite each finished run's metrics.csv as metrics.csv.gz, numbers to 9 "
        "significant digits (exact for float32). Runs not marked DONE are left alone; every "
        "command reads either form.",
        epilog="example:\n  explore-bench compact results/evidence\n",
        formatter_class=_Help,
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="results trees")
    return parser


COMMANDS = {
    "run": _cmd_run,
    "evaluate": _cmd_evaluate,
    "config": _cmd_config,
    "list": _cmd_list,
    "matrix": _cmd_matrix,
    "status": _cmd_status,
    "report": _cmd_report,
    "compact": _cmd_compact,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, registry.UnknownNameError, registry.PluginLoadError) as exc:
        print(f"explore-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("explore-bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
