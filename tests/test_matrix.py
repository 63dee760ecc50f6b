"""Matrix specs: expansion into cells, validation messages, shipped specs, `status`."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from explore_bench import cli
from explore_bench.matrices import spec as specs
from explore_bench.settings.config import ConfigError

BASE: dict[str, Any] = {
    "name": "t",
    "agents": ["ppo", "trpo"],
    "bonuses": ["none", "count"],
    "tasks": ["CartPole-v1", "Pendulum-v1"],
    "seeds": 2,
    "steps": 2048,
    "num_envs": 2,
}


def spec(**changes: Any) -> dict[str, Any]:
    out = {**BASE, **changes}
    return {k: v for k, v in out.items() if v is not None}


def error(data: dict[str, Any], resolve: bool = False) -> str:
    with pytest.raises(ConfigError) as info:
        m = specs.plan(data, Path("out"), "t.toml")
        if resolve:
            specs.resolve_cells(m)
    return str(info.value)


def test_expansion_is_the_full_product_with_overrides_where_they_belong() -> None:
    data = spec(
        seeds=[3, 7],
        steps={"CartPole-v1": 1024, "Pendulum-v1": 3000},
        run={"eval_episodes": 1},
        agent={"ppo": {"lr": 1e-3}},
        bonus={"count": {"beta": 0.5}},
        shaping={"coef": 0.2, "count": {"coef": 0.05}},
    )
    m = specs.plan(data, Path("res"), "t.toml")
    configs = specs.resolve_cells(m)
    assert len(m.cells) == 2 * 2 * 2 * 2
    keys = {(c.task, c.agent, c.bonus, c.seed) for c in m.cells}
    assert len(keys) == 16 and {c.seed for c in m.cells} == {3, 7}
    assert len({c.run_dir for c in m.cells}) == 16
    for cell, cfg in zip(m.cells, configs, strict=True):
        assert (cfg.run.task, cfg.run.agent, cfg.run.bonus, cfg.run.seed) == (
            cell.task,
            cell.agent,
            cell.bonus,
            cell.seed,
        )
        assert cell.run_dir == Path("res", cell.task, cell.agent, cell.bonus, f"seed{cell.seed}")
        assert cfg.run.steps == (1024 if cell.task == "CartPole-v1" else 3000)
        assert cfg.run.num_envs == 2 and cfg.run.eval_episodes == 1
        if cell.agent == "ppo":
            assert cfg.agent.lr == 1e-3
        else:
            assert not hasattr(cfg.agent, "lr") or cfg.agent.lr != 1e-3
        assert cfg.shaping.coef == (0.05 if cell.bonus == "count" else 0.2)
        if cell.bonus == "count":
            assert cfg.bonus.beta == 0.5


def test_task_names_with_slashes_map_to_one_path_component() -> None:
    m = specs.plan(spec(tasks=["ALE/Pong-v5"]), Path("r"), "t.toml")
    assert m.cells[0].run_dir.parts[1] == "ALE__Pong-v5"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"agnets": ["ppo"]}, ["unknown key 'agnets'", "did you mean 'agents'", "bonuses"]),
        ({"agents": ["ppo", "tpro"]}, ["unknown agent 'tpro'", "did you mean 'trpo'", "ppo, trpo"]),
        ({"bonuses": ["rdn"]}, ["unknown bonus 'rdn'", "did you mean 'rnd'", "count", "none"]),
        ({"bonuses": ["RND"]}, ["unknown bonus 'RND'", "did you mean 'rnd'"]),
        ({"agents": []}, ["'agents' must be a non-empty list"]),
        ({"bonuses": ["none", "none"]}, ["lists a name twice"]),
        ({"tasks": None}, ["exactly one of 'tasks'"]),
        ({"suite": "mini"}, ["exactly one of 'tasks'"]),
        ({"seeds": 0}, ["'seeds' must be a positive count"]),
        ({"seeds": [1, 1]}, ["'seeds'"]),
        ({"steps": None}, ["no step budget"]),
        ({"steps": {"CartPole-v1": 10, "Acrobot-v1": 5}}, ["not in the matrix", "Acrobot-v1"]),
        ({"agent": {"dqn": {"lr": 1.0}}}, ["[agent.dqn]", "not in agents"]),
        ({"agent": {"lr": 1.0}}, ["per-agent tables", "[agent.ppo]"]),
        ({"bonus": {"icm": {"eta": 1.0}}}, ["[bonus.icm]", "not in bonuses"]),
        ({"shaping": {"rnd": {"coef": 1.0}}}, ["[shaping.rnd]"]),
        ({"run": {"seed": 3}}, ["[run] seed", "top-level"]),
        ({"report": {"rep": 10}}, ["[report] rep", "reps"]),
    ],
)
def test_bad_specs_fail_with_the_valid_choices(
    changes: dict[str, Any], expected: list[str]
) -> None:
    message = error(spec(**changes))
    for part in expected:
        assert part in message, (part, message)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"tasks": ["CartPole-v2"]}, ["unknown task 'CartPole-v2'", "CartPole-v1"]),
        ({"agent": {"ppo": {"lrr": 1.0}}}, ["agent.lrr", "did you mean agent.lr"]),
        ({"bonus": {"count": {"beta": "big"}}}, ["bonus.beta", "expected a number"]),
        ({"run": {"eval_episodess": 1}}, ["run.eval_episodess", "eval_episodes"]),
        ({"shaping": {"normalizer": "zscore"}}, ["shaping.normalizer", "reward_rms"]),
        ({"steps": -5}, ["run.steps must be a positive integer"]),
    ],
)
def test_bad_values_fail_when_resolving_before_any_run(
    changes: dict[str, Any], expected: list[str], tmp_path: Path
) -> None:
    message = error(spec(**changes), resolve=True)
    assert "cell " in message  # says which cell
    for part in expected:
        assert part in message, (part, message)
    assert not (tmp_path / "out").exists()


def test_cli_reports_spec_errors_and_creates_nothing(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('agents = ["ppo"]\nbonuses = ["nonee"]\ntasks = ["CartPole-v1"]\nsteps = 10\n')
    code = cli.main(["matrix", str(path), "--out", str(tmp_path / "res")])
    assert code == 2
    assert "unknown bonus 'nonee'" in capsys.readouterr().err
    assert not (tmp_path / "res").exists()
    assert cli.main(["matrix", "smok"]) == 2
    assert "did you mean 'smoke'" in capsys.readouterr().err


def test_dry_run_lists_cells_and_writes_nothing(tmp_path: Path, capsys) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        'agents = ["ppo"]\nbonuses = ["none", "count"]\ntasks = ["CartPole-v1"]\n'
        "steps = 10\nseeds = 3\n"
    )
    assert cli.main(["matrix", str(path), "--out", str(tmp_path / "res"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "6 cells, 0 already DONE, 6 to run" in out
    assert out.count("missing ") == 6
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("name", ["smoke", "mini", "paper-mujoco", "paper-atari"])
def test_shipped_specs_are_valid(name: str) -> None:
    path = specs.find_spec(name)
    m = specs.plan(specs.load_spec(path), Path("r"), str(path))
    assert m.cells and m.name == name
    if name != "paper-atari":  # resolving it builds 60 Atari envs: slow
        configs = specs.resolve_cells(m)
        assert {c.run.agent for c in configs} >= {"ppo"}


def test_a_suite_supplies_tasks_budgets_seeds_and_its_agents_preset() -> None:
    from explore_bench.matrices import suites

    suite = suites.get("paper-mujoco")
    data = {"suite": "paper-mujoco", "agents": ["trpo", "ppo"], "bonuses": ["none"]}
    m = specs.plan(data, Path("r"), "p.toml")
    configs = specs.resolve_cells(m)
    assert len(m.cells) == len(suite.tasks) * 2 * suite.seeds
    for cell, cfg in zip(m.cells, configs, strict=True):
        assert cfg.run.steps == suite.budget(cell.task)
        assert cfg.run.preset == (suite.preset if cell.agent == suite.agent else "")
    assert {c.seed for c in m.cells} == set(range(suite.seeds))
    only = specs.plan(
        {"suite": "mini", "bonuses": ["none"], "seeds": 1, "steps": 5000}, Path("r"), "m.toml"
    )
    assert {c.agent for c in only.cells} == {suites.get("mini").agent}
    assert {c.run_opts["steps"] for c in only.cells} == {5000}
    assert "did you mean 'mini'" in error({"suite": "mimi", "agents": ["ppo"], "bonuses": ["none"]})


def test_smoke_spec_is_the_main_job() -> None:
    data = tomllib.loads(specs.find_spec("smoke").read_text())
    assert set(data["agents"]) == {"ppo", "trpo"}
    assert {"none", "count", "rnd"} <= set(data["bonuses"])
    assert data.get("report")
    # the part that shows the suite's point: count vs none on DeepSea20, same settings
    variants = data["variants"]
    assert {v["bonus"] for v in variants.values()} == {"none", "count"}
    shared = [{k: x for k, x in v.items() if k != "bonus"} for v in variants.values()]
    assert shared[0] == shared[1] and shared[0]["tasks"] == ["explore_bench/DeepSea20-v0"]


def test_a_changed_config_never_resumes_from_an_old_checkpoint(tmp_path: Path) -> None:
    m = specs.plan(
        spec(seeds=1, bonuses=["none"], agents=["ppo"], tasks=["CartPole-v1"]), tmp_path, "t.toml"
    )
    configs = specs.resolve_cells(m)
    cell = m.cells[0]
    cell.run_dir.mkdir(parents=True)
    old = configs[0].to_dict()
    old["run"]["steps"] = 999
    (cell.run_dir / "config.json").write_text(json.dumps(old))
    assert specs.check_existing(m.cells, configs) == []  # no checkpoint: it just restarts
    (cell.run_dir / "checkpoint.pt").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"different config \(run.steps: 999 -> 2048"):
        specs.check_existing(m.cells, configs)
    (cell.run_dir / "DONE").write_text("")
    assert len(specs.check_existing(m.cells, configs)) == 1  # DONE: kept, listed


def _fake_run(root: Path, task: str, bonus: str, state: str) -> None:
    d = root / task / "ppo" / bonus / "seed0"
    d.mkdir(parents=True)
    run = {"task": task, "agent": "ppo", "bonus": bonus, "seed": 0, "steps": 100}
    (d / "config.json").write_text(json.dumps({"run": run}))
    (d / "metrics.csv").write_text("env_steps,iteration\n100,1\n")  # the whole budget
    if state == "done":
        (d / "DONE").write_text("")
    elif state == "failed":
        (d / "FAILED").write_text("Traceback (most recent call last):\nRuntimeError: boom\n")


def test_status_and_report_agree_on_a_directory_without_runs(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["status", str(empty)]) == 2
    status_err = capsys.readouterr().err
    assert cli.main(["report", str(empty)]) == 2
    report_err = capsys.readouterr().err
    for err in (status_err, report_err):
        assert err.startswith(f"explore-bench: error: no runs found in {str(empty)!r}")
    assert list(empty.iterdir()) == []


def test_status_table_counts_every_state(tmp_path: Path, capsys) -> None:
    root = tmp_path / "res"
    _fake_run(root, "CartPole-v1", "none", "done")
    _fake_run(root, "CartPole-v1", "count", "failed")
    _fake_run(root, "Pendulum-v1", "none", "unfinished")
    path = tmp_path / "t.toml"
    path.write_text(
        'agents = ["ppo"]\nbonuses = ["none", "count"]\n'
        'tasks = ["CartPole-v1", "Pendulum-v1"]\nsteps = 100\n'
    )
    assert cli.main(["status", str(root), "--spec", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {tuple(line.split()[:4]) for line in out[1:-1]}
    assert ("done", "CartPole-v1", "ppo", "none") in rows
    assert ("failed", "CartPole-v1", "ppo", "count") in rows
    assert ("unfinished", "Pendulum-v1", "ppo", "none") in rows
    assert ("missing", "Pendulum-v1", "ppo", "count") in rows
    assert "RuntimeError: boom" in "\n".join(out)
    assert out[-1] == "1 failed, 1 unfinished, 1 missing, 1 done (4 cells)"


def test_files_returned_by_a_remote_worker_replace_the_cell_marker_last(tmp_path: Path) -> None:
    from explore_bench.matrices.ray_cluster import write_back

    cell = tmp_path / "cell"
    cell.mkdir()
    (cell / "FAILED").write_text("old failure")
    (cell / "checkpoint.pt").write_bytes(b"stale")
    write_back(cell, {"metrics.csv": b"env_steps\n1\n", "tb/ev": b"x", "DONE": b"t\n"})
    assert sorted(p.name for p in cell.rglob("*")) == ["DONE", "ev", "metrics.csv", "tb"]
    assert (cell / "metrics.csv").read_bytes() == b"env_steps\n1\n"
    write_back(cell, {"FAILED": b"Traceback", "checkpoint.pt": b"new"})
    assert not (cell / "DONE").exists() and (cell / "checkpoint.pt").read_bytes() == b"new"
