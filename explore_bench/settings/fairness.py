"""Whether a matrix's entries train under the same agent settings (issue 29).

A comparison is fair when every entry of a (task, agent, budget) group trains with the same
agent settings, ``none`` included: the agent config less its method fields
(`explore_bench.settings.recipes.METHOD_AGENT_FIELDS`, which a bonus's recipe may set) and
the number of envs. A spec that means its entries to differ says so with
``agent_settings = "per-entry"``; the differences are stated either way, in ``--dry-run``,
before a matrix runs and with its report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from explore_bench.settings.config import ResolvedRun
from explore_bench.settings.recipes import METHOD_AGENT_FIELDS, jsonable

#: Values of a spec's ``agent_settings`` key: "shared" (the default: every entry of a group
#: trains under the same agent settings, a difference is a warning) or "per-entry" (the spec
#: means them to differ, e.g. each paper's preset; the differences are still stated).
AGENT_SETTINGS = ("shared", "per-entry")


def agent_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings an entry's agent trains under, from a config as config.json stores it
    (`ResolvedRun.to_dict`): its agent section less the method fields, and ``run.num_envs``
    (the batch is ``num_envs x num_steps``)."""
    out = {
        f"agent.{k}": v
        for k, v in jsonable(dict(config.get("agent", {}))).items()
        if k not in METHOD_AGENT_FIELDS
    }
    out["run.num_envs"] = config.get("run", {}).get("num_envs")
    return out


def agent_setting_differences(
    entries: Sequence[str], configs: Sequence[ResolvedRun | Mapping[str, Any]]
) -> list[str]:
    """One line per entry whose agent settings differ from its group's reference entry.

    ``entries[i]`` names the entry of ``configs[i]``, a resolved config or a config.json's
    dict (the report reads those); a group is (task, agent, step budget);
    its reference is ``none`` when the group has it, else its first entry. Lines are merged
    over the tasks where an entry differs in the same way.
    """
    groups: dict[tuple[str, str, int], dict[str, dict[str, Any]]] = {}
    for entry, cfg in zip(entries, configs, strict=True):
        data = cfg.to_dict() if isinstance(cfg, ResolvedRun) else cfg
        run = data.get("run", {})
        group = groups.setdefault((run.get("task"), run.get("agent"), run.get("steps")), {})
        group.setdefault(entry, agent_settings(data))
    merged: dict[tuple[str, str, str, str], list[str]] = {}
    for (task, agent, _), group in groups.items():
        ref = "none" if "none" in group else next(iter(group))
        for entry, settings in group.items():
            diff = [
                f"{k}={v!r} ({ref}: {group[ref].get(k)!r})"
                for k, v in settings.items()
                if group[ref].get(k) != v
            ]
            if diff:
                merged.setdefault((agent, entry, ref, ", ".join(diff)), []).append(task)
    return [
        f"{agent} entry {entry} trains under other agent settings than {ref} on "
        f"{', '.join(tasks)}: {diff}"
        for (agent, entry, ref, diff), tasks in merged.items()
    ]


def fairness_lines(
    mode: str, entries: Sequence[str], configs: Sequence[ResolvedRun | Mapping[str, Any]]
) -> list[str]:
    """What a matrix states about its agent settings: nothing when every entry of a group
    shares them; else a warning (mode "shared") or a note (mode "per-entry") and the lines."""
    diffs = agent_setting_differences(entries, configs)
    if not diffs:
        return []
    head = (
        "note: the spec runs its entries under different agent settings "
        "(agent_settings = 'per-entry'); their comparison includes the agents':"
        if mode == "per-entry"
        else "warning: entries of this matrix train under different agent settings, so a "
        "difference between them is not the bonuses' alone:"
    )
    return [head, *(f"  {line}" for line in diffs)]
