"""The report's Reproduction section: published figures against runs whose answer is known.

The synthetic tree gives every run three measures with known values: its training return
(``ext_return``), its sampled evaluation (``eval_return``, the card's final score) and its
argmax evaluation (``eval_return_mode``), each constant over the run, so a run's window
mean is that constant. A bootstrap interval of the mean lies within the range of the runs'
values, so a published value outside the range must read below / above, and the mean of the
range's own values (the point estimate itself, the middle of a symmetric set) within.
"""

from __future__ import annotations

import json
import tomllib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from explore_bench import cli
from explore_bench.errors import ConfigError
from explore_bench.matrices import spec as specs
from explore_bench.reports.build import ReportSummary, main_report
from explore_bench.reports.load import load_results
from explore_bench.reports.tables import raw_table

TASK = "explore_bench/DoorKey8x8-v0"
CARD = {
    "name": TASK,
    "env_id": "MiniGrid-DoorKey-8x8-v0",
    "random_score": 0.0,
    "reference_score": 1.0,
    "reference_kind": "max",
    "sparse": True,
    "success_threshold": 0.5,
    "final_score": "sampled",
}
#: entry -> per seed (training return, sampled evaluation, argmax evaluation)
RUNS: dict[str, list[tuple[float, float, float]]] = {
    "none": [(0.1 * (k + 1), 0.5 + 0.1 * (k + 1), 0.0) for k in range(5)],  # .1-.5, .6-1, 0
    "icm": [(0.8, 0.9, 0.7), (0.9, 0.9, 0.7), (1.0, 0.9, 0.7), (0.9, 0.9, 0.7), (0.9, 0.9, 0.7)],
    "rnd": [(0.0, 0.0, 0.0), (0.2, 0.0, 0.0)],  # two seeds only
}
REPS = 2_000


def write_run(root: Path, entry: str, seed: int, measures: tuple[float, float, float]) -> None:
    train, sampled, mode = measures
    path = root / "m" / TASK.replace("/", "__") / "ppo" / entry / f"seed{seed}"
    path.mkdir(parents=True)
    run = {"agent": "ppo", "bonus": entry, "task": TASK, "steps": 1000, "seed": seed}
    config = {"run": run, "agent": {}, "bonus": {}, "shaping": {}, "task_card": CARD}
    (path / "config.json").write_text(json.dumps(config))
    lines = ["env_steps,iteration,wall_s,ext_return,eval_return,eval_return_mode"]
    for k in range(1, 11):
        lines.append(f"{100 * k},{k},{k},{train},{sampled},{mode}")
    (path / "metrics.csv").write_text("\n".join(lines) + "\n")
    (path / "DONE").write_text("")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("results")
    for entry, seeds in RUNS.items():
        for seed, measures in enumerate(seeds):
            write_run(root, entry, seed, measures)
    return root


def figure(entry: str, value: float, measure: str = "train_return", **more: Any) -> dict[str, Any]:
    return {"entry": entry, "value": value, "measure": measure, "source": "paper T1", **more}


def report(root: Path, out: Path, figures: Sequence[dict[str, Any]], **kw: Any) -> ReportSummary:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main_report(
            root, out, reps=REPS, profile_reps=100, published={TASK: list(figures)}, **kw
        )


def rows(root: Path, out: Path, figures: Sequence[dict[str, Any]]) -> pd.DataFrame:
    report(root, out, figures, formats=("csv",))
    return pd.read_csv(out / "reproduction.csv", keep_default_na=False, na_values=[""])


def measure_of(entry: str, k: int) -> np.ndarray:
    return np.array([run[k] for run in RUNS[entry]])


def test_a_value_inside_above_or_below_the_runs_gives_within_below_above(
    tree: Path, tmp_path: Path
) -> None:
    train = measure_of("none", 0)
    got = rows(
        tree,
        tmp_path / "r",
        [
            figure("none", float(train.mean())),
            figure("none", float(train.max()) + 0.1),
            figure("none", float(train.min()) - 0.1),
        ],
    )
    assert list(got["verdict"]) == ["within", "below", "above"]
    for _, r in got.iterrows():
        assert train.min() <= r["mean_lo"] <= r["mean"] <= r["mean_hi"] <= train.max()
        assert r["mean"] == pytest.approx(train.mean()) and r["seeds"] == 5
    # success: training returns 0.1..0.5 against the card's threshold 0.5: one of five
    assert got["success_rate"].iloc[0] == pytest.approx(np.mean(train >= 0.5))


