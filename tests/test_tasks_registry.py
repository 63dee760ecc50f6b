"""Every task is registered on `import explore_bench` (cheaply), with a full card; suites."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import gymnasium as gym
import pytest

import explore_bench  # noqa: F401
from explore_bench.envs.catalog import all_specs
from explore_bench.envs.tasks import Task, resolve_task
from explore_bench.matrices import suites
from explore_bench.matrices.suites import format_task_cards
from explore_bench.plugins import registry
from explore_bench.settings import presets

IDS = [spec.id for spec in all_specs()]


def test_import_is_light_and_registers():
    code = (
        "import sys, gymnasium, explore_bench\n"
        "from explore_bench.plugins import registry\n"
        "heavy = [m for m in ('torch', 'mujoco', 'ale_py', 'cv2') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'explore_bench/SwimmerGather-v0' in gymnasium.registry\n"
        "assert 'explore_bench/Venture-emi-v0' in registry.tasks.names()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_task_set():
    assert len(IDS) == 2 + 6 + 9 + 3 + 15
    for game in ("Freeway", "Frostbite", "Gravitar", "MontezumaRevenge", "Solaris", "Venture"):
        assert f"explore_bench/{game}-emi-v0" in IDS
    for game in ("Pong", "Breakout", "Seaquest", "MontezumaRevenge"):
        assert f"explore_bench/{game}-modern-v0" in IDS


@pytest.mark.parametrize("name", IDS)
def test_each_task_has_a_full_card(name):
    assert name in gym.registry
    task = resolve_task(name)
    assert isinstance(task, Task) and task.env_id == name
    card = task.card
    assert card.random_score is not None and card.reference_score is not None
    assert card.reference_score > card.random_score
    assert card.horizon is not None and card.horizon >= 1
    assert card.reference_kind != "none" and task.description
    if card.sparse:
        assert card.success_threshold is not None
    spec_limit = gym.spec(name).max_episode_steps
    assert spec_limit in (None, card.horizon)
    assert dataclasses.asdict(card) == {
        k: v for k, v in task.card_dict().items() if k not in ("name", "env_id", "backend")
    }


def test_make_the_cheap_tasks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in IDS:
        if "-emi-" in name or "-modern-" in name:
            continue  # Atari is covered by test_tasks_atari
        env = resolve_task(name).make_env()
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs), name
        env.step(env.action_space.sample())
        env.close()


def test_format_task_cards_lists_everything():
    text = format_task_cards()
    for name in IDS:
        assert f"\n{name}  -  " in f"\n{text}"
    assert "reference_score    4753.3" in text  # Montezuma's human score is shown


def test_suites():
    assert suites.names() == [
        "evidence",
        "evidence-emi",
        "evidence-mini",
        "evidence-minigrid",
        "mini",
        "paper-atari",
        "paper-mujoco",
        "reproduce-rlexplore",
        "smoke",
    ]
    for suite in suites.SUITES.values():
        for t in suite.tasks:
            resolve_task(t.task)  # every task resolves
        if suite.preset:
            assert presets.get(suite.preset).agent in ("", suite.agent)
        assert suite.agent in registry.agents.names()
    atari = suites.get("paper-atari")
    assert atari.preset == "emi-atari" and atari.agent == "trpo"
    assert all(t.steps == 50_000_000 and "-emi-" in t.task for t in atari.tasks)
    assert suites.get("paper-mujoco").budget("explore_bench/SparseHalfCheetah-v0") == 100_000_000
    assert max(t.steps for t in suites.get("smoke").tasks) <= 10_000
    assert "CartPole-v1" in suites.get("smoke").task_names


def test_unknown_suite_names_the_known_ones():
    with pytest.raises(registry.UnknownNameError, match=r"did you mean 'mini'.*paper-atari"):
        suites.get("minni")
    with pytest.raises(ValueError, match="normalization"):
        suites.Suite(
            name="x",
            description="",
            tasks=(suites.SuiteTask(task="a", steps=1),),
            normalization="best",
        )
