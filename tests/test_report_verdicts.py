"""What the report says: whole warnings, no winner among all-tied entries, separation
verdicts only where enough seeds show a difference that matters on the task."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pandas as pd
import pytest

from explore_bench.reports.build import main_report
from explore_bench.reports.headline import format_text, rank
from explore_bench.reports.separation import (
    ABOVE,
    BELOW,
    FEW_SEEDS,
    MIN_SEEDS,
    NO_REWARD,
    NOISE,
    OVERLAPS,
    separation_markdown,
    separations,
)

DATA = Path(__file__).parent / "data"


def _row(bonus: str, iqm: tuple[float, float, float], **extra: object) -> dict[str, object]:
    rate = extra.get("success_rate", math.nan)
    return {
        "found_reward": rate,
        "success_rate": rate,
        "success_rate_lo": rate,
        "success_rate_hi": rate,
        "suite": "T",
        "scale": "normalised score",
        "agent": "ppo",
        "bonus": bonus,
        "method": bonus,
        "tasks": 1,
        "runs_per_task": 5,
        "iqm": iqm[0],
        "iqm_lo": iqm[1],
        "iqm_hi": iqm[2],
        "mean": iqm[0],
        "mean_lo": iqm[1],
        "mean_hi": iqm[2],
        "poi_vs_none": 0.5,
        "poi_lo": 0.5,
        "poi_hi": 0.5,
        "poi_against": "" if bonus == "none" else "none",
        **extra,
    }


def test_entries_that_all_tie_are_not_ranked() -> None:
    zero = (-0.0122, -0.0122, -0.0122)  # DoorKey8x8 in results/evidence: every run scored 0
    rows = pd.DataFrame([_row(b, zero) for b in ("none", "count", "rnd")])
    ranked = rank(rows)
    assert ranked["all_tied"].all()
    text = format_text(rows)
    assert text.count("  tie ") == 3 and " 1 " not in text

    # a tie for first place above a lower entry is a shared win, and stays one
    rows = pd.DataFrame(
        [_row("none", (0.0, 0.0, 0.0)), _row("count", (1.0, 1.0, 1.0)), _row("rnd", (1.0, 1, 1))]
    )
    ranked = rank(rows)
    assert not ranked["all_tied"].any()
    assert ranked["rank"].tolist() == [1, 1, 3]


def test_ranking_table_bolds_no_entry_of_an_all_tied_suite(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = main_report(DATA / "report_tree", tmp_path, reps=200, profile_reps=50)
    md = (tmp_path / "leaderboard.md").read_text()
    door = md[md.index("### explore_bench/DoorKey8x8-v0") :]
    door = door[: door.index("\n### ")]
    table = [line for line in door.splitlines() if line.startswith("| ")][1:]  # no header
    assert len(table) == 3
    assert all(line.startswith("| tie |") and "**" not in line for line in table)
    four = md[md.index("### explore_bench/FourRooms-v0") :]
    first = [line for line in four.splitlines() if line.startswith("| ")][1]
    assert first.startswith("| **1**") and "count" in first  # a real winner stays bold

    # every warning is a whole sentence, wherever it is printed
    assert summary.warnings and all(w.endswith(".") for w in summary.warnings)
    door_note = next(
        w
        for w in summary.warnings
        if "ppo/none in suite 'explore_bench/DoorKey8x8-v0'" in w and "degenerate" in w
    )
    assert door_note.endswith(
        "and no run found reward (none of its 3 run x task scores reached the success "
        "threshold), which is all its IQM of 0 says."
    )
    assert door_note in md


def test_separation_needs_seeds_and_a_difference_that_matters() -> None:
    none = (-0.0019, -0.0021, -0.0017)
    rows = pd.DataFrame(
        [
            _row("none", none, success_rate=0.0),
            # DeepSea's move cost alone: intervals apart, no reward found on either side
            _row("rnd", (-0.0010, -0.0012, -0.0008), success_rate=0.0),
            _row("count", (0.8, 0.6, 1.0), success_rate=0.8),
            _row("icm", (0.01, -0.002, 0.5), success_rate=0.2),
            _row("few", (0.9, 0.8, 1.0), success_rate=1.0, runs_per_task=MIN_SEEDS - 1),
            _row("worse", (-0.5, -0.6, -0.4), success_rate=0.2),
            # ICM on SparseMountainCar: the flag in some episodes, no run at the threshold
            _row("partial", (0.17, 0.1, 0.57), success_rate=0.0, found_reward=0.8),
        ]
    )
    got = {r.bonus: r.verdict for r in separations(rows).itertuples()}
    assert got == {
        "rnd": NO_REWARD,
        "count": ABOVE,
        "icm": OVERLAPS,
        "few": FEW_SEEDS,
        "worse": BELOW,
        "partial": ABOVE,
    }
    text = separation_markdown(rows)
    assert "- **rnd** (ppo): no reward either side on `T`." in text
    assert "| rnd | 5 |" in text and "**above**" not in text.split("| rnd |")[1].split("\n")[0]


def test_separation_on_a_dense_task_needs_a_gap_above_the_cards_noise_floor() -> None:
    card = {"random_score": 0.0, "reference_score": 100.0, "noise_floor": 5.0}
    rows = pd.DataFrame(
        [
            _row("none", (0.50, 0.48, 0.52)),
            _row("small", (0.57, 0.55, 0.60)),  # gap 0.03 normalised = 3 raw < 5
            _row("large", (0.70, 0.60, 0.80)),  # gap 0.08 = 8 raw > 5
        ]
    )
    got = {r.bonus: r.verdict for r in separations(rows, cards={"T": card}).itertuples()}
    assert got == {"small": NOISE, "large": ABOVE}
    got = {r.bonus: r.verdict for r in separations(rows).itertuples()}
    assert got == {"small": ABOVE, "large": ABOVE}  # no floor stated: intervals decide


def test_a_variant_is_judged_against_the_baselines_variant_of_its_budget() -> None:
    rows = pd.DataFrame(
        [
            _row("none", (0.0, 0.0, 0.0), success_rate=0.0),
            _row("none-61k", (0.9, 0.8, 1.0), success_rate=1.0, method="none"),
            _row("count-61k", (0.9, 0.8, 1.0), success_rate=1.0, poi_against="none-61k"),
        ]
    )
    rows.loc[rows["bonus"] == "count-61k", "method"] = "count"
    got = {r.bonus: r.verdict for r in separations(rows).itertuples()}
    # against `none` (4k steps) it would read "above"; against none-61k it overlaps
    assert got == {"count-61k": OVERLAPS}
    assert "overlaps (vs none-61k)" in separation_markdown(rows)
    assert not math.isnan(float(rows["iqm"].sum()))


@pytest.mark.parametrize("seeds", [1, 2])
def test_too_few_seeds_never_separate(seeds: int) -> None:
    rows = pd.DataFrame(
        [
            _row("none", (0.0, 0.0, 0.0), success_rate=0.0, runs_per_task=seeds),
            _row("count", (1.0, 1.0, 1.0), success_rate=1.0, runs_per_task=seeds),
        ]
    )
    assert separations(rows)["verdict"].tolist() == [FEW_SEEDS]


def test_entries_of_different_budgets_are_labelled_by_budget(tmp_path: Path) -> None:
    from _report_runs import CARTPOLE, write_run

    for seed in range(3):
        write_run(tmp_path, "CartPole-v1", "ppo", "none", seed, card=CARTPOLE, evals=[5, 9])
        write_run(
            tmp_path,
            "CartPole-v1",
            "ppo",
            "none",
            seed,
            card=CARTPOLE,
            evals=[5, 9, 30, 60],
            steps=4000,
            variant={"name": "none-4k", "overrides": {"run.steps": 4000}},
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main_report(tmp_path, tmp_path / "r", reps=200, profile_reps=50, formats=("md",))
    md = (tmp_path / "r" / "leaderboard.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| rank |"))
    assert "| runs | steps |" in header
    rows = [line.replace("**", "") for line in md.splitlines() if line.startswith("| ")]
    ranking = rows[1 : 1 + 2]
    assert any("none-4k" in r and "| 4k |" in r for r in ranking)
    assert any("| none |" in r and "| 1k |" in r for r in ranking)
