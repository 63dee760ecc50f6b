"""Test plugins that declare paper recipes the way a third-party bonus would."""

from __future__ import annotations

from const_bonus import ConstantBonus

from bonuses.base import Recipe


class RecipeBonus(ConstantBonus):
    """A constant bonus with a PPO recipe and a generic one."""

    recipes = {
        "ppo": Recipe(source="test: ppo", agent={"int_coef": 0.25}, shaping={"coef": 0.5}),
        "*": Recipe(source="test: any", agent={"int_gamma": 0.98}),
    }


class UnknownFieldRecipe(ConstantBonus):
    """A recipe written for PPO that names a field PPO does not have."""

    recipes = {"ppo": Recipe(source="test", agent={"no_such_field": 1})}


class CellRecipe(ConstantBonus):
    """A recipe that tries to choose the cell's seed."""

    recipes = {"*": Recipe(source="test", run={"seed": 3})}


class AgentSettingRecipe(ConstantBonus):
    """A recipe that sets an optimiser setting, which belongs to the agent (issue 29)."""

    recipes = {"*": Recipe(source="test", agent={"lr": 1e-4})}


class RunSettingRecipe(ConstantBonus):
    """A recipe that sets the number of envs, a run setting that is not part of a method."""

    recipes = {"*": Recipe(source="test", run={"num_envs": 10})}
