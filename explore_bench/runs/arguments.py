"""The command line of one run: the options of ``explore-bench run`` and ``evaluate``, and
how the parsed options of `run` become the keyword arguments of `explore_bench.api.run`.

`explore_bench.cli` builds the parser from these and calls the API; nothing here imports
torch (``--help`` stays fast).
"""

from __future__ import annotations

import argparse
from typing import Any

from explore_bench.settings.config import RunSettings, parse_sets

RUN_EXAMPLES = """examples:
  explore-bench run --agent ppo --bonus none --task CartPole-v1 --steps 100000 --seed 0
  explore-bench run --bonus count --task explore_bench/DeepSea20-v0 --steps 50000 \\
      --set shaping.coef=0.5 --set agent.lr=1e-3
  explore-bench run --bonus rnd --task CartPole-v1 --track --wandb-mode offline
  explore-bench config bonus rnd      # every field --set can change, with its default

Every field --set can change, with its default and doc: explore-bench config.
"""


def add_run_parser(
    sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]
) -> None:
    """``explore-bench run``: every option of one run, with its default."""
    defaults = RunSettings()
    p = sub.add_parser(
        "run",
        help="train one agent with one bonus on one task",
        description="Train one agent with one bonus on one task.",
        epilog=RUN_EXAMPLES,
        formatter_class=formatter,
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


def add_evaluate_parser(
    sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]
) -> None:
    """``explore-bench evaluate RUN_DIR``: play (and record) a trained run's policy."""
    p = sub.add_parser(
        "evaluate",
        help="score (and record) a trained policy from its run directory",
        description="Load a finished or unfinished run (its last checkpoint) and play "
        "evaluation episodes on the raw score: prints the mean and a 95% interval.",
        epilog="examples:\n"
        "  explore-bench evaluate results/runs/CartPole-v1/ppo/none/seed0 --episodes 20\n"
        "  explore-bench evaluate RUN_DIR --episodes 3 --video videos/  # needs [video]\n",
        formatter_class=formatter,
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
        "default: the task card's final_score",
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


#: ``run`` flags that are RunSettings fields, passed on by name when given.
_FLAG_FIELDS = (
    "num_envs",
    "preset",
    "video_every",
    "wandb_project",
    "wandb_entity",
    "wandb_mode",
    "recipe",
)


def run_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `explore_bench.api.resolve_run` for parsed ``run`` options:
    the cell (agent, bonus, task, steps, seed, num_envs, preset, named as flags in its
    errors), the other flags by field name and every ``--set section.field=value``."""
    overrides: dict[str, Any] = {
        f"{section}.{key}": value
        for section, fields in parse_sets(args.sets).items()
        for key, value in fields.items()
    }
    for key in _FLAG_FIELDS:
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.track:
        overrides["track"] = True
    where: dict[str, Any] = dict(
        agent=args.agent, bonus=args.bonus, task=args.task, steps=args.steps, seed=args.seed
    )
    for key in ("num_envs", "preset"):  # the flags among the overrides: named as flags
        if key in overrides:
            where[key] = overrides.pop(key)
    return {**where, **overrides}
