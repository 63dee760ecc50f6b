"""The command line in a subprocess: a complete run directory, and clear errors on bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "explore_bench.cli"]
TINY = [
    "--task",
    "CartPole-v1",
    "--steps",
    "1024",
    "--num-envs",
    "2",
    "--set",
    "run.eval_episodes=2",
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, check=False)


def test_run_writes_the_complete_directory(tmp_path: Path) -> None:
    out = tmp_path / "res"
    proc = _run("run", *TINY, "--bonus", "const_bonus:ConstantBonus", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    run_dir = out / "CartPole-v1" / "ppo" / "const_bonus--ConstantBonus" / "seed0"
    for name in ("config.json", "provenance.json", "metrics.csv", "DONE"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tb").iterdir())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["run"]["steps"] == 1024 and config["bonus"] == {"value": 0.5}
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["plugins"]["bonus"]["source"] == "import path const_bonus:ConstantBonus"
    assert prov["packages"]["torch"] and prov["end_time"]
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert rows and int(rows[-1]["env_steps"]) >= 1024
    assert float(rows[-1]["sps"]) > 0 and rows[-1]["eval_return"] != ""
    assert float(rows[-1]["int_reward_mean"]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--bonus", "nosuch"], ["'nosuch'", "Known:", "none"]),
        (["--agent", "ppx"], ["'ppx'", "did you mean 'ppo'"]),
        (["--task", "CartPol-v1"], ["'CartPol-v1'", "did you mean 'CartPole-v1'"]),
        (["--set", "agent.lrr=0.1"], ["agent.lrr", "agent.lr"]),
        (["--set", "agent.lr=fast"], ["agent.lr='fast'", "expected a number"]),
        (["--set", "agent.update_epochs=2.5"], ["agent.update_epochs='2.5'", "integer"]),
        (["--set", "nosection.x=1"], ["'nosection'", "run, agent, bonus, shaping"]),
        (["--steps", "0"], ["run.steps", "positive", "0"]),
        (["--steps", "-3"], ["run.steps", "-3"]),
    ],
)
def test_bad_input_fails_clearly_and_leaves_nothing(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    out = tmp_path / "res"
    proc = _run("run", "--steps", "1024", *args, "--out", str(out))
    assert proc.returncode == 2
    for text in expected:
        assert text in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_list_shows_sources() -> None:
    proc = _run("list", "--bonuses", "--agents")
    assert proc.returncode == 0, proc.stderr
    assert "none" in proc.stdout and "(built-in)" in proc.stdout and "ppo" in proc.stdout


def test_resolve_rejects_an_unknown_section() -> None:
    from explore_bench.settings.config import ConfigError, resolve

    with pytest.raises(ConfigError, match="unknown config sections \\['agnet'\\]"):
        resolve({"task": "CartPole-v1"}, {"agnet": {"lr": 0.1}})


@pytest.mark.parametrize(
    "name", ["CartPole-v1", "explore_bench/DeepSea20-v0", "const_bonus:ConstantBonus"]
)
def test_path_component_round_trips_to_the_name(name: str) -> None:
    from explore_bench.store.layout import name_from_path, safe_name

    assert "/" not in safe_name(name) and ":" not in safe_name(name)
    assert name_from_path(safe_name(name)) == name


def test_plain_list_is_the_short_index() -> None:
    """One line per bonus, agent, task and preset; the recipes and protocol cards are behind
    ``--bonuses`` and ``--tasks``."""
    from explore_bench.plugins import registry
    from explore_bench.settings.presets import PRESETS

    proc = _run("list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    names = [line.split()[0] for line in lines if line.startswith("  ") and line.strip()]
    expected = [
        *registry.bonuses.names(),
        *registry.agents.names(),
        *registry.tasks.names(),
        "(any",  # "any other gymnasium id also works"
        *sorted(PRESETS),
    ]
    assert names == expected
    assert len(lines) == len(expected) + 4  # four headings
    assert "frame_skip" not in proc.stdout and "recipe for" not in proc.stdout
    assert "explore-bench list --tasks" in proc.stdout
    full = _run("list", "--tasks").stdout
    assert "frame_skip" in full and "budgets" in full


def test_help_starts_without_torch() -> None:
    code = (
        "import sys\n"
        "from explore_bench import cli\n"
        "for argv in ([], ['run'], ['evaluate'], ['matrix'], ['status'], ['report']):\n"
        "    try:\n"
        "        cli.main([*argv, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "--steps" in proc.stdout and "--workers" in proc.stdout and "--reps" in proc.stdout


def test_an_import_path_bonus_loads_from_the_current_directory(tmp_path: Path) -> None:
    """``explore-bench`` is a console script: sys.path starts at its own folder, not at the
    directory the user runs it from, which holds the user's ``mypkg/``."""
    (tmp_path / "mypkg_cwd").mkdir()
    (tmp_path / "mypkg_cwd" / "__init__.py").write_text("")
    (tmp_path / "mypkg_cwd" / "mymodule.py").write_text(
        "from const_bonus import ConstantBonus as MyBonus\n"
    )
    (tmp_path / "bin").mkdir()
    script = tmp_path / "bin" / "explore-bench"
    script.write_text("import sys\nfrom explore_bench.cli import main\nsys.exit(main())\n")
    proc = subprocess.run(
        [sys.executable, str(script), "config", "bonus", "mypkg_cwd.mymodule:MyBonus"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("[bonus mypkg_cwd.mymodule:MyBonus]")
