"""Method recipes: applying a bonus's declared method settings, with provenance.

A bonus declares the settings that are part of its method wherever it runs next to its code
(``IntrinsicBonus.recipes``, a mapping agent name -> `bonuses.base.Recipe`, ``"*"`` for any
agent): the intrinsic value head and its discount, the extrinsic/intrinsic advantage weights
(`METHOD_AGENT_FIELDS`), the output shaping (normaliser, coefficient, clipping) and the
random-action warm-up (`METHOD_RUN_FIELDS`). The agent's optimiser settings (lr, entropy, clip
range, epochs, minibatches, advantage normalisation, gradient clipping; batch, networks and the
extrinsic discount likewise) are never part of a recipe (issue 29): a paper tuned them for its
domain, so they are the task family's, shared by every entry of a comparison, ``none``
included, and a paper's own agent settings are a named preset (``rnd-atari``; see
`explore_bench.settings.presets`). `explore_bench.settings.config.resolve` builds every section
of a run in this order, later layers winning::

    defaults  <-  base  <-  recipe (mode "paper"; nothing in mode "shared")  <-  preset  <-  user

where ``base`` is a matrix spec's ``[base]`` tables: the task family's agent settings every
entry shares.

`Provenance` records, per overridden field, every layer that set it, so config.json says
where each value came from. What is never silent, and how (one warning line, in the run's log
and in config.json, or an error before anything is written):

=====================================================  ==========================================
case                                                   outcome
=====================================================  ==========================================
a preset or user value replaces a recipe value         warning (the later layer still wins)
a non-episodic bonus on an agent with one value head   warning (its return then stops at episode
                                                       ends; ``agent.two_value_heads=true``)
the bonus has recipes, none for this agent (no "*")    warning (agent defaults are used)
a ``"*"`` recipe field the agent's config lacks        warning (that field is skipped)
``run.warmup_steps`` for a bonus without ``warm_up``   warning (the random steps only cost budget)
a recipe's warm-up over `MAX_WARMUP_SHARE` of budget   warning (cut to that share)
a recipe for this very agent names an unknown field    error (the declaration is wrong)
a recipe sets an agent setting (lr, entropy, ...)      error (it belongs in a named preset)
a recipe's ``run`` sets agent, bonus, task, seed, ...  error (a recipe cannot choose the cell)
=====================================================  ==========================================
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

#: "paper": each bonus with its paper recipe; "shared": identical agent settings for all.
MODES = ("paper", "shared")
#: Run settings that identify a cell: set by the user or the spec, never by a recipe.
CELL_FIELDS = ("agent", "bonus", "task", "seed", "steps", "preset", "recipe")
#: Agent fields that are part of a method wherever it runs: the intrinsic value head, its
#: discount, the two advantages' weights, the clipping of the total reward and where the
#: intrinsic reward enters (DESIGN.md, "Data flow"). Every other agent field
#: is an agent setting: the task family's, shared by every entry of a comparison.
METHOD_AGENT_FIELDS = (
    "two_value_heads",
    "int_gamma",
    "ext_coef",
    "int_coef",
    "total_reward_clip",
    "int_enters",
)
#: Run settings a recipe may set: the bonus's random-action warm-up (counted in the budget).
METHOD_RUN_FIELDS = ("warmup_steps",)
#: Largest share of a run's budget a recipe's warm-up may take; beyond it the warm-up is cut
#: to this share, with a warning. Releases warm up for a negligible share of their budgets
#: (RND: 6,400 random steps per env of 2B frames); at the suite's 10^5-step budgets the same
#: count would be most of the run, a handicap the release never had.
MAX_WARMUP_SHARE = 0.1


class RecipeError(ValueError):
    """A recipe declaration that cannot be applied (raised as a ConfigError by resolve)."""


def jsonable(value: Any) -> Any:
    """``value`` as config.json stores it (a JSON round trip; other objects as strings)."""
    return json.loads(json.dumps(value, default=str))


def select(recipes: Mapping[str, Any], agent: str) -> tuple[str, Any] | None:
    """The recipe for ``agent`` (its own, else ``"*"``) as (key, recipe), or None."""
    if agent in recipes:
        return agent, recipes[agent]
    if "*" in recipes:
        return "*", recipes["*"]
    return None


def describe(recipe: Any) -> str:
    """One line of a recipe's overrides, ``section.field=value`` (or that it has none)."""
    parts = [
        f"{section}.{key}={value!r}"
        for section in ("run", "agent", "shaping")
        for key, value in getattr(recipe, section).items()
    ]
    return ", ".join(parts) if parts else "none"


