"""Named presets: paper settings as plain config overrides that ``--set`` can still change.

A preset names the agent it is for and holds overrides per config section; `resolve`
applies it on top of the defaults and before the user's ``--set`` values, and the result is
written into config.json like any other setting.

A paper's own agent settings (optimiser, batch, discount: what it tuned for its domain) live
here and nowhere else (issue 29): a bonus's recipe carries only its method, so every entry of a
comparison trains under the task family's agent settings unless a preset is named to
reproduce a paper in its domain (``rnd-atari``, ``emi-mujoco``, ...).
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


#: The EMI paper's TRPO (rllab) settings shared by its MuJoCo and Atari scripts (Kim et al.
#: 2019, sec. 5; snu-mllab/EMI examples/trpo_emi_{mujoco,atari}.py; shared/reference/emi.md).
#: Until issue 29 they were EMI's TRPO recipe (bonuses/emi.py); they are agent settings.
EMI_TRPO: dict[str, Any] = {
    "gamma": 0.995,
    "gae_lambda": 1.0,
    "norm_adv": True,
    "max_kl": 0.01,
    "cg_iters": 10,
    "cg_damping": 1e-5,
    "backtrack_coef": 0.8,
    "max_backtracks": 15,
    "vf_lr": 1e-3,
    "bootstrap_truncation": False,  # rllab scores the value at a path end 0
}

# Each domain's batch and networks on top of EMI_TRPO. Batch = run.num_envs x agent.num_steps:
# 10 x 5,000 = 50k steps (MuJoCo) and 10 x 10,000 = 100k steps (Atari) per TRPO iteration.
PRESETS["emi-mujoco"] = Preset(
    agent="trpo",
    description="EMI paper's TRPO for MuJoCo (Kim et al. 2019): 50k-step batches, max KL 0.01",
    run={"num_envs": 10},
    agent_overrides={
        **EMI_TRPO,
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
    run={"num_envs": 10},
    agent_overrides={
        **EMI_TRPO,
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

# RND's method (bonuses/rnd.py recipe: two value heads, int gamma 0.99, ext/int weights 2/1,
# return-std normalisation, warm-up) as a preset, to run it with another bonus or under
# `--recipe shared`.
PRESETS["rnd"] = Preset(
    agent="ppo",
    recipe="rnd",
    description="RND's method (Burda et al. 2018; bonuses/rnd.py): two value heads, int gamma "
    "0.99, ext_coef 2, int_coef 1, return-std normalisation, random-step warm-up",
)
# RND's Atari PPO (Burda et al. 2018, Table 5; openai/random-network-distillation
# run_atari.py: nepochs 4, nminibatches 4, lr 1e-4, cliprange 0.1, ent_coef 0.001, gamma_ext
# 0.999 (its README), collect_random_statistics(128 * 50); ppo_agent.py: no advantage
# normalisation, vf_coef 1, max_grad_norm 0). Until issue 29 this was RND's PPO recipe.
PRESETS["rnd-atari"] = Preset(
    agent="ppo",
    recipe="rnd",
    description="RND paper's Atari PPO (Burda et al. 2018): lr 1e-4, entropy 1e-3, clip 0.1, "
    "gamma 0.999, no advantage normalisation or gradient clipping, 6,400 warm-up steps per env",
    run={"warmup_steps": 128 * 50},
    agent_overrides={
        "gamma": 0.999,
        "gae_lambda": 0.95,
        "norm_adv": False,
        "num_steps": 128,
        "lr": 1e-4,
        "anneal_lr": False,
        "clip_coef": 0.1,
        "ent_coef": 0.001,
        "update_epochs": 4,
        "num_minibatches": 4,
        "vf_coef": 1.0,
        "max_grad_norm": 0.0,
    },
)
# Disagreement's PPO (Pathak et al. 2019, sec. 5; pathak22/exploration-by-disagreement run.py:
# 128 steps per rollout, 3 epochs, 8 minibatches, clip 0.1, entropy 1e-3, lr 1e-4, gamma
# 0.99, lambda 0.95, advantages normalised). Until issue 29 this was its PPO recipe.
PRESETS["disagreement-atari"] = Preset(
    agent="ppo",
    recipe="disagreement",
    description="Disagreement paper's PPO (Pathak et al. 2019): lr 1e-4, entropy 1e-3, clip "
    "0.1, 3 epochs, 8 minibatches",
    agent_overrides={
        "num_steps": 128,
        "num_minibatches": 8,
        "update_epochs": 3,
        "clip_coef": 0.1,
        "ent_coef": 1e-3,
        "lr": 1e-4,
        "anneal_lr": False,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "norm_adv": True,
    },
)
# Disagreement with the extrinsic reward added (weights ext 1 / int 1): the suite's default
# before issue 29; the release learns from the intrinsic reward alone (run.py --ext_coeff 0).
PRESETS["disagreement-ext"] = Preset(
    agent="ppo",
    recipe="disagreement",
    description="Disagreement with the extrinsic reward added (ext_coef 1; the release: 0)",
    agent_overrides={"ext_coef": 1.0},
)
# NovelD's and RIDE's entropy costs (tianjunz/NovelD src/arguments.py --entropy_cost 0.001;
# facebookresearch/impact-driven-exploration README, MultiRoom-N7-S4 and KeyCorridorS3R3:
# entropy cost 0.0005). Their releases train IMPALA: no other PPO setting carries over.
PRESETS["noveld-minigrid"] = Preset(
    agent="ppo",
    recipe="noveld",
    description="NovelD release's entropy cost 0.001 (tianjunz/NovelD src/arguments.py)",
    agent_overrides={"ent_coef": 0.001},
)
PRESETS["ride-minigrid"] = Preset(
    agent="ppo",
    recipe="ride",
    description="RIDE release's entropy cost 0.0005 (impact-driven-exploration README)",
    agent_overrides={"ent_coef": 0.0005},
)
# Tang et al. 2017's TRPO (app. A; hrtang/hash_exploration bonus_trpo/launchers/exp-027.py,
# Table 1: step size 0.01, discount 0.99, CG 10 iterations, reg_coeff 1e-3, 15 backtracks x
# 0.8) with rllab's GAE lambda 1, centred advantages and value 0 at a path end; batch, horizon
# and reward clipping are per domain. Until issue 29 this was the count bonus's TRPO recipe.
TANG_TRPO: dict[str, Any] = {
    "gamma": 0.99,
    "gae_lambda": 1.0,
    "norm_adv": True,
    "max_kl": 0.01,
    "cg_iters": 10,
    "cg_damping": 1e-3,
    "backtrack_coef": 0.8,
    "max_backtracks": 15,
    "bootstrap_truncation": False,  # rllab scores the value at a path end 0
}
PRESETS["tang-trpo"] = Preset(
    agent="trpo",
    description="Tang et al. 2017's TRPO for the count bonus (hash_exploration exp-027.py)",
    agent_overrides=TANG_TRPO,
)
# AE-SimHash's Atari TRPO (the authors' sandbox, florensacc/rllab-curriculum
# sandbox/rein/.../launch_trpo_atari_img.py, TRPOPlusLSH arguments). Until issue 29 this was
# AE-SimHash's TRPO recipe.
PRESETS["ae-simhash-atari"] = Preset(
    agent="trpo",
    description="AE-SimHash's Atari TRPO (Tang et al. 2017 sandbox launch_trpo_atari_img.py)",
    run={"num_envs": 10},
    agent_overrides={
        "num_steps": 5000,
        "gamma": 0.995,
        "max_kl": 0.01,
        "cg_iters": 10,
        "cg_damping": 1e-5,
        "max_backtracks": 15,
        "backtrack_coef": 0.8,
        "reward_clip": 1.0,
    },
)