def test_the_measure_named_is_the_column_compared(tree: Path, tmp_path: Path) -> None:
    # 0.8 is inside the sampled evaluations (0.6-1.0) and above both other measures
    got = rows(
        tree,
        tmp_path / "r",
        [figure("none", 0.8, m) for m in ("final", "train_return", "final_mode")],
    )
    assert list(got["measure"]) == ["final", "train_return", "final_mode"]
    assert list(got["verdict"]) == ["within", "below", "below"]
    for k, col in enumerate(("mean_train_return", "mean_final", "mean_final_mode")):
        assert got[col].tolist() == pytest.approx([measure_of("none", k).mean()] * 3)
    means = [measure_of("none", k).mean() for k in (1, 0, 2)]
    assert got["mean"].tolist() == pytest.approx(means)
    assert got["iqm"].iloc[2] == 0.0  # every argmax evaluation scored 0


def test_missing_entries_context_few_seeds_and_margin(tree: Path, tmp_path: Path) -> None:
    got = rows(
        tree,
        tmp_path / "r",
        [
            figure("ghost", 0.5),
            figure("icm", 0.2, context=True),
            figure("rnd", 0.1),
            figure("icm", 0.9, margin=0.5),
            figure("icm", 0.9, margin=0.01),
        ],
    )
    assert list(got["verdict"]) == ["not run", "context", "too few seeds", "reproduced", "within"]
    assert got["seeds"].tolist() == [0, 5, 2, 5, 5]
    assert np.isnan(got["mean"].iloc[0])
    assert got["mean"].iloc[1] == pytest.approx(0.9)  # a context row still shows our runs


def test_a_figure_at_another_budget_is_noted(tree: Path, tmp_path: Path) -> None:
    # the runs' budget is 1,000 steps: 1,050 is within 10% of it, 2,000 is not
    got = rows(
        tree,
        tmp_path / "r",
        [figure("none", 0.3), figure("none", 0.3, steps=1050), figure("none", 0.3, steps=2000)],
    )
    assert got["steps"].tolist() == [1000] * 3
    assert got["notes"].fillna("").tolist() == ["", "", "our runs: 1k steps, the figure: 2k"]
    assert got["verdict"].tolist() == ["within"] * 3  # noted, still judged


