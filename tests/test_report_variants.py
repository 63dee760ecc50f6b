"""The report with variants (own entries, labelled, best one selected and flagged) and the
two corrected messages (normalisation scale, degenerate IQM with no reward found)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from _report_runs import CARTPOLE, atari_card, write_matrix, write_run

from explore_bench.reports.build import main_report

VENTURE = atari_card("Venture", 0.0, 1187.5, sparse=True)
VARIANTS = {
    "rnd-coef0.3": {"bonus": "rnd", "overrides": {"shaping.coef": 0.3}},
    "rnd-coef3": {"bonus": "rnd", "overrides": {"shaping.coef": 3.0}},
}


def _report(root: Path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main_report(root, reps=300, profile_reps=100, **kwargs)


def test_two_variants_are_two_labelled_leaderboard_entries(tmp_path):
    bonuses = {"none": 0.0, "rnd-coef0.3": 100.0, "rnd-coef3": 300.0}
    write_matrix(tmp_path, tasks={"ALE/Venture-v5": VENTURE}, bonuses=bonuses, variants=VARIANTS)
    summary = _report(tmp_path, best_variant="iqm")
    t = summary.table.set_index("bonus")
    assert sorted(t.index) == ["none", "rnd-coef0.3", "rnd-coef3"]
    assert t.loc["rnd-coef3", "method"] == "rnd" and t.loc["none", "method"] == "none"
    assert t.loc["rnd-coef0.3", "overrides"] == "shaping.coef=0.3"
    md = (summary.out_dir / "leaderboard.md").read_text()
    ranking = md[md.index("## Ranking") : md.index("**Contents:**")]
    # ranked by IQM: rnd-coef3 (+300) > rnd-coef0.3 (+100) > none, best in bold, labelled
    order = [ranking.index(f"| {e}") for e in ("**rnd-coef3 (rnd: shaping.coef=3.0)**",)]
    assert order and ranking.index("rnd-coef0.3 (rnd: shaping.coef=0.3)") > order[0]
    assert ranking.index("rnd-coef0.3 (rnd") < ranking.index("| 3 | ppo | none")
    # the selection says what it did, and that it is optimistic
    best = md[md.index("## Best variant per bonus") :]
    assert "**Selected by iqm**" in best and "optimistic" in best
    assert "| all tasks | ppo | rnd | rnd-coef3 | shaping.coef=3.0 |" in best
    assert any("optimistic" in w for w in summary.warnings)


def test_best_variant_metric_is_checked(tmp_path):
    with pytest.raises(ValueError, match="best_variant 'iq'"):
        main_report(tmp_path, best_variant="iq")


def test_scale_note_names_the_tasks_without_constants(tmp_path):
    deep_sea = {
        **VENTURE,
        "name": "explore_bench/DeepSea20-v0",
        "random_score": -0.005,
        "reference_score": 0.99,
        "success_threshold": 0.5,
    }
    for seed in range(3):
        write_run(tmp_path, "CartPole-v1", "ppo", "none", seed, card=CARTPOLE, evals=[9, 20])
        write_run(
            tmp_path,
            "explore_bench/DeepSea20-v0",
            "ppo",
            "none",
            seed,
            card=deep_sea,
            evals=[0.0, 0.0],
        )
    md = (_report(tmp_path).out_dir / "leaderboard.md").read_text()
    assert (
        "this task's card has constants, but `CartPole-v1` has none, so every task is "
        "reported on its own raw scale" in md
    )
    assert "**Raw scores, not normalised** (no normalisation constants in the card)." in md
    # no DeepSea run found the treasure: the warning must not speak of runs that found it
    note = next(w for w in _report(tmp_path).warnings if "DeepSea20" in w and "degenerate" in w)
    assert "ignores the runs that found reward" not in note
    assert "no run found reward" in note


def _variants_on_venture_only(root: Path) -> None:
    for seed in range(2):
        write_run(root, "CartPole-v1", "ppo", "none", seed, card=CARTPOLE, evals=[9, 20])
        write_run(root, "ALE/Venture-v5", "ppo", "none", seed, card=VENTURE, evals=[0, 1])
        for bonus in ("none", "count"):
            write_run(
                root,
                "ALE/Venture-v5",
                "ppo",
                bonus,
                seed,
                card=VENTURE,
                evals=[0.0, 1.0],
                variant={"name": f"{bonus}-long", "overrides": {"run.steps": 9}},
            )


def test_a_variant_on_some_tasks_is_not_missing_elsewhere(tmp_path):
    _variants_on_venture_only(tmp_path)
    summary = _report(tmp_path)
    assert summary.runs_missing == 0
    assert not any("missing" in w for w in summary.warnings)


def test_the_matrix_cells_file_makes_a_variant_expected_where_it_has_not_run(tmp_path):
    _variants_on_venture_only(tmp_path)
    cells = [
        [task, "ppo", entry, seed]
        for task in ("CartPole-v1", "ALE/Venture-v5")
        for entry in ("none", "none-long", "count-long")
        for seed in range(2)
    ]
    (tmp_path / "cells.json").write_text(json.dumps({"cells": cells}))
    summary = _report(tmp_path)
    assert summary.runs_missing == 4
    note = next(w for w in summary.warnings if "missing" in w)
    assert note.startswith("4 of 12 expected runs are missing")
    for entry in ("none-long", "count-long"):
        for seed in range(2):
            assert f"CartPole-v1/ppo/{entry}/seed{seed}" in note


def test_a_malformed_matrix_cells_file_is_named_and_not_used(tmp_path):
    _variants_on_venture_only(tmp_path)
    (tmp_path / "cells.json").write_text(json.dumps({"cells": [["CartPole-v1", "ppo"]]}))
    summary = _report(tmp_path)
    assert summary.runs_missing == 0
    assert any(
        "cells.json is not a list of [task, agent, entry, seed] cells" in w
        for w in summary.warnings
    )


def test_a_variant_is_compared_with_the_baselines_variant_of_the_same_overrides(tmp_path):
    long = {"run.steps": 9}
    bonuses = {"none": 0.0, "none-long": 0.0, "count-long": 50.0}
    variants = {
        "none-long": {"bonus": "none", "overrides": long},
        "count-long": {"bonus": "count", "overrides": long},
    }
    write_matrix(tmp_path, tasks={"ALE/Venture-v5": VENTURE}, bonuses=bonuses, variants=variants)
    summary = _report(tmp_path)
    t = summary.table.set_index("bonus")
    md = (summary.out_dir / "leaderboard.md").read_text()
    assert "(vs none-long)" in md
    row = next(line for line in md.splitlines() if "| none-long (none:" in line)
    assert "| baseline |" in row
    assert t.loc["count-long", "poi_against"] == "none-long"
    assert t.loc["none-long", "poi_against"] == ""  # the baseline's own variant is a baseline
    assert t.loc["count-long", "poi_vs_none"] == 1.0
