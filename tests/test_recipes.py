"""Paper recipes: resolution order, provenance in config.json, the two modes, warnings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from explore_bench import cli
from explore_bench.matrices import spec as specs
from explore_bench.runs.runner import run as run_cell
from explore_bench.settings.config import ConfigError, resolve

DEEPSEA = "explore_bench/DeepSea20-v0"
RND_SPEC: dict[str, Any] = {
    "name": "r",
    "agents": ["ppo"],
    "bonuses": ["rnd", "none"],
    "tasks": [DEEPSEA],
    "seeds": 1,
    "steps": 512,
    "num_envs": 2,
}


def cells(spec: dict[str, Any], out: Path) -> list[Any]:
    matrix = specs.plan(spec, out, "r.toml")
    return list(zip(matrix.cells, specs.resolve_cells(matrix), strict=True))


@pytest.mark.parametrize("mode", ["paper", "shared"])
def test_rnd_cell_without_preset_gets_its_recipe_in_config_json(mode: str, tmp_path: Path) -> None:
    spec = {**RND_SPEC, "recipe": mode, "run": {"eval_episodes": 0}, "agent": {}}
    cell, resolved = next((c, r) for c, r in cells(spec, tmp_path) if c.bonus == "rnd")
    run_cell(resolved, cell.run_dir, progress=False)
    config = json.loads((cell.run_dir / "config.json").read_text())
    agent, shaping, record = config["agent"], config["shaping"], config["recipe"]
    assert config["run"]["recipe"] == record["mode"] == mode
    paper = mode == "paper"
    assert agent["two_value_heads"] is paper
    assert (agent["ext_coef"], agent["int_gamma"]) == ((2.0, 0.99) if paper else (1.0, 0.99))
    assert agent["gamma"] == 0.99 and agent["lr"] == 3e-4  # agent settings: never the recipe's
    assert (shaping["normalizer"] == "return_rms") is paper  # "" = the bonus's default
    assert ("agent.ext_coef" in record["overrides"]) is paper
    # the release's 6,400 random-action steps per env are cut to a tenth of the 512-step
    # budget, 25 per env (2 envs), which come out of the budget
    first = (cell.run_dir / "metrics.csv").read_text().splitlines()[1].split(",")[0]
    assert int(first) == (2 * 25 if paper else 0) + 2 * 128
    if paper:
        assert record["overrides"]["agent.ext_coef"] == [{"from": "recipe", "value": 2.0}]
        assert record["applied"] == "*" and "Burda" in record["source"]
        assert record["warnings"] == [
            "rnd's recipe warms up for 6400 random steps per env (as released); cut to 25 per "
            "env, 10% of run.steps=512 with 2 envs"
        ]
    else:  # one head: RND's non-episodic return is cut at episode ends, and said so
        assert len(record["warnings"]) == 1 and "non-episodic" in record["warnings"][0]


def test_resolution_order_recipe_then_preset_then_user_with_sources() -> None:
    r = resolve(
        {"agent": "trpo", "bonus": "rnd", "task": "Pendulum-v1", "preset": "emi-mujoco"},
        {"agent": {"int_gamma": "0.95"}},
    )
    fields = r.recipe.fields
    assert r.agent.gamma == 0.995  # the preset's agent setting; RND's recipe sets no gamma
    assert [c["from"] for c in fields["agent.gamma"]] == ["preset"]
    assert r.agent.int_gamma == 0.95 and fields["agent.int_gamma"][-1]["from"] == "user"
    assert [c["from"] for c in fields["agent.int_gamma"]] == ["recipe", "user"]
    assert r.agent.two_value_heads and fields["agent.two_value_heads"][0]["from"] == "recipe"
    assert fields["agent.num_steps"] == [{"from": "preset", "value": 5000}]
    warned = " ".join(r.recipe.warnings)
    assert "agent.int_gamma=0.95, replacing 0.99" in warned
    assert "replacing 0.999" not in warned


def test_a_preset_named_as_a_run_setting_is_applied() -> None:
    # --set run.preset=... and a spec's run settings name it there, not as the named option
    r = resolve(
        {"agent": "trpo", "bonus": "none", "task": "Pendulum-v1"}, {"run": {"preset": "emi-mujoco"}}
    )
    assert r.run.preset == "emi-mujoco"
    assert r.agent.num_steps == 5000 and r.agent.gamma == 0.995  # the preset's values
    assert r.recipe.fields["agent.num_steps"] == [{"from": "preset", "value": 5000}]


def test_user_values_win_over_the_recipe_with_one_warning_each() -> None:
    r = resolve(
        {"agent": "ppo", "bonus": "rnd", "task": "CartPole-v1"},
        {"agent": {"ext_coef": "1", "int_coef": "1.0"}, "shaping": {"coef": "2"}},
    )
    assert r.agent.ext_coef == 1.0 and r.shaping.coef == 2.0
    # int_coef equals the recipe's value and coef is not a recipe field: no warning for them
    replaced = [w for w in r.recipe.warnings if "replacing" in w]
    assert len(replaced) == 1 and "agent.ext_coef=1.0, replacing 2.0" in replaced[0]


def test_a_spec_base_layer_sets_every_entrys_agent_and_yields_to_the_method_only(
    tmp_path: Path,
) -> None:
    """Issue 29: the agent's optimiser settings are the task family's, so RND (whose release
    used lr 1e-4, entropy 1e-3) trains with the base's lr and entropy exactly as `none` does;
    only a method field (the intrinsic advantage's weight) yields to the recipe."""
    agent = {"lr": 1e-3, "ent_coef": 0.01, "ext_coef": 1.5}
    base = {"agent": {"ppo": agent}, "shaping": {"coef": 0.7}}
    got = {c.bonus: r for c, r in cells({**RND_SPEC, "base": base}, tmp_path)}
    rnd, none = got["rnd"], got["none"]
    assert (none.agent.lr, none.agent.ent_coef, none.shaping.coef) == (1e-3, 0.01, 0.7)
    assert (rnd.agent.lr, rnd.agent.ent_coef) == (1e-3, 0.01)  # the base's, as none's
    assert (rnd.agent.clip_coef, rnd.agent.norm_adv, rnd.agent.max_grad_norm) == (
        none.agent.clip_coef,
        none.agent.norm_adv,
        none.agent.max_grad_norm,
    )
    assert rnd.recipe.fields["agent.lr"] == [{"from": "base", "value": 1e-3}]
    assert (rnd.agent.ext_coef, none.agent.ext_coef) == (2.0, 1.5)  # RND's method wins
    assert not [w for w in rnd.recipe.warnings if "replacing" in w]
    # the same values as [agent.ppo] are the user's: they replace the method's, with a warning
    top = {c.bonus: r for c, r in cells({**RND_SPEC, "agent": base["agent"]}, tmp_path)}
    assert top["rnd"].agent.ext_coef == 1.5
    assert any("agent.ext_coef=1.5, replacing 2.0" in w for w in top["rnd"].recipe.warnings)


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ({"run": {"steps": 5}}, "[base.run]: a base layer holds only"),
        ({"agent": {"trpo": {"lr": 1.0}}}, "[base]: [agent.trpo] names a agent"),
        ({"shaping": {"rnd": {"coef": 1.0}}}, "[base.shaping.rnd]: per-bonus shaping"),
        ({"agent": {"ppo": {"lr": "x"}}}, "agent.lr"),
    ],
)
def test_a_bad_base_layer_is_refused(base: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        cells({**RND_SPEC, "base": base}, tmp_path)
    assert message in str(err.value)
    assert not any(tmp_path.iterdir())


def test_a_third_party_recipe_applies_per_agent() -> None:
    ppo = resolve({"agent": "ppo", "bonus": "recipe_bonus:RecipeBonus", "task": "CartPole-v1"})
    assert ppo.agent.int_coef == 0.25 and ppo.shaping.coef == 0.5 and ppo.agent.int_gamma == 0.99
    assert ppo.recipe.applied == "ppo" and ppo.recipe.warnings == []
    trpo = resolve({"agent": "trpo", "bonus": "recipe_bonus:RecipeBonus", "task": "CartPole-v1"})
    assert trpo.recipe.applied == "*" and trpo.agent.int_gamma == 0.98
    assert trpo.recipe.warnings == []


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        ("UnknownFieldRecipe", "sets agent.no_such_field, which is not a field of ppo's config"),
        ("CellRecipe", "sets run.seed, which only the user or the spec may set"),
        ("AgentSettingRecipe", "sets agent.lr, an agent setting .* named preset"),
        ("RunSettingRecipe", "sets run.num_envs, which is not part of a method"),
    ],
)
def test_a_recipe_that_cannot_apply_is_an_error(cls: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve({"agent": "ppo", "bonus": f"recipe_bonus:{cls}", "task": "CartPole-v1"})


def test_a_bonus_with_recipes_for_other_agents_only_warns() -> None:
    r = resolve(
        {"agent": "trpo", "bonus": "recipe_bonus:UnknownFieldRecipe", "task": "CartPole-v1"}
    )
    assert r.recipe.applied == ""
    assert r.recipe.warnings == [
        "recipe_bonus:UnknownFieldRecipe declares paper recipes for ppo only; agent trpo runs "
        "with its own defaults"
    ]


def test_spec_recipe_modes_globally_and_per_bonus(tmp_path: Path) -> None:
    both = cells({**RND_SPEC, "recipe": {"*": "shared", "rnd": "paper"}}, tmp_path)
    modes = {c.bonus: r.run.recipe for c, r in both}
    assert modes == {"rnd": "paper", "none": "shared"}
    with pytest.raises(ConfigError, match="recipe must be one of 'paper', 'shared', got 'own'"):
        specs.plan({**RND_SPEC, "recipe": "own"}, tmp_path, "r.toml")
    with pytest.raises(ConfigError, match=r"\[recipe\] icm names a bonus that is not in"):
        specs.plan({**RND_SPEC, "recipe": {"icm": "paper"}}, tmp_path, "r.toml")
    with pytest.raises(ConfigError, match=r"\[run\] recipe is set by the spec's top-level keys"):
        specs.plan({**RND_SPEC, "run": {"recipe": "shared"}}, tmp_path, "r.toml")


def test_cli_run_recipe_flag_list_and_dry_run_show_recipes(tmp_path: Path, capsys) -> None:
    parsed = cli.build_parser().parse_args(["run", "--recipe", "shared"])
    assert parsed.recipe == "shared"
    assert cli.main(["list", "--bonuses"]) == 0
    out = capsys.readouterr().out
    assert "recipe for any other agent: run.warmup_steps=6400, agent.two_value_heads=True" in out
    assert "recipe for any other agent: none  [none: Pathak et al. 2017" in out
    assert "recipe: none declared" in out  # the `none` bonus
    path = tmp_path / "t.toml"
    path.write_text(
        f'agents = ["ppo"]\nbonuses = ["rnd", "icm"]\ntasks = ["{DEEPSEA}"]\nsteps = 4096\n'
        '[recipe]\nicm = "shared"\n'
    )
    assert cli.main(["matrix", str(path), "--out", str(tmp_path / "res"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "recipe paper [rnd/*]: run.warmup_steps=51, agent.two_value_heads=True" in out
    assert "recipe shared (no paper recipe applied)" in out
    assert not (tmp_path / "res").exists()


def test_the_report_refuses_an_entry_that_mixes_recipe_modes(tmp_path: Path) -> None:
    from _report_runs import CARTPOLE, write_run

    from explore_bench.reports.load import ReportError, load_results

    for seed, mode in enumerate(["paper", "paper", "shared"]):
        write_run(
            tmp_path, "CartPole-v1", "ppo", "rnd", seed, card=CARTPOLE, evals=[1, 2], recipe=mode
        )
    write_run(
        tmp_path, "CartPole-v1", "ppo", "none", 0, card=CARTPOLE, evals=[1, 2], recipe="shared"
    )
    with pytest.raises(ReportError) as info:
        load_results(tmp_path)
    message = str(info.value)
    assert "entry ppo/rnd mixes runs of recipe modes paper and shared" in message
    assert "paper: 2 runs" in message and "shared: 1 runs" in message
    shutil.rmtree(tmp_path / "m" / "CartPole-v1" / "ppo" / "rnd" / "seed2")
    tables = load_results(tmp_path)  # one mode per entry; entries may differ
    assert tables.modes == {("ppo", "none"): "shared", ("ppo", "rnd"): "paper"}


@pytest.mark.filterwarnings("ignore:no normalisation constants")
def test_the_report_states_the_recipe_mode_above_every_table(tmp_path: Path) -> None:
    from _report_runs import CARTPOLE, write_run

    from explore_bench.reports.build import main_report

    for bonus, mode in (("rnd", "paper"), ("none", "shared")):
        for seed in range(2):
            write_run(
                tmp_path,
                "CartPole-v1",
                "ppo",
                bonus,
                seed,
                card=CARTPOLE,
                evals=[1, 2],
                recipe=mode,
            )
    summary = main_report(tmp_path, reps=200, profile_reps=50, formats=("md", "csv"))
    text = (summary.out_dir / "leaderboard.md").read_text()
    line = "Recipe modes: **paper** for ppo/rnd; **shared** for ppo/none"
    tables = text.count("\n|---") or text.count("|---|")
    assert tables >= 3 and text.count(line) == tables
    lines = text.splitlines()
    for i, row in enumerate(lines):  # the line right above each table's header
        if row.startswith("|") and (i == 0 or not lines[i - 1].startswith("|")):
            above = next(x for x in reversed(lines[:i]) if x.strip())
            assert above.startswith(line), (row, above)
    assert dict(zip(summary.table["bonus"], summary.table["recipe"], strict=True)) == {
        "none": "shared",
        "rnd": "paper",
    }
