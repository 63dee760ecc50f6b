"""Fair comparisons (issue 29): every entry of a matrix trains under the same agent settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from explore_bench import cli
from explore_bench.matrices import spec as specs
from explore_bench.settings.config import ConfigError
from explore_bench.settings.fairness import agent_setting_differences, fairness_lines

DEEPSEA = "explore_bench/DeepSea20-v0"
SPEC: dict[str, Any] = {
    "name": "f",
    "agents": ["ppo"],
    "bonuses": ["none", "rnd", "disagreement", "noveld", "ride"],
    "tasks": [DEEPSEA],
    "seeds": 1,
    "steps": 4096,
    "num_envs": 2,
    "base": {"agent": {"ppo": {"lr": 1e-3, "anneal_lr": False, "ent_coef": 0.01}}},
}


def _resolved(spec: dict[str, Any], out: Path) -> tuple[specs.Matrix, list[Any]]:
    matrix = specs.plan(spec, out, "f.toml")
    return matrix, specs.resolve_cells(matrix)


@pytest.mark.parametrize("name", specs.shipped_specs())
def test_every_shipped_matrix_trains_its_entries_under_identical_agent_settings(
    name: str,
) -> None:
    path = specs.find_spec(name)
    matrix = specs.plan(specs.load_spec(path), Path("r"), str(path))
    cells = matrix.cells
    if name == "paper-atari":  # resolving all 60 Atari envs is slow: one task says as much
        cells = tuple(c for c in cells if c.task == cells[0].task)
    configs = specs.resolve_cells(dataclasses.replace(matrix, cells=cells))
    diffs = agent_setting_differences([c.entry for c in cells], configs)
    if matrix.agent_settings == "per-entry":  # the spec says otherwise: then it is stated
        assert fairness_lines(matrix.agent_settings, [c.entry for c in cells], configs)
    else:
        assert diffs == []


def test_rnd_trains_with_the_task_familys_optimiser_like_none(tmp_path: Path) -> None:
    """The confound of issue 29: RND and Disagreement ran with their releases' lr 1e-4,
    entropy 1e-3, clip 0.1 (and RND without gradient clipping or advantage normalisation)
    where `none` ran with the spec's lr 1e-3 and entropy 0.01."""
    matrix, configs = _resolved(SPEC, tmp_path)
    agents = {c.entry: r.agent for c, r in zip(matrix.cells, configs, strict=True)}
    optimiser = ("lr", "ent_coef", "clip_coef", "update_epochs", "num_minibatches", "norm_adv")
    for entry, agent in agents.items():
        for field in (*optimiser, "max_grad_norm", "gamma", "num_steps"):
            assert getattr(agent, field) == getattr(agents["none"], field), (entry, field)
    assert agents["rnd"].lr == 1e-3 and agents["rnd"].two_value_heads  # method kept
    assert agent_setting_differences([c.entry for c in matrix.cells], configs) == []


def test_a_paper_preset_on_one_entry_is_warned_and_per_entry_makes_it_a_note(
    tmp_path: Path,
) -> None:
    spec = {**SPEC, "variants": {"rnd-atari": {"bonus": "rnd", "run.preset": "rnd-atari"}}}
    spec["steps"] = 200_000  # room for the release's 6,400 warm-up steps per env
    matrix, configs = _resolved(spec, tmp_path)
    lines = fairness_lines(matrix.agent_settings, [c.entry for c in matrix.cells], configs)
    assert lines[0].startswith("warning: entries of this matrix train under different agent")
    assert len(lines) == 2
    assert "ppo entry rnd-atari trains under other agent settings than none" in lines[1]
    assert "agent.lr=0.0001 (none: 0.001)" in lines[1] and "agent.ent_coef=0.001" in lines[1]
    matrix, configs = _resolved({**spec, "agent_settings": "per-entry"}, tmp_path)
    lines = fairness_lines(matrix.agent_settings, [c.entry for c in matrix.cells], configs)
    assert lines[0].startswith("note: the spec runs its entries under different agent settings")
    with pytest.raises(ConfigError, match="agent_settings must be one of 'shared', 'per-entry'"):
        specs.plan({**SPEC, "agent_settings": "mixed"}, tmp_path, "f.toml")


