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

from explore_bench.errors import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class Preset:
    """Overrides per config section, with the paper they come from."""

    #: The agent the preset is for ("" = any).
    agent: str = ""
    #: One line: what this reproduces and from where.
    description: str = ""
    #: Start from this bonus's paper recipe for ``agent`` (its overrides, then the ones below).
    recipe: str = ""
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


# The EMI paper's TRPO (Kim et al. 2019, from the released rllab scripts; see
# shared/reference/emi.md): EMI's recipe for TRPO (`bonuses.emi.EMI_TRPO`, declared next to
# the bonus) plus each domain's batch and networks. Batch = run.num_envs x agent.num_steps:
# 10 x 5,000 = 50k steps (MuJoCo) and 10 x 10,000 = 100k steps (Atari) per TRPO iteration.
PRESETS["emi-mujoco"] = Preset(
    agent="trpo",
    description="EMI paper's TRPO for MuJoCo (Kim et al. 2019): 50k-step batches, max KL 0.01",
    recipe="emi",
    run={"num_envs": 10},
    agent_overrides={
        "num_steps": 5000,
        "policy_hidden": (64, 32),
        "activation": "tanh",
        "init_std": 1.0,
        "value_hidden": (32,),
        "value_activation": "relu",
        "vf_epochs": 5,
        "vf_minibatch_size": 64,
    },
)
PRESETS["emi-atari"] = Preset(
    agent="trpo",
    description="EMI paper's TRPO for Atari (Kim et al. 2019): 100k-step batches, EMI conv net",
    recipe="emi",
    run={"num_envs": 10},
    agent_overrides={
        "num_steps": 10000,
        "cnn": "emi",
        "policy_hidden": (),  # the 'emi' conv trunk already ends in FC256
        "value_hidden": (),  # the value net has its own conv trunk + FC256
        "value_activation": "relu",
        "vf_epochs": 3,
        "vf_minibatch_size": 512,
        "reward_clip": 1.0,
    },
)

# RND's recipe as a preset, to run it with another bonus or under `--recipe shared`: the
# overrides are those of `bonuses.rnd.RND.recipes["ppo"]` (Burda et al. 2018), declared there.
PRESETS["rnd"] = Preset(
    agent="ppo",
    recipe="rnd",
    description="RND's PPO recipe (Burda et al. 2018; bonuses/rnd.py): two value heads, "
    "gamma 0.999/0.99, ext_coef 2, int_coef 1, return-std normalisation",
)
