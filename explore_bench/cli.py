"""The ``explore-bench`` command: run, evaluate, list, config, matrix, status, report.

Each command calls the Python API (`explore_bench.api`) or the module behind it.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explore_bench.plugins import registry
from explore_bench.settings.config import ConfigError


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help lists every option's default and keeps the examples' line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, []) or "default" in (action.help or ""):
            return action.help  # flags, and options whose help says what the default is
        return super()._get_help_string(action)


RUN_EXAMPLES = """examples:
  explore-bench run --agent ppo --bonus none --task CartPole-v1 --steps 100000 --seed 0
  explore-bench run --bonus count --task explore_bench/DeepSea20-v0 --steps 50000 \\
      --set shaping.coef=0.5 --set agent.lr=1e-3
  explore-bench run --bonus rnd --task CartPole-v1 --track --wandb-mode offline
  explore-bench config bonus rnd      # every field --set can change, with its default

Every field --set can change, with its default and doc: explore-bench config.
"""


def _add_run(sub: argparse._SubParsersAction) -> None:
    from explore_bench.settings.config import RunSettings

    defaults = RunSettings()
    p = sub.add_parser(
        "run",
        help="train one agent with one bonus on one task",
        description="Train one agent with one bonus on one task.",
        epilog=RUN_EXAMPLES,
        formatter_class=_Help,
    )
    p.add_argument("--agent", default=None, help="agent name or module:Class (default: ppo)")
    p.add_argument("--bonus", default=None, help="bonus name or module:Class (default: none)")
    p.add_argument(
        "--task", default=None, help="task name or any gymnasium id (default: CartPole-v1)"
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"environment-step budget (default: run.steps = {defaults.steps}). Every env "
        "steps at once, so a run stops at the first multiple of --num-envs at or past it: "
        "PPO and TRPO cut their last rollout to fit; an agent that cannot rounds up to whole "
        "rollouts (num_steps x num_envs). config.json records the requested and the run "
        "steps under 'budget'",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"seed of torch, numpy and the envs (default: run.seed = {defaults.seed})",
    )
    p.add_argument(
        "--num-envs",
        type=int,
        default=None,
        help=f"parallel environments (default: run.num_envs = {defaults.num_envs})",
    )
    p.add_argument("--preset", default=None, help="named settings, e.g. emi-mujoco")
    p.add_argument(
        "--video-every",
        type=int,
        default=None,
        metavar="STEPS",
        help="record an evaluation episode to RUN_DIR/videos every STEPS env steps",
    )
    p.add_argument(
        "--track",
        action="store_true",
        help="also log to Weights & Biases (nothing is sent without it)",
    )
    p.add_argument("--wandb-project", default=None, help="W&B project (run.wandb_project)")
    p.add_argument("--wandb-entity", default=None, help="W&B user or team (run.wandb_entity)")
    p.add_argument(
        "--wandb-mode",
        choices=("online", "offline"),
        default=None,
        help="offline: write RUN_DIR/wandb without network, `wandb sync` it later",
    )
    p.add_argument(
        "--recipe",
        choices=("paper", "shared"),
        default=None,
        help="paper (default): the bonus's paper recipe on top of the agent's defaults; "
        "shared: no recipe, the same agent settings for every bonus",
    )
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
    from explore_bench import api
    from explore_bench.runs.runner import check_existing_run
    from explore_bench.settings.config import check_out_dir, parse_sets
    from explore_bench.store.layout import run_dir_for

    overrides: dict[str, Any] = {
        f"{section}.{key}": value
        for section, fields in parse_sets(args.sets).items()
        for key, value in fields.items()
    }
    for key, value in (
        ("num_envs", args.num_envs),
        ("preset", args.preset),
        ("video_every", args.video_every),
        ("wandb_project", args.wandb_project),
        ("wandb_entity", args.wandb_entity),
        ("wandb_mode", args.wandb_mode),
        ("recipe", args.recipe),
    ):
        if value is not None:
            overrides[key] = value
    if args.track:
        overrides["track"] = True
    where: dict[str, Any] = dict(
        agent=args.agent, bonus=args.bonus, task=args.task, steps=args.steps, seed=args.seed
    )
    for key in ("num_envs", "preset"):  # the flags among the overrides: named as flags below
        if key in overrides:
            where[key] = overrides.pop(key)
    resolved = api.resolve_run(**where, **overrides)  # every check, before any file is written
    check_out_dir(Path(args.out), "--out")
    run_dir = run_dir_for(Path(args.out), resolved.run)
    check_existing_run(resolved, run_dir)  # other settings in DONE or checkpoint: refused
    if (run_dir / "DONE").exists():
        print(f"{run_dir} is already complete (DONE); delete it or choose another --out")
        return 0
    api.run_resolved(resolved, args.out, progress=False if args.quiet else None)
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
    from explore_bench.settings.config import RunSettings, ShapingConfig
    from explore_bench.settings.fields import format_fields

    what = args.what
    if what and what[0] not in ("run", "shaping", "agent", "bonus"):
        raise ConfigError(
            f"config {what[0]!r}: choose run, shaping, agent NAME or bonus NAME "
            "(or nothing for all)"
        )
    if what and what[0] in ("run", "shaping") and len(what) > 1:
        raise ConfigError(f"config {what[0]} takes no name, got {what[1:]}")
    if what and what[0] in ("agent", "bonus") and len(what) > 2:
        raise ConfigError(f"config {what[0]} takes one name, got {what[1:]}")
    sections: list[str] = []
    if not what or what[0] == "run":
        sections.append(format_fields("run", RunSettings))
    if not what or what[0] == "shaping":
        sections.append(format_fields("shaping", ShapingConfig))
    if not what or what[0] == "agent":
        names = what[1:] or registry.agents.names()
        for name in names:
            sections.append(format_fields(f"agent {name}", registry.agents.load(name).config_cls))
    if not what or what[0] == "bonus":
        for name in what[1:] or registry.bonuses.names():
            sections.append(_bonus_fields(name, args.task))
    print("\n\n".join(sections))
    return 0


def _bonus_fields(name: str, task: str | None) -> str:
    """A bonus's fields; with a task, its defaults for that task's spaces."""
    from explore_bench.settings.fields import format_fields

    cls = registry.bonuses.load(name)
    if task is None:
        return format_fields(f"bonus {name}", cls.config_cls)
    from explore_bench.envs.tasks import resolve_task

    env = resolve_task(task).make_env()
    try:
        config = cls.default_config(env.observation_space, env.action_space)
    finally:
        env.close()
    return format_fields(f"bonus {name} on {task}", cls.config_cls, config)


def _print_summary(run_dir: Path) -> None:
    from explore_bench.store.io import read_csv

    rows = read_csv(run_dir / "metrics.csv")
    evals = [r["eval_return"] for r in rows if "eval_return" in r]
    sps = [r["sps"] for r in rows]
    line = f"done: {run_dir}  steps {rows[-1]['env_steps']}  mean sps {sum(sps) / len(sps):.0f}"
    if evals:
        line += f"  final eval return {evals[-1]:.2f}"
    print(line)


def _print_recipes(cls: type) -> None:
    """A bonus's paper recipes, one line per agent key (see `explore_bench.settings.recipes`)."""
    from explore_bench.settings.recipes import describe

    recipes = getattr(cls, "recipes", {}) or {}
    if not recipes:
        print(f"  {'':<12} recipe: none declared (runs with the agent's defaults)")
    for key, recipe in recipes.items():
        agent = "any other agent" if key == "*" else key
        print(f"  {'':<12} recipe for {agent}: {describe(recipe)}  [{recipe.source}]")


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
                _print_recipes(cls)
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
            from explore_bench.matrices.suites import format_task_cards
        except ImportError:
            for name in registry.tasks.names():
                print(f"  {name}")
        else:
            print(format_task_cards())
        print("  (any gymnasium id also works as a task, with the environment's defaults)")
    if show_all:
        from explore_bench.settings import presets

        print("presets:")
        for name in sorted(presets.PRESETS):
            p = presets.PRESETS[name]
            print(f"  {name:<12} for {p.agent or 'any agent'}: {p.description}")
    return 0


