"""The evidence matrix specs validate, their parts add up to the whole, and their budgets are
printed by `explore-bench list --tasks`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from explore_bench.matrices import suites
from explore_bench.matrices.spec import load_matrix

PARTS = ("evidence-mini", "evidence-minigrid")
#: MiniGrid ids of the evidence matrix's MiniGrid part.
MINIGRID_PREFIX = "explore_bench/"


def _cells(spec: str) -> dict[str, dict]:
    matrix, configs, _ = load_matrix(spec)
    return {str(c.run_dir): cfg.to_dict() for c, cfg in zip(matrix.cells, configs, strict=True)}


def test_the_parts_are_exactly_the_whole_matrix():
    whole = _cells("evidence")
    parts = [_cells(p) for p in PARTS]
    assert not set(parts[0]) & set(parts[1])
    assert {**parts[0], **parts[1]} == whole  # same run directories, same configs
    matrix, _, _ = load_matrix("evidence")
    assert matrix.out.name == "evidence" and matrix.report
    assert {c.agent for c in matrix.cells} == {"ppo"}
    assert len({c.seed for c in matrix.cells}) >= 5
    minigrid = {c.task for c in load_matrix("evidence-minigrid")[0].cells}
    assert len(minigrid) == 3 and all(t.startswith(MINIGRID_PREFIX) for t in minigrid)


def test_evidence_emi_runs_the_emi_paper_trpo_with_both_variants():
    matrix, configs, _ = load_matrix("evidence-emi")
    assert {c.entry for c in matrix.cells} == {"none", "count", "emi", "emi-residual"}
    assert len({c.seed for c in matrix.cells}) == 5
    rewards: dict[str, set] = {}
    for cell, cfg in zip(matrix.cells, configs, strict=True):
        assert cfg.run.agent == "trpo" and cfg.run.preset == "emi-mujoco"
        batch = cfg.run.num_envs * cfg.agent.num_steps
        assert batch == 50_000 and cfg.run.steps % batch == 0
        if cell.bonus == "emi":
            rewards.setdefault(cell.entry, set()).add((cfg.bonus.reward, cfg.run.steps))
    assert rewards == {
        "emi": {("diversity", suites.EVIDENCE_EMI_STEPS)},
        "emi-residual": {("residual", suites.EVIDENCE_EMI_STEPS)},
    }


@pytest.mark.parametrize("spec", ["evidence", "evidence-emi", "reproduce-rlexplore"])
def test_dry_run_validates(spec):
    out = subprocess.run(
        [sys.executable, "-m", "explore_bench.cli", "matrix", spec, "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"matrix {spec}:" in out and "to run" in out


def test_list_tasks_prints_the_evidence_budgets():
    out = subprocess.run(
        [sys.executable, "-m", "explore_bench.cli", "list", "--tasks"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in ("evidence-mini", "evidence-minigrid", "evidence-emi", "reproduce-rlexplore"):
        for t in suites.get(name).tasks:
            assert f"{t.task}  " in out and f"{t.steps:,}" in out
            assert f"{name} {t.steps:,}" in out  # the task card's budgets line


def test_reproduce_rlexplore_runs_their_agent_for_every_entry_and_their_bonus_settings():
    """RLeXplore's Table 3 PPO with its x100 extrinsic reward under every entry; each
    `-rlexplore` variant drops the paper recipe for their beta 0.25 on reward / running std."""
    matrix, configs, _ = load_matrix("reproduce-rlexplore")
    assert len({c.seed for c in matrix.cells}) == 5
    variants = set()
    for cell, cfg in zip(matrix.cells, configs, strict=True):
        assert cfg.run.num_envs * cfg.agent.num_steps == 256 * 32
        assert (cfg.agent.lr, cfg.agent.clip_coef, cfg.agent.reward_scale) == (2.5e-4, 0.1, 100)
        assert cfg.agent.clip_vloss and cfg.agent.anneal_lr and cfg.agent.minibatch_size == 1024
        # rllte's MiniGrid actor-critic: its network, linear heads, actor gain 1
        assert (cfg.agent.grid_cnn, cfg.agent.policy_hidden, cfg.agent.value_hidden) == (
            "rllte",
            (),
            (),
        )
        assert cfg.agent.policy_head_gain == 1.0
        task = cell.task.removeprefix("explore_bench/").removesuffix("-v0")
        assert cfg.run.steps == suites.REPRODUCE_RLEXPLORE_STEPS[task] >= 1_000_000
        if cell.entry.endswith("-rlexplore"):
            variants.add(cell.bonus)
            assert cfg.run.recipe == "shared" and not cfg.agent.two_value_heads
            assert (cfg.shaping.normalizer, cfg.shaping.coef) == ("reward_rms", 0.25)
            assert cfg.shaping.rms_epsilon == 0.0  # rllte's rms: raw / std, nothing added
            if cell.bonus == "re3":  # rllte scores log(1 + d) of the raw k-NN distance
                assert cfg.bonus.normalize is False and cfg.bonus.k == 5
                assert (cfg.bonus.memory_scope, cfg.bonus.memory_size) == ("env", 1000)
            if cell.bonus == "rnd":  # rllte's obs_rms=False: grid / 255, no warm-up
                assert cfg.bonus.obs_normalize is False and cfg.bonus.warmup_updates == 0
            if cell.bonus == "e3b":  # rllte's done flag, read a step late
                assert cfg.bonus.episode_start == "rllte"
        elif cell.bonus == "e3b":  # the paper entry keeps the E3B release's rule
            assert cfg.bonus.episode_start == "release"
    assert variants == {"re3", "icm", "rnd", "e3b", "ngu", "ride", "disagreement"}
    assert {c.task for c in matrix.cells} == {
        "explore_bench/DoorKey8x8-v0",
        "explore_bench/MultiRoomN6S5-v0",
    }