@dataclasses.dataclass
class Provenance:
    """The recipe mode of one run, every overridden field with its sources, and warnings."""

    mode: str
    bonus: str
    #: Key of the recipe applied ("ppo", "*"), or "" when none was.
    applied: str = ""
    #: The applied recipe's source (paper section or released-code file).
    source: str = ""
    #: "section.field" -> [{"from": base|recipe|preset|user, "value": ...}, ...] in layer order.
    fields: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def note(self, section: str, key: str, value: Any, source: str, layer: str) -> None:
        """Record that ``layer`` (of kind ``source``) set section.key to ``value``."""
        value = jsonable(value)
        chain = self.fields.setdefault(f"{section}.{key}", [])
        recipe_values = [c["value"] for c in chain if c["from"] == "recipe"]
        if source in ("preset", "user") and recipe_values and recipe_values[-1] != value:
            self.warn(
                f"{layer} sets {section}.{key}={value!r}, replacing {recipe_values[-1]!r} "
                f"from {self.bonus}'s paper recipe"
            )
        chain.append({"from": source, "value": value})

    def summary(self) -> str:
        """One line for listings: the mode, the recipe applied and what it set."""
        if self.mode == "shared":
            return "recipe shared (no paper recipe applied)"
        if not self.applied:
            return f"recipe paper: none applied ({self.source})"
        parts = []
        for key, chain in self.fields.items():
            set_by_recipe = [c["value"] for c in chain if c["from"] == "recipe"]
            if not set_by_recipe:
                continue
            last = chain[-1]
            part = f"{key}={last['value']!r}"
            if last["from"] != "recipe" and last["value"] != set_by_recipe[-1]:
                part += f" ({last['from']}; recipe {set_by_recipe[-1]!r})"
            parts.append(part)
        body = ", ".join(parts) if parts else f"no overrides ({self.source})"
        return f"recipe paper [{self.bonus}/{self.applied}]: {body}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "bonus": self.bonus,
            "applied": self.applied,
            "source": self.source,
            "overrides": self.fields,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        return cls(
            mode=str(data.get("mode", "")),
            bonus=str(data.get("bonus", "")),
            applied=str(data.get("applied", "")),
            source=str(data.get("source", "")),
            fields={k: list(v) for k, v in dict(data.get("overrides", {})).items()},
            warnings=list(data.get("warnings", [])),
        )