def test_dry_run_prints_the_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.toml"
    path.write_text(
        f'agents = ["ppo"]\nbonuses = ["none", "rnd"]\ntasks = ["{DEEPSEA}"]\nsteps = 4096\n'
        '[agent.ppo]\nlr = 1e-3\n[variants]\nnone-slow = { bonus = "none", "agent.lr" = 1e-4 }\n'
    )
    assert cli.main(["matrix", str(path), "--out", str(tmp_path / "res"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "warning: entries of this matrix train under different agent settings" in out
    assert "ppo entry none-slow trains under other agent settings than none" in out
    assert "agent.lr=0.0001 (none: 0.001)" in out
    assert not (tmp_path / "res").exists()


def test_committed_runs_keep_loading_as_what_they_ran() -> None:
    """Fields added by issue 29 read, from an older config.json, as the values those runs
    were made with: RE3 scored s_{t+1}, NGU reset d_m^2 per episode; `none` is unchanged."""
    import json

    from explore_bench.settings.config import ResolvedRun, config_differences, resolve

    root = (
        Path(__file__).resolve().parents[1]
        / "results/evidence-first-run/explore_bench__DeepSea20-v0/ppo"
    )
    old = {
        b: json.loads((root / b / "seed0/config.json").read_text()) for b in ("re3", "ngu", "none")
    }
    assert "state" not in old["re3"]["bonus"]
    assert ResolvedRun.from_dict(old["re3"], "cpu").bonus.state == "next_obs"
    assert ResolvedRun.from_dict(old["ngu"], "cpu").bonus.distance_mean == "episode"
    assert ResolvedRun.from_dict(old["none"], "cpu").agent.int_enters == "reward"
    base = {"agent": {"lr": 1e-3, "anneal_lr": False, "ent_coef": 0.01}}  # evidence.toml's
    new = resolve({**old["none"]["run"], "device": "cpu"}, base=base)
    assert config_differences(old["none"], new) == []  # not "run with other settings"


def _tree(root: Path, rnd_lr: float) -> None:
    from _report_runs import CARTPOLE, write_run

    for bonus, lr in (("none", 1e-3), ("rnd", rnd_lr)):
        for seed in range(3):
            write_run(
                root,
                "CartPole-v1",
                "ppo",
                bonus,
                seed,
                card=CARTPOLE,
                evals=[10.0, 20.0],
                agent_config={"lr": lr, "ent_coef": 0.01, "int_gamma": 0.99},
            )


@pytest.mark.parametrize("rnd_lr", [1e-4, 1e-3])
def test_a_report_states_when_entries_train_under_different_agent_settings(
    tmp_path: Path, rnd_lr: float
) -> None:
    """The report reads the agent settings from config.json: a difference is a warning (in
    the summary and leaderboard.md), the method fields (int_gamma) are not compared."""
    from explore_bench.reports.build import main_report

    _tree(tmp_path / "res", rnd_lr)
    summary = main_report(
        tmp_path / "res", tmp_path / "out", reps=50, profile_reps=20, formats=("csv", "md")
    )
    page = (tmp_path / "out" / "leaderboard.md").read_text()
    said = [w for w in summary.warnings if "different agent settings" in w]
    if rnd_lr == 1e-3:
        assert said == [] and "different agent settings" not in page
    else:
        assert (
            len(said) == 1
            and "ppo entry rnd trains under other agent settings than none" in said[0]
        )
        assert "agent.lr=0.0001 (none: 0.001)" in said[0] and "int_gamma" not in said[0]
        assert "different agent settings" in page