def test_a_task_without_runs_reads_not_run(tree: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main_report(
            tree,
            tmp_path / "r",
            reps=REPS,
            formats=("csv",),
            published={"explore_bench/KeyCorridorS3R3-v0": [figure("none", 0.9)]},
        )
    got = pd.read_csv(tmp_path / "r" / "reproduction.csv")
    assert got["verdict"].tolist() == ["not run"]


def test_the_section_sits_near_the_top_and_its_files_are_written(
    tree: Path, tmp_path: Path
) -> None:
    summary = report(tree, tmp_path / "r", [figure("none", 0.3, read_off=True)])
    names = {p.name for p in summary.files}
    assert {"reproduction.md", "reproduction.csv"} <= names
    md = (tmp_path / "r" / "leaderboard.md").read_text()
    assert md.index("## Ranking") < md.index("## Reproduction") < md.index("**Contents:**")
    assert md.index("## Reproduction") < md.index("## Per-task raw scores")
    assert "≈0.300" in md and "| within |" in md
    assert "≈0.300" in (tmp_path / "r" / "reproduction.md").read_text()
    assert 'id="reproduction"' in (tmp_path / "r" / "index.html").read_text()

    plain = report(tree, tmp_path / "plain", [])
    assert "reproduction.md" not in {p.name for p in plain.files}
    assert "Reproduction" not in (tmp_path / "plain" / "leaderboard.md").read_text()


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ({TASK: [figure("none", 0.2, "train")]}, ["measure 'train'", "final, final_mode"]),
        ({TASK: [figure("none", 0.2, ["final"])]}, ["measure ['final'] is not one of"]),
        ({TASK: [figure("none", "0.2")]}, ["value must be a finite number, got '0.2'"]),
        ({TASK: [figure("none", True)]}, ["value must be a finite number, got True"]),
        ({TASK: [{"value": 0.2, "measure": "final", "source": "s"}]}, ["missing key 'entry'"]),
        ({TASK: [{**figure("none", 0.2), "entyr": "x"}]}, ["unknown key 'entyr'", "read_off"]),
        ({TASK: [figure("none", 0.2, read_off="yes")]}, ["read_off must be true or false"]),
        ({TASK: [figure("none", 0.2, margin=-1)]}, ["margin must be a positive number"]),
        ({TASK: [figure("none", 0.2, steps=1e6)]}, ["steps must be a positive integer"]),
        ({TASK: figure("none", 0.2)}, [f"published[{TASK!r}] must be a list"]),
        ([figure("none", 0.2)], ["published must be a table of task name"]),
    ],
)
def test_a_bad_published_table_is_refused_before_anything_is_written(
    tree: Path, tmp_path: Path, published: Any, expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        main_report(tree, tmp_path / "r", reps=REPS, published=published)
    for part in expected:
        assert part in str(info.value), (part, str(info.value))
    assert not (tmp_path / "r").exists()
    # the same table in a matrix spec stops the matrix before its first cell
    spec = {"name": "t", "agents": ["ppo"], "bonuses": ["none"], "tasks": ["CartPole-v1"]}
    with pytest.raises(ConfigError) as info:
        specs.plan({**spec, "steps": 512, "report": {"published": published}}, tmp_path / "m")
    assert "[report] published" in str(info.value) and expected[0] in str(info.value)


def test_the_cli_flag_round_trips(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = tmp_path / "published.toml"
    published.write_text(
        "# a spec's table serves as is\n[report.published]\n"
        f'"{TASK}" = [\n'
        '  { entry = "none", value = 0.3, measure = "train_return", source = "T8" },\n'
        '  { entry = "icm", value = 0.5, measure = "final", source = "T8", read_off = true },\n'
        "]\n"
    )
    argv = ["report", str(tree), "--reps", str(REPS), "--format", "csv"]
    assert cli.main([*argv, "--out", str(tmp_path / "cli"), "--published", str(published)]) == 0
    assert "reproduction: 2 figures: 1 within, 1 above" in capsys.readouterr().out
    table = tomllib.loads(published.read_text())["report"]["published"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main_report(tree, tmp_path / "api", reps=REPS, formats=("csv",), published=table)
    cli_csv = (tmp_path / "cli" / "reproduction.csv").read_text()
    assert cli_csv == (tmp_path / "api" / "reproduction.csv").read_text()
    assert pd.read_csv(tmp_path / "cli" / "reproduction.csv")["verdict"].tolist() == [
        "within",
        "above",
    ]

    bad = tmp_path / "bad.toml"
    bad.write_text(f'"{TASK}" = [{{ entry = "none", value = 0.3, measure = "eval" }}]\n')
    capsys.readouterr()
    assert cli.main([*argv, "--out", str(tmp_path / "bad"), "--published", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "missing key 'source'" in err
    assert not (tmp_path / "bad").exists()
    assert cli.main([*argv, "--published", str(tmp_path / "absent.toml")]) == 2
    assert "cannot read the file" in capsys.readouterr().err


def test_the_raw_table_shows_the_other_measures_where_runs_logged_them(
    tree: Path, tmp_path: Path
) -> None:
    loaded = load_results(tree)
    raw = raw_table(loaded.runs, loaded.cards).set_index("bonus")
    assert raw.loc["none", "argmax policy (final_mode)"] == "0.000 ± 0.000"
    assert raw.loc["icm", "training episodes (train_return)"] == "0.900 ± 0.071"
    assert raw.loc["icm", "final score (raw)"] == "0.900 ± 0.000"
    # a tree that logged no argmax evaluation keeps its table without that column
    other = tmp_path / "old"
    write_run(other, "none", 0, (0.1, 0.2, 0.0))
    metrics = other / "m" / TASK.replace("/", "__") / "ppo" / "none" / "seed0" / "metrics.csv"
    text = metrics.read_text().replace(",eval_return_mode", "").replace(",0.0\n", "\n")
    metrics.write_text(text)
    loaded = load_results(other)
    assert "argmax policy (final_mode)" not in raw_table(loaded.runs, loaded.cards).columns
