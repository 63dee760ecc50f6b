"""The ``explore-bench`` command: run, list, matrix, status, report."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explore_bench import registry
from explore_bench.config import ConfigError


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train one agent with one bonus on one task")
    p.add_argument("--agent", default=None, help="agent name or module:Class (default: ppo)")
    p.add_argument("--bonus", default=None, help="bonus name or module:Class (default: none)")
    p.add_argument(
        "--task", default=None, help="task name or any gymnasium id (default: CartPole-v1)"
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="environment-step budget (default 100000). Every env steps at once, so a run "
        "stops at the first multiple of --num-envs at or past it: PPO and TRPO cut their "
        "last rollout to fit; an agent that cannot rounds up to whole rollouts (num_steps "
        "x num_envs). config.json records the requested and the run steps under 'budget'",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--num-envs", type=int, default=None, help="parallel environments")
    p.add_argument("--preset", default=None, help="named settings, e.g. emi-mujoco")
    p.add_argument(
        "--out",
        default="results/runs",
        help="results root; the run goes to OUT/<task>/<agent>/<bonus>/seed<k>",
    )
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="override a config field (sections: run, agent, bonus, shaping)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _cmd_run(args: argparse.Namespace) -> int:
    from explore_bench.config import check_out_dir, parse_sets, resolve
    from explore_bench.layout import run_dir_for
    from explore_bench.runner import check_existing_run, run

    run_opts: dict[str, Any] = {}
    for key, value in (
        ("agent", args.agent),
        ("bonus", args.bonus),
        ("task", args.task),
        ("steps", args.steps),
        ("seed", args.seed),
        ("num_envs", args.num_envs),
        ("preset", args.preset),
    ):
        if value is not None:
            run_opts[key] = value
    sets = parse_sets(args.sets)
    for key in run_opts:
        if key in sets["run"]:  # two values for one setting: say so instead of picking one
            flag = f"--{key.replace('_', '-')}"
            raise ConfigError(
                f"--set run.{key}={sets['run'][key]} conflicts with {flag}; give {flag} only"
            )
    resolved = resolve(run_opts, sets)  # every check happens before any file
    check_out_dir(Path(args.out), "--out")
    run_dir = run_dir_for(Path(args.out), resolved.run)
    check_existing_run(resolved, run_dir)  # other settings in DONE or checkpoint: refused
    if (run_dir / "DONE").exists():
        print(f"{run_dir} is already complete (DONE); delete it or choose another --out")
        return 0
    run(resolved, run_dir, progress=False if args.quiet else None)
    _print_summary(run_dir)
    return 0


def _print_summary(run_dir: Path) -> None:
    from explore_bench.io import read_csv

    rows = read_csv(run_dir / "metrics.csv")
    evals = [r["eval_return"] for r in rows if "eval_return" in r]
    sps = [r["sps"] for r in rows]
    line = f"done: {run_dir}  steps {rows[-1]['env_steps']}  mean sps {sum(sps) / len(sps):.0f}"
    if evals:
        line += f"  final eval return {evals[-1]:.2f}"
    print(line)


def _cmd_list(args: argparse.Namespace) -> int:
    show_all = not (args.bonuses or args.agents or args.tasks)
    if show_all or args.bonuses:
        print("bonuses:")
        for name, source, error in registry.bonuses.status():
            if error:
                print(f"  {name:<12} BROKEN ({source}): {error}")
            else:
                cls = registry.bonuses.load(name)
                print(f"  {name:<12} {cls.description}  [{cls.reference}]  ({source})")
    if show_all or args.agents:
        print("agents:")
        for name, source, error in registry.agents.status():
            if error:
                print(f"  {name:<12} BROKEN ({source}): {error}")
            else:
                print(f"  {name:<12} {registry.agents.load(name).description}  ({source})")
    if show_all or args.tasks:
        print("tasks:")
        try:
            from explore_bench.envs import format_task_cards
        except ImportError:
            for name in registry.tasks.names():
                print(f"  {name}")
        else:
            print(format_task_cards())
        print("  (any gymnasium id also works as a task, with the environment's defaults)")
    if show_all:
        from explore_bench import presets

        print("presets:")
        for name in sorted(presets.PRESETS):
            p = presets.PRESETS[name]
            print(f"  {name:<12} for {p.agent or 'any agent'}: {p.description}")
    return 0


def _cmd_matrix(args: argparse.Namespace) -> int:
    from explore_bench.matrix import main_matrix

    return main_matrix(args)


def _cmd_status(args: argparse.Namespace) -> int:
    from explore_bench.matrix import main_status

    return main_status(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from explore_bench.config import check_out_dir
    from explore_bench.report.options import check_report_options

    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    options = {
        "baseline": args.baseline,
        "reps": args.reps,
        "final_window": args.final_window,
        "formats": formats,
    }
    flags = {"formats": "--format", "final_window": "--final-window"}
    check_report_options(options, lambda key: flags.get(key, f"--{key}"))
    out = Path(args.out) if args.out else None
    check_out_dir(out if out is not None else Path(args.dir) / "report", "--out")

    from explore_bench.report import main_report
    from explore_bench.report.load import ReportError

    try:
        with warnings.catch_warnings():  # each caveat is printed once below and in the report
            warnings.simplefilter("ignore")
            summary = main_report(Path(args.dir), out, **options)
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
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="explore-bench",
        description="Compare exploration bonuses under the same agents, tasks and statistics.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    p = sub.add_parser("list", help="registered bonuses, agents, tasks and presets")
    p.add_argument("--bonuses", action="store_true")
    p.add_argument("--agents", action="store_true")
    p.add_argument("--tasks", action="store_true")
    p = sub.add_parser("matrix", help="run a comparison matrix from a spec")
    p.add_argument("spec", help="a TOML file or the name of a shipped spec (smoke, mini, ...)")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument("--workers", type=int, default=None, help="parallel runs (default: cores)")
    p.add_argument("--ray-address", default=None, help="existing Ray cluster (default: start one)")
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
    p = sub.add_parser("status", help="done / failed / missing cells of a results directory")
    p.add_argument("dir")
    p.add_argument("--spec", default=None, help="the spec, to list cells not started yet")
    p = sub.add_parser("report", help="rliable leaderboard from a results directory")
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
    return parser


COMMANDS = {
    "run": _cmd_run,
    "list": _cmd_list,
    "matrix": _cmd_matrix,
    "status": _cmd_status,
    "report": _cmd_report,
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
