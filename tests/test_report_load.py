"""Loading a results tree: normalisation constants, final-score window, honest edges."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from _report_runs import CARTPOLE, atari_card, write_run

from explore_bench.reports.audit import completeness, seed_counts, seed_warnings
from explore_bench.reports.load import (
    ReportError,
    final_score,
    load_results,
    normalise,
    success_threshold,
    train_return,
)
from explore_bench.reports.suites import make_suites

MONTEZUMA = atari_card("MontezumaRevenge", 0.0, 4753.3, sparse=True)
FROSTBITE = atari_card("Frostbite", 65.2, 4334.7)


def test_atari_human_normalisation_on_known_scores() -> None:
    assert normalise(4753.3, MONTEZUMA) == pytest.approx(1.0)
    assert normalise(0.0, MONTEZUMA) == pytest.approx(0.0)
    assert normalise(65.2, FROSTBITE) == pytest.approx(0.0)
    assert normalise(4334.7, FROSTBITE) == pytest.approx(1.0)
    assert normalise(2199.95, FROSTBITE) == pytest.approx(0.5)


def test_loader_normalises_final_scores_with_the_card(tmp_path: Path) -> None:
    write_run(
        tmp_path,
        "ALE/MontezumaRevenge-v5",
        "ppo",
        "rnd",
        0,
        card=MONTEZUMA,
        evals=[0.0, 2400.0, 4753.3],
    )
    write_run(
        tmp_path, "ALE/Frostbite-v5", "ppo", "rnd", 0, card=FROSTBITE, evals=[10.0, 30.0, 65.2]
    )
    runs = load_results(tmp_path).runs.set_index("task")
    assert runs.loc["ALE/MontezumaRevenge-v5", "final_raw"] == pytest.approx(4753.3)
    assert runs.loc["ALE/MontezumaRevenge-v5", "final_norm"] == pytest.approx(1.0)
    assert runs.loc["ALE/Frostbite-v5", "final_norm"] == pytest.approx(0.0)
    # sparse without a stated threshold: success means strictly above the random score
    assert runs.loc["ALE/MontezumaRevenge-v5", "success"] == 1.0
    assert success_threshold(FROSTBITE) is None


def test_final_score_is_mean_eval_over_last_share(tmp_path: Path) -> None:
    path = write_run(
        tmp_path,
        "CartPole-v1",
        "ppo",
        "none",
        0,
        card=CARTPOLE,
        evals=[float(k) for k in range(1, 11)],
    )  # evals at 100..1000 steps

    m = pd.read_csv(path / "metrics.csv")
    assert final_score(m, 0.1) == (pytest.approx(9.5), "eval_return")  # steps 900, 1000
    assert final_score(m, 0.3)[0] == pytest.approx(8.5)  # 700..1000
    assert final_score(m, 1.0)[0] == pytest.approx(5.5)


def test_run_without_eval_falls_back_to_training_returns(tmp_path: Path) -> None:
    path = write_run(tmp_path, "CartPole-v1", "ppo", "none", 0, card=CARTPOLE, evals=[5.0, 7.0])
    text = (path / "metrics.csv").read_text().splitlines()
    header = text[0].split(",")
    col = header.index("eval_return")
    rows = [",".join(v if i != col else "" for i, v in enumerate(r.split(","))) for r in text[1:]]
    (path / "metrics.csv").write_text("\n".join([text[0], *rows]) + "\n")
    tables = load_results(tmp_path)
    assert tables.runs.loc[0, "final_source"] == "ext_return"
    assert tables.runs.loc[0, "final_raw"] == pytest.approx(6.0)  # ext_return = eval - 1
    assert any("no eval_return" in w for w in tables.warnings)


def test_empty_and_absent_dirs_raise_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match=r"no runs found in .*empty"):
        load_results(tmp_path / "empty")
    with pytest.raises(ReportError, match="does not exist"):
        load_results(tmp_path / "nope")


def test_missing_failed_unfinished_and_unequal_seeds(tmp_path: Path) -> None:
    for seed in (0, 1, 2):
        write_run(tmp_path, "CartPole-v1", "ppo", "none", seed, card=CARTPOLE, evals=[1.0, 2.0])
    write_run(tmp_path, "CartPole-v1", "ppo", "rnd", 0, card=CARTPOLE, evals=[1.0, 2.0])
    write_run(tmp_path, "CartPole-v1", "ppo", "rnd", 1, card=CARTPOLE, evals=[1.0], status="failed")
    # a run that died before config.json: identified by its path
    unfinished = tmp_path / "m" / "CartPole-v1" / "ppo" / "rnd" / "seed2"
    unfinished.mkdir(parents=True)
    (unfinished / "metrics.csv").write_text("env_steps,eval_return\n100,1.0\n")
    runs = load_results(tmp_path).runs
    gaps = completeness(runs).set_index(["bonus", "seed"])["status"].to_dict()
    assert gaps == {("rnd", 1): "failed", ("rnd", 2): "unfinished"}
    counts = seed_counts(runs).set_index("bonus")["runs"].to_dict()
    assert counts == {"none": 3, "rnd": 1}
    notes = seed_warnings(seed_counts(runs))
    assert any(n.startswith("unequal seed counts") for n in notes)
    assert any("single finished run" in n and "CartPole-v1/ppo/rnd" in n for n in notes)


def test_suites_aggregate_only_when_every_task_has_constants() -> None:
    cards = {
        "CartPole-v1": CARTPOLE,
        "ALE/Frostbite-v5": FROSTBITE,
        "ALE/MontezumaRevenge-v5": MONTEZUMA,
    }
    mixed = make_suites(sorted(cards), cards)
    assert [(s.name, s.normalised) for s in mixed] == [
        ("ALE/Frostbite-v5", False),
        ("ALE/MontezumaRevenge-v5", False),
        ("CartPole-v1", False),
    ]
    atari = {k: v for k, v in cards.items() if k.startswith("ALE")}
    suites = make_suites(sorted(atari), atari)
    assert [(s.name, s.tasks) for s in suites] == [
        ("all tasks", ("ALE/Frostbite-v5", "ALE/MontezumaRevenge-v5")),
        ("sparse tasks", ("ALE/MontezumaRevenge-v5",)),
        ("dense tasks", ("ALE/Frostbite-v5",)),
        # and each task on its own, normalised like the aggregates
        ("ALE/Frostbite-v5", ("ALE/Frostbite-v5",)),
        ("ALE/MontezumaRevenge-v5", ("ALE/MontezumaRevenge-v5",)),
    ]
    assert {s.label for s in suites} == {"human-normalised score"}
    assert all(s.normalised for s in suites)


def test_config_identity_wins_over_path(tmp_path: Path) -> None:
    path = write_run(
        tmp_path, "explore_bench/FourRooms-v0", "ppo", "none", 4, card=CARTPOLE, evals=[1.0]
    )
    assert path.parent.parent.parent.name == "explore_bench__FourRooms-v0"
    config = json.loads((path / "config.json").read_text())
    assert config["run"]["task"] == "explore_bench/FourRooms-v0"
    runs = load_results(tmp_path).runs
    assert runs.loc[0, ["task", "seed", "matrix"]].tolist() == [
        "explore_bench/FourRooms-v0",
        4,
        "m",
    ]


def test_train_return_counts_each_episode_of_the_last_window_once() -> None:
    # iterations log the mean of the episodes that ended in them: 1 episode of 1.0 and 3 of
    # 0.0 in the last 10% give 0.25, not the rows' mean 0.5; an earlier row is outside
    m = pd.DataFrame(
        {
            "env_steps": [100, 910, 950, 1000],
            "ext_return": [9.0, 1.0, math.nan, 0.0],
            "episodes": [5, 1, math.nan, 3],
        }
    )
    assert train_return(m, 0.1) == pytest.approx(0.25)
    assert math.isnan(train_return(m.iloc[:1].assign(episodes=math.nan), 0.1))


def test_train_return_without_an_episode_in_the_window_takes_the_last_ones_to_end() -> None:
    # 256 envs in step ended together at 500 (return 0) and at no step in the last 10%: the
    # run counts with those episodes' return (a running mean of recent episodes still shows
    # it), not as missing, which would drop only runs that never reach the goal
    m = pd.DataFrame(
        {
            "env_steps": [100, 500, 950, 1000],
            "ext_return": [0.9, 0.0, math.nan, math.nan],
            "episodes": [1, 256, math.nan, math.nan],
        }
    )
    assert train_return(m, 0.1) == 0.0
    assert train_return(m.drop(columns="episodes"), 0.1) == 0.0
    assert math.isnan(train_return(m.assign(ext_return=math.nan), 0.1))