def _cmd_matrix(args: argparse.Namespace) -> int:
    from explore_bench.matrices.driver import main_matrix

    return main_matrix(args)


def _cmd_status(args: argparse.Namespace) -> int:
    from explore_bench.matrices.driver import main_status

    return main_status(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from explore_bench.reports.options import check_report_options
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
    out = Path(args.out) if args.out else None
    check_out_dir(out if out is not None else Path(args.dir) / "report", "--out")

    from explore_bench.reports import main_report
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
    return 0


MAIN_EXAMPLES = """examples:
  explore-bench matrix smoke                     # the shipped smoke matrix and its leaderboard
  explore-bench run --bonus count --task explore_bench/DeepSea20-v0 --steps 50000
  explore-bench evaluate results/runs/CartPole-v1/ppo/none/seed0 --episodes 20
  explore-bench config agent ppo                 # every field, its default, doc and source
  explore-bench list                             # bonuses, agents, tasks, presets

`explore-bench COMMAND --help` shows each command's options and defaults.
"""


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score (and record) a trained policy from its run directory",
        description="Load a finished or unfinished run (its last checkpoint) and play "
        "evaluation episodes on the raw score: prints the mean and a 95% interval.",
        epilog="examples:\n"
        "  explore-bench evaluate results/runs/CartPole-v1/ppo/none/seed0 --episodes 20\n"
        "  explore-bench evaluate RUN_DIR --episodes 3 --video videos/  # needs [video]\n",
        formatter_class=_Help,
    )
    p.add_argument("run_dir", help="a run directory (OUT/<task>/<agent>/<bonus>/seed<k>)")
    p.add_argument(
        "--episodes", type=int, default=None, help="episodes (default: the run's eval_episodes)"
    )
    p.add_argument(
        "--video",
        default=None,
        metavar="DIR",
        help="record every episode into DIR (MuJoCo, Atari and other rgb_array tasks)",
    )
    p.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the policy's mode (--deterministic) or samples (--no-deterministic); "
        "default: the run's agent.eval_deterministic",
    )
    p.add_argument(
        "--stochastic",
        dest="deterministic",
        action="store_false",
        default=None,
        help="= --no-deterministic",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="first episode's seed (default: the seed of the run's last evaluation)",
    )


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
    _add_run(sub)
    _add_evaluate(sub)
    _add_config(sub)
    p = sub.add_parser(
        "list", help="registered bonuses, agents, tasks and presets", formatter_class=_Help
    )
    p.add_argument("--bonuses", action="store_true")
    p.add_argument("--agents", action="store_true")
    p.add_argument("--tasks", action="store_true")
    p = sub.add_parser(
        "matrix",
        help="run a comparison matrix from a spec",
        epilog="examples:\n  explore-bench matrix smoke\n"
        "  explore-bench matrix my.toml --workers 2 --out results/mine --dry-run\n",
        formatter_class=_Help,
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
    p = sub.add_parser(
        "status",
        help="done / failed / missing cells of a results directory",
        formatter_class=_Help,
    )
    p.add_argument("dir")
    p.add_argument("--spec", default=None, help="the spec, to list cells not started yet")
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
    return parser


COMMANDS = {
    "run": _cmd_run,
    "evaluate": _cmd_evaluate,
    "config": _cmd_config,
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
