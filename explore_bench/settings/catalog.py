"""What ``explore-bench config`` and ``explore-bench list`` print about settings: every field
of a section with its default, doc and source; the named presets; a bonus's paper recipes.

The command line only parses and prints; the text is built here, beside the settings it
describes, so the Python side can print the same (``print(format_config(["bonus", "rnd"]))``).
"""

from __future__ import annotations

from collections.abc import Sequence

from explore_bench.errors import ConfigError
from explore_bench.plugins import registry

#: The sections ``explore-bench config`` knows, and whether each takes a plugin name.
CONFIG_SECTIONS = {"run": False, "shaping": False, "agent": True, "bonus": True}


def format_config(what: Sequence[str] = (), task: str | None = None) -> str:
    """``explore-bench config [SECTION [NAME]] [--task TASK]``: the fields of one section (of
    one agent or bonus), or of every section and plugin when ``what`` is empty. ``task``
    shows a bonus's defaults for that task's spaces."""
    from explore_bench.settings.config import RunSettings, ShapingConfig
    from explore_bench.settings.fields import format_fields

    if what and what[0] not in CONFIG_SECTIONS:
        raise ConfigError(
            f"config {what[0]!r}: choose run, shaping, agent NAME or bonus NAME "
            "(or nothing for all)"
        )
    if what and not CONFIG_SECTIONS[what[0]] and len(what) > 1:
        raise ConfigError(f"config {what[0]} takes no name, got {list(what[1:])}")
    if what and CONFIG_SECTIONS[what[0]] and len(what) > 2:
        raise ConfigError(f"config {what[0]} takes one name, got {list(what[1:])}")
    sections: list[str] = []
    if not what or what[0] == "run":
        sections.append(format_fields("run", RunSettings))
    if not what or what[0] == "shaping":
        sections.append(format_fields("shaping", ShapingConfig))
    if not what or what[0] == "agent":
        for name in what[1:] or registry.agents.names():
            sections.append(format_fields(f"agent {name}", registry.agents.load(name).config_cls))
    if not what or what[0] == "bonus":
        for name in what[1:] or registry.bonuses.names():
            sections.append(_bonus_fields(name, task))
    return "\n\n".join(sections)


def _bonus_fields(name: str, task: str | None) -> str:
    """A bonus's fields; with a task, its defaults for that task's spaces."""
    from explore_bench.envs.tasks import resolve_task
    from explore_bench.settings.fields import format_fields

    cls = registry.bonuses.load(name)
    if task is None:
        return format_fields(f"bonus {name}", cls.config_cls)
    env = resolve_task(task).make_env()
    try:
        config = cls.default_config(env.observation_space, env.action_space)
    finally:
        env.close()
    return format_fields(f"bonus {name} on {task}", cls.config_cls, config)


def format_recipes(cls: type, indent: str = " " * 15) -> list[str]:
    """A bonus's paper recipes, one line per agent key (see `explore_bench.settings.recipes`)."""
    from explore_bench.settings.recipes import describe

    recipes = getattr(cls, "recipes", {}) or {}
    if not recipes:
        return [f"{indent}recipe: none declared (runs with the agent's defaults)"]
    return [
        f"{indent}recipe for {'any other agent' if key == '*' else key}: "
        f"{describe(recipe)}  [{recipe.source}]"
        for key, recipe in recipes.items()
    ]


def format_presets() -> list[str]:
    """One line per named preset (``--preset NAME``): its agent and what it sets."""
    from explore_bench.settings import presets

    return [
        f"  {name:<12} for {p.agent or 'any agent'}: {p.description}"
        for name, p in sorted(presets.PRESETS.items())
    ]