def recipe_layers(
    bonus_cls: Any,
    bonus: str,
    agent: str,
    agent_fields: set[str],
    mode: str,
) -> tuple[Provenance, dict[str, dict[str, Any]]]:
    """The recipe layer (section -> overrides) for ``bonus`` under ``agent`` in ``mode``.

    ``agent_fields`` are the field names of the agent's config: a ``"*"`` recipe's field the
    agent lacks is skipped with a warning; one in a recipe written for this agent is an error.
    """
    if mode not in MODES:
        raise RecipeError(f"run.recipe must be one of {', '.join(MODES)}, got {mode!r}")
    prov = Provenance(mode=mode, bonus=bonus)
    empty: dict[str, dict[str, Any]] = {"run": {}, "agent": {}, "shaping": {}}
    recipes = getattr(bonus_cls, "recipes", {}) or {}
    if mode == "shared":
        return prov, empty
    chosen = select(recipes, agent)
    if chosen is None:
        prov.source = f"{bonus} declares no recipe" + (f" for {agent}" if recipes else "")
        if recipes:
            prov.warn(
                f"{bonus} declares paper recipes for {', '.join(sorted(recipes))} only; "
                f"agent {agent} runs with its own defaults"
            )
        return prov, empty
    key, recipe = chosen
    prov.applied, prov.source = key, recipe.source
    bad = [k for k in recipe.run if k in CELL_FIELDS]
    if bad:
        raise RecipeError(
            f"{bonus}'s paper recipe for {key} sets run.{bad[0]}, which only the user or the "
            f"spec may set ({', '.join(CELL_FIELDS)})"
        )
    not_method = [k for k in recipe.run if k not in METHOD_RUN_FIELDS]
    if not_method:
        raise RecipeError(
            f"{bonus}'s recipe for {key} sets run.{not_method[0]}, which is not part of a "
            f"method (a recipe may set run.{', run.'.join(METHOD_RUN_FIELDS)}); declare a "
            "paper's run settings as a named preset (explore_bench.settings.presets)"
        )
    agent_over = dict(recipe.agent)
    missing = sorted(k for k in agent_over if k not in agent_fields)
    if missing and key != "*":
        raise RecipeError(
            f"{bonus}'s paper recipe for {key} sets agent.{missing[0]}, which is not a field "
            f"of {agent}'s config; valid fields: {', '.join(sorted(agent_fields))}"
        )
    agent_settings = [k for k in recipe.agent if k not in METHOD_AGENT_FIELDS]
    if agent_settings:
        raise RecipeError(
            f"{bonus}'s recipe for {key} sets agent.{agent_settings[0]}, an agent setting "
            "(the task family's, shared by every entry of a comparison, none included); a "
            f"recipe sets only agent.{', agent.'.join(METHOD_AGENT_FIELDS)}. Declare a "
            "paper's agent settings as a named preset (explore_bench.settings.presets)"
        )
    if missing:
        prov.warn(
            f"{bonus}'s paper recipe sets {', '.join('agent.' + k for k in missing)}, which "
            f"agent {agent} does not have; skipped"
        )
        agent_over = {k: v for k, v in agent_over.items() if k not in missing}
    return prov, {"run": dict(recipe.run), "agent": agent_over, "shaping": dict(recipe.shaping)}


def cap_warmup(
    prov: Provenance, run: Mapping[str, Any], steps: int, num_envs: int, bonus: str = ""
) -> dict[str, Any]:
    """A recipe's run layer with its warm-up cut to `MAX_WARMUP_SHARE` of the budget, warned
    (``bonus``: whose recipe it is, when not the run's own bonus's)."""
    out = dict(run)
    value = out.get("warmup_steps")
    most = int(steps * MAX_WARMUP_SHARE) // max(num_envs, 1)
    if isinstance(value, int) and value > most:
        prov.warn(
            f"{bonus or prov.bonus}'s recipe warms up for {value} random steps per env (as "
            f"released); cut to {most} per env, {MAX_WARMUP_SHARE:.0%} of run.steps={steps} with "
            f"{num_envs} envs"
        )
        out["warmup_steps"] = most
    return out


def check_episodic(prov: Provenance, bonus_cls: Any, bonus: str, agent_cfg: Any) -> None:
    """Warn when a non-episodic bonus meets one value head (its return stops at episode ends)."""
    if getattr(bonus_cls, "episodic", True) or getattr(agent_cfg, "two_value_heads", False):
        return
    prov.warn(
        f"{bonus} is non-episodic (its intrinsic return should run across episode ends), but "
        "the agent has one value head, so the return stops at episode ends; set "
        "agent.two_value_heads=true (recipe 'paper' does for bonuses that need it)"
    )
