"""The Python API against the command line, and trained policies loaded back."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import explore_bench
from explore_bench import api, cli
from explore_bench.runs.runner import TIMING_COLUMNS
from explore_bench.settings.config import ConfigError

SETTINGS = ["--steps", "1024", "--num-envs", "2", "--seed", "3", "--quiet"]
SETS = {"run.eval_episodes": 3, "agent.num_steps": 64, "shaping.coef": 0.5}


def _cli_run(out, bonus="count"):
    argv = ["run", "--bonus", bonus, "--task", "explore_bench/DeepSea20-v0", *SETTINGS]
    for key, value in SETS.items():
        argv += ["--set", f"{key}={value}"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    return out / "explore_bench__DeepSea20-v0" / "ppo" / bonus / "seed3"


def test_api_and_cli_give_the_same_metrics(tmp_path):
    cli_dir = _cli_run(tmp_path / "cli")
    result = explore_bench.run(
        agent="ppo",
        bonus="count",
        task="explore_bench/DeepSea20-v0",
        steps=1024,
        seed=3,
        out=tmp_path / "api",
        num_envs=2,
        agent__num_steps=64,
        **{"run.eval_episodes": 3, "shaping.coef": 0.5},
    )
    assert result.directory == tmp_path / "api" / cli_dir.relative_to(tmp_path / "cli")
    from_cli = pd.read_csv(cli_dir / "metrics.csv").drop(columns=list(TIMING_COLUMNS))
    from_api = result.metrics.drop(columns=list(TIMING_COLUMNS))
    assert len(from_api) == 1024 // (64 * 2)
    pd.testing.assert_frame_equal(from_cli, from_api)
    assert (cli_dir / "config.json").read_text() == (result.directory / "config.json").read_text()
    # the final score is the mean evaluation over the last 10% of training: the last one here
    assert result.final_score == pytest.approx(result.metrics["eval_return"].dropna().iloc[-1])
    assert result.config.shaping.coef == 0.5 and result.config.agent.num_steps == 64


def test_load_and_evaluate_reproduce_the_final_evaluation(tmp_path, capsys):
    run_dir = _cli_run(tmp_path, bonus="none")
    final = pd.read_csv(run_dir / "metrics.csv")["eval_return"].dropna().iloc[-1]
    policy = explore_bench.load(run_dir)
    assert policy.task.card.deterministic  # the check needs a deterministic policy
    again = policy.evaluate()
    assert len(again.scores) == 3
    assert again.mean == pytest.approx(final, abs=1e-12)
    # act takes a batch of observations and gives the env's actions
    actions = policy.act(np.zeros((5, *policy.agent.obs_space.shape), dtype=np.float32))
    assert actions.shape == (5,)
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"mean {final:.3f}" in out and "95% interval" in out and ", finished," in out
    # an unfinished run (no DONE) is loaded from its checkpoint just the same
    (run_dir / "DONE").unlink()
    assert cli.main(["evaluate", str(run_dir), "--episodes", "2", "--stochastic"]) == 0
    out = capsys.readouterr().out
    assert ", unfinished," in out and "over 2 episodes (stochastic policy" in out


def test_a_loaded_policy_gives_its_spaces_and_an_env_to_act_in(tmp_path):
    run_dir = _cli_run(tmp_path, bonus="none")
    policy = explore_bench.load(run_dir)
    assert policy.observation_space.shape == (420,) and policy.action_space.n == 2
    env = policy.make_env()
    obs, _ = env.reset(seed=11)
    assert policy.observation_space.contains(obs)
    score, done = 0.0, False
    while not done:  # the policy's own episode, step by step, is what evaluate scores
        action = policy.act(obs[None])[0]
        assert policy.action_space.contains(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        score += float(reward)
        done = terminated or truncated
    env.close()
    assert score == pytest.approx(policy.evaluate(1, seed=11).mean, abs=1e-12)


def test_evaluation_interval_is_the_student_t_interval():
    ev = api.Evaluation(np.array([1.0, 2.0, 3.0, 6.0]), True, 0)
    # mean 3, sd sqrt(14/3), t(0.975, 3) = 3.182446305
    half = 3.182446305284263 * math.sqrt(14 / 3) / 2
    assert ev.interval == pytest.approx((3 - half, 3 + half))
    assert all(math.isnan(x) for x in api.Evaluation(np.array([1.0]), True, 0).interval)


def test_load_refuses_a_directory_without_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        explore_bench.load(tmp_path)


def test_bad_override_names_the_key():
    with pytest.raises(ConfigError, match="section"):
        api.resolve_run(task="CartPole-v1", **{"nosuch.lr": 1})
    with pytest.raises(ConfigError, match=r"agent\.lrr"):
        api.resolve_run(task="CartPole-v1", agent__lrr=1)


def test_api_names_are_plain_functions_and_no_module_is_callable():
    import types

    import explore_bench.matrices
    import explore_bench.reports

    for name in ("run", "load", "matrix", "report"):
        assert isinstance(getattr(explore_bench, name), types.FunctionType), name
    # importing the parts binds no module over an API function
    assert explore_bench.matrix is api.matrix and explore_bench.report is api.report
    for module in (explore_bench.matrices, explore_bench.reports):
        assert type(module) is types.ModuleType and not callable(module)


def test_matrix_and_report_from_python(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        'name = "tiny"\nagents = ["ppo"]\nbonuses = ["none"]\ntasks = ["CartPole-v1"]\n'
        "seeds = 2\nsteps = 256\nnum_envs = 2\n[run]\neval_episodes = 1\n"
        '[variants]\nnone-lr = { bonus = "none", "agent.lr" = 1e-3 }\n'
    )
    result = explore_bench.matrix(spec, tmp_path / "out", workers=1)
    assert result.out == tmp_path / "out" and result.cells == 4 and result.failed == ()
    assert (tmp_path / "out" / "CartPole-v1" / "ppo" / "none-lr" / "seed1" / "DONE").exists()
    summary = explore_bench.report(tmp_path / "out", reps=100, profile_reps=20, formats=("csv",))
    assert sorted(summary.table["bonus"]) == ["none", "none-lr"]
    assert summary.runs_finished == 4
