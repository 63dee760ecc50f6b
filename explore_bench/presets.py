"""Named presets: paper settings as plain config overrides that ``--set`` can still change.

A preset names the agent it is for and holds overrides per config section; `resolve`
applies it on top of the defaults and before the user's ``--set`` values, and the result is
written into config.json like any other setting.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from explore_bench.config import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class Preset:
    """Overrides per config section, with the paper they come from."""

    #: The agent the preset is for ("" = any).
    agent: str = ""
    #: One line: what this reproduces and from where.
    description: str = ""
    #: Run-level settings (e.g. num_envs).
    run: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Agent config fields.
    agent_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Bonus config fields.
    bonus: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Reward-shaping fields.
    shaping: Mapping[str, Any] = dataclasses.field(default_factory=dict)


PRESETS: dict[str, Preset] = {}


def get(name: str) -> Preset:
    if name not in PRESETS:
        close = difflib.get_close_matches(name, list(PRESETS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown preset {name!r}{hint}; valid: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]
