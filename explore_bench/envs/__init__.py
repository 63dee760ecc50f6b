"""The suite's environments: EMI paper tasks, Atari protocols, and the small `mini` tasks.

Importing this package only registers ids (gymnasium and the task registry); MuJoCo and
ale-py are imported when an environment is made.
"""

from __future__ import annotations

import dataclasses

from explore_bench.envs.catalog import register_all

__all__ = ["format_task_cards", "register_all"]

_CARD_FIELDS_SHOWN = (
    "frame_skip",
    "sticky_actions",
    "observation",
    "horizon",
    "reward_clip",
    "termination",
    "random_score",
    "reference_score",
    "reference_kind",
    "sparse",
    "success_threshold",
    "notes",
)


def format_task_cards() -> str:
    """Every registered task with its protocol card, for ``explore-bench list --tasks``."""
    from explore_bench import registry, suites
    from explore_bench.tasks import Task, resolve_task

    register_all()
    budgets: dict[str, list[str]] = {}
    for suite in suites.SUITES.values():
        for t in suite.tasks:
            budgets.setdefault(t.task, []).append(f"{suite.name} {t.steps:,}")
    blocks = []
    for name in registry.tasks.names():
        try:
            task: Task = resolve_task(name)
        except Exception as exc:  # a broken third-party task must not hide the others
            blocks.append(f"{name}\n  BROKEN: {exc}")
            continue
        lines = [name + (f"  -  {task.description}" if task.description else "")]
        card = dataclasses.asdict(task.card)
        width = max(len(k) for k in _CARD_FIELDS_SHOWN)
        for key in _CARD_FIELDS_SHOWN:
            lines.append(f"  {key:<{width}}  {card[key]}")
        if task.env_id != name:
            lines.append(f"  {'env_id':<{width}}  {task.env_id}")
        lines.append(f"  {'coverage':<{width}}  {'yes' if task.coverage else 'no'}")
        lines.append(f"  {'budgets':<{width}}  {'; '.join(budgets.get(name, ())) or '-'}")
        blocks.append("\n".join(lines))
    blocks.append(
        "Step budgets of the suites (matrix specs refer to them):\n" + suites.budget_table()
    )
    blocks.append(
        "Any other gymnasium id also works as a task, with the environment's default settings."
    )
    return "\n\n".join(blocks)
