"""Test plugins that declare paper recipes the way a third-party bonus would."""

from __future__ import annotations

from const_bonus import ConstantBonus

from bonuses.base import Recipe


class RecipeBonus(ConstantBonus):
    """A constant bonus with a PPO recipe and a generic one."""

    recipes = {
        "ppo": Recipe(source="test: ppo", agent={"ent_coef": 0.01}, shaping={"coef": 0.5}),
        # clip_coef is PPO's: TRPO lacks it, so under TRPO it is skipped with a warning.
        "*": Recipe(source="test: any", agent={"gamma": 0.98, "clip_coef": 0.3}),
    }


class UnknownFieldRecipe(ConstantBonus):
    """A recipe written for PPO that names a field PPO does not have."""

    recipes = {"ppo": Recipe(source="test", agent={"no_such_field": 1})}


class CellRecipe(ConstantBonus):
    """A recipe that tries to choose the cell's seed."""

    recipes = {"*": Recipe(source="test", run={"seed": 3})}
