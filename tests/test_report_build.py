"""`main_report` end to end on synthetic run directories, and the HTML in a real Chromium."""

from __future__ import annotations

import html.parser
import warnings
from pathlib import Path

import pandas as pd
import pytest
from _report_runs import CARTPOLE, atari_card, chromium_dom, write_matrix, write_run

from explore_bench.reports.build import ReportSummary, main_report
from explore_bench.reports.load import ReportError

MONTEZUMA = atari_card("MontezumaRevenge", 0.0, 4753.3, sparse=True)
VENTURE = atari_card("Venture", 0.0, 1187.5, sparse=True)
AGENTS, BONUSES = ("ppo", "trpo"), {"none": 0.0, "rnd": 400.0}
TASKS = ("ALE/MontezumaRevenge-v5", "ALE/Venture-v5")


def _report(root: Path, **kwargs: object) -> ReportSummary:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main_report(root, reps=300, profile_reps=100, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> ReportSummary:
    """2 agents x 2 bonuses x 2 sparse Atari games x 3 seeds; one run failed, one missing."""
    root = tmp_path_factory.mktemp("results")
    tasks = dict(zip(TASKS, (MONTEZUMA, VENTURE), strict=True))
    write_matrix(root, tasks=tasks, bonuses=BONUSES, agent="ppo")
    write_matrix(
        root,
        tasks=tasks,
        bonuses=BONUSES,
        agent="trpo",
        skip=[("ALE/Venture-v5", "rnd", 2), ("ALE/Venture-v5", "none", 1)],
    )
    write_run(root, "ALE/Venture-v5", "trpo", "none", 1, card=VENTURE, evals=[1.0], status="failed")
    return _report(root)


def test_writes_every_output(full: ReportSummary) -> None:
    names = {p.name for p in full.files}
    assert {"leaderboard.md", "index.html", "leaderboard.csv"} <= names
    for kind in (
        "intervals-all_tasks",
        "profiles-all_tasks-ppo",
        "poi-all_tasks-trpo",
        "iqm_curve-all_tasks-ppo",
        "curves-trpo",
    ):
        assert {f"{kind}.png", f"{kind}.svg"} <= names, kind
    assert all(p.stat().st_size > 0 for p in full.files)
    assert full.out_dir.name == "report"


def test_headline_numbers(full: ReportSummary) -> None:
    table = full.table
    # the aggregate, then each task on its own (an aggregate can hide a task)
    assert list(dict.fromkeys(table["suite"])) == ["all tasks", *TASKS]
    assert set(table["scale"]) == {"human-normalised score"}
    t = table[table["suite"] == "all tasks"].set_index(["agent", "bonus"])
    assert sorted(t.index) == [(a, b) for a in AGENTS for b in BONUSES]
    # rnd's final scores are 400 above none's on every run: it always wins
    assert t.loc[("ppo", "rnd"), "poi_vs_none"] == 1.0
    assert t.loc[("ppo", "rnd"), "runs_per_task"] == 3
    assert t.loc[("trpo", "rnd"), "runs_per_task"] == 2  # Venture seed 2 missing
    # every run scores > 0 raw, so every sparse run counts as a success
    assert t["success_rate"].tolist() == [1.0] * 4
    csv = pd.read_csv(full.out_dir / "leaderboard.csv")
    assert len(csv) == 4 * (1 + len(TASKS)) and {
        "iqm",
        "iqm_lo",
        "iqm_hi",
        "optimality_gap",
    } <= set(csv.columns)


def test_honest_edges_are_warned_and_counted(full: ReportSummary) -> None:
    text = "\n".join(full.warnings)
    assert "missing (no run directory): ALE/Venture-v5/trpo/rnd/seed2" in text
    assert "FAILED: ALE/Venture-v5/trpo/none/seed1" in text
    assert "unequal seed counts" in text
    assert (full.runs_failed, full.runs_missing, full.runs_finished) == (1, 1, 22)
    md = (full.out_dir / "leaderboard.md").read_text()
    assert "## Warnings" in md and "FAILED: ALE/Venture-v5/trpo/none/seed1" in md
    # the ranking leads; the protocol follows the results
    assert md.index("| rank | agent | bonus | runs | IQM") < md.index("Protocol and normalisation")
    assert "4753.3" in md  # the constants are stated


def test_raw_fallback_and_degenerate_iqm(tmp_path: Path) -> None:
    for seed in range(4):
        write_run(
            tmp_path, "CartPole-v1", "ppo", "none", seed, card=CARTPOLE, evals=[10.0, 20.0 + seed]
        )
        write_run(
            tmp_path,
            "explore_bench/Sparse-v0",
            "ppo",
            "none",
            seed,
            card={**MONTEZUMA, "name": "Sparse"},
            evals=[0.0, 5.0 if seed == 0 else 0.0],
        )
    with pytest.warns(UserWarning) as record:
        summary = main_report(tmp_path, reps=200, profile_reps=50, formats=("csv",))
    assert any("IQM is degenerate" in str(w.message) for w in record)
    text = "\n".join(summary.warnings)
    assert "no normalisation constants for CartPole-v1" in text
    assert "IQM is degenerate for ppo/none in suite 'explore_bench/Sparse-v0'" in text
    t = summary.table.set_index("suite")
    assert set(t.index) == {"CartPole-v1", "explore_bench/Sparse-v0"}  # per-task suites
    assert t.loc["CartPole-v1", "scale"] == "raw score"
    assert t.loc["CartPole-v1", "iqm"] == pytest.approx(21.5)  # raw: mean of 20..23
    assert pd.isna(t.loc["CartPole-v1", "optimality_gap"])
    assert t.loc["explore_bench/Sparse-v0", "success_rate"] == pytest.approx(0.25)
    assert t.loc["explore_bench/Sparse-v0", "iqm"] == 0.0
    assert {p.name for p in summary.files} == {"leaderboard.csv"}


def test_partial_dir_without_finished_runs_still_reports(tmp_path: Path) -> None:
    write_run(
        tmp_path, "CartPole-v1", "ppo", "none", 0, card=CARTPOLE, evals=[1.0], status="unfinished"
    )
    summary = _report(tmp_path, formats=("md",))
    assert summary.table.empty and summary.runs_unfinished == 1
    assert "no finished runs: nothing to aggregate." in summary.warnings
    assert "unfinished (no DONE)" in (summary.out_dir / "leaderboard.md").read_text()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match=r"no runs found in '.*empty'"):
        _report(tmp_path / "empty")


