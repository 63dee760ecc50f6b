"""Sweeps as variants: named sets of overrides that are their own cells, directories and
leaderboard entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from explore_bench.matrices import spec as specs
from explore_bench.settings.config import ConfigError

BASE: dict[str, Any] = {
    "name": "v",
    "agents": ["ppo"],
    "bonuses": ["none"],
    "tasks": ["explore_bench/DeepSea20-v0"],
    "seeds": 2,
    "steps": 512,
    "num_envs": 2,
    "shaping": {"coef": 0.7, "count": {"normalizer": "none"}},
    "variants": {
        "count-coef0.3": {"bonus": "count", "shaping.coef": 0.3},
        "count-b": {"bonus": "count", "bonus.beta": 0.5, "agent.lr": 1e-3},
    },
}


def test_two_variants_are_two_sets_of_cells_with_their_overrides():
    m = specs.plan(BASE, Path("res"), "v.toml")
    configs = specs.resolve_cells(m)
    entries = [c.entry for c in m.cells]
    assert entries == ["none"] * 2 + ["count-coef0.3"] * 2 + ["count-b"] * 2
    by_entry = {c.entry: (c, cfg) for c, cfg in zip(m.cells, configs, strict=True)}
    cell, cfg = by_entry["count-coef0.3"]
    assert cell.run_dir == Path("res/explore_bench__DeepSea20-v0/ppo/count-coef0.3/seed1")
    assert cfg.run.bonus == "count" and cfg.shaping.coef == 0.3  # the variant's own value wins
    assert cfg.shaping.normalizer == "none"  # [shaping.count] still applies to count's variants
    assert cfg.variant == {
        "name": "count-coef0.3",
        "bonus": "count",
        "overrides": {"shaping.coef": 0.3},
    }
    cell, cfg = by_entry["count-b"]
    assert cfg.bonus.beta == 0.5 and cfg.agent.lr == 1e-3 and cfg.shaping.coef == 0.7
    _, cfg = by_entry["none"]
    assert cfg.variant == {} and "variant" not in cfg.to_dict()
    assert cfg.shaping.coef == 0.7
    assert len({c.run_dir for c in m.cells}) == 6


def test_a_grid_expands_into_one_variant_per_point():
    data = {
        **BASE,
        "variants": {"count-coef": {"bonus": "count", "grid": {"shaping.coef": [0.1, 1.0]}}},
    }
    m = specs.plan(data, Path("res"), "v.toml")
    assert sorted({c.entry for c in m.cells}) == ["count-coef0.1", "count-coef1", "none"]
    two = {
        **BASE,
        "variants": {
            "c": {"bonus": "count", "grid": {"shaping.coef": [0.1, 1.0], "bonus.beta": [0.5]}}
        },
    }
    names = sorted({c.entry for c in specs.plan(two, Path("r"), "v.toml").cells})
    assert names == ["c-coef0.1-beta0.5", "c-coef1-beta0.5", "none"]


@pytest.mark.parametrize(
    "variants, message",
    [
        ({"x": {"shaping.coef": 0.3}}, "must be a table with a bonus"),
        ({"x": {"bonus": "count", "coef": 0.3}}, "is not section.field"),
        ({"x": {"bonus": "count", "run.seed": 3}}, "cannot change it"),
        ({"none": {"bonus": "count"}}, "also in bonuses"),
        ({"a/b": {"bonus": "count"}}, "becomes a directory name"),
        ({"x": {"bonus": "cnt"}}, "unknown bonus 'cnt'"),
        ({"x": {"bonus": "count", "grid": {"shaping.coef": []}}}, "non-empty lists"),
    ],
)
def test_bad_variants_fail_with_the_reason(variants, message):
    with pytest.raises(ConfigError, match=message):
        specs.plan({**BASE, "variants": variants}, Path("r"), "v.toml")


def test_a_bad_override_value_fails_before_any_run():
    data = {**BASE, "variants": {"x": {"bonus": "count", "shaping.coef": "lots"}}}
    with pytest.raises(ConfigError, match=r"cell .* x seed0"):
        specs.resolve_cells(specs.plan(data, Path("r"), "v.toml"))


def test_a_variant_can_run_on_some_tasks_with_its_own_budget():
    data = {
        **BASE,
        "tasks": ["explore_bench/DeepSea20-v0", "CartPole-v1"],
        "variants": {
            "count-long": {
                "bonus": "count",
                "tasks": ["explore_bench/DeepSea20-v0"],
                "run.steps": 4096,
            }
        },
    }
    m = specs.plan(data, Path("r"), "v.toml")
    long = [c for c in m.cells if c.entry == "count-long"]
    assert {c.task for c in long} == {"explore_bench/DeepSea20-v0"} and len(long) == 2
    configs = specs.resolve_cells(m)
    steps = {(c.entry, c.task): cfg.run.steps for c, cfg in zip(m.cells, configs, strict=True)}
    assert steps[("count-long", "explore_bench/DeepSea20-v0")] == 4096
    assert steps[("none", "explore_bench/DeepSea20-v0")] == 512
    two_agents = {**data, "agents": ["ppo", "trpo"]}
    two_agents["variants"] = {"x": {"bonus": "count", "agents": ["trpo"]}}
    cells = [c for c in specs.plan(two_agents, Path("r"), "v").cells if c.entry == "x"]
    assert {c.agent for c in cells} == {"trpo"} and len(cells) == 4
    with pytest.raises(ConfigError, match="must list tasks of the matrix"):
        specs.plan(
            {**data, "variants": {"x": {"bonus": "count", "tasks": ["Nope-v0"]}}}, Path("r"), "v"
        )