def test_two_reports_give_identical_numbers(tmp_path: Path) -> None:
    write_matrix(
        tmp_path / "r", tasks={"ALE/Venture-v5": VENTURE}, bonuses={"none": 0.0, "icm": 1.0}
    )
    a = _report(tmp_path / "r", out_dir=tmp_path / "a", formats=("csv",))
    b = _report(tmp_path / "r", out_dir=tmp_path / "b", formats=("csv",))
    assert (a.out_dir / "leaderboard.csv").read_bytes() == (
        b.out_dir / "leaderboard.csv"
    ).read_bytes()
    c = _report(tmp_path / "r", out_dir=tmp_path / "c", formats=("csv",), seed=1)
    assert not a.table["iqm_lo"].equals(c.table["iqm_lo"])  # the seed does drive the bootstrap


def test_unknown_format_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pdf"):
        main_report(tmp_path, formats=("pdf",))


# --------------------------------------------------------------------------- Chromium


class _Dom(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.images = 0
        self.headline_rows: list[list[tuple[str, str]]] = []
        self._in_headline = self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "img":
            self.images += 1
        elif tag == "table":
            self._in_headline = "headline" in (a.get("class") or "").split()
            if self._in_headline:
                self.headline_rows.append([])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_headline and self._in_body:
            self.headline_rows[-1].append((a.get("data-agent") or "", a.get("data-bonus") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_headline = self._in_body = False


def test_index_html_in_headless_chromium(full: ReportSummary, tmp_path: Path) -> None:
    page = (full.out_dir / "index.html").resolve()
    assert 'src="plots/' not in page.read_text()  # self-contained: images are inline
    html_out = chromium_dom(page, tmp_path)
    dom = _Dom()
    dom.feed(html_out)
    pngs = [p for p in full.files if p.suffix == ".png"]
    assert dom.images == len(pngs) > 0
    # set by the page's own script once every image is complete with a natural width
    assert dom.body.get("data-images-total") == str(len(pngs)), html_out[-500:]
    assert dom.body.get("data-images-loaded") == str(len(pngs))
    assert dom.body.get("data-images-ok") == "true"
    assert len(dom.headline_rows) == 1 + len(TASKS)  # all tasks, then each task
    for rows in dom.headline_rows:
        assert sorted(rows) == [(a, b) for a in AGENTS for b in BONUSES]
