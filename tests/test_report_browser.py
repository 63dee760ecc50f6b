"""The leaderboard page in headless Chromium at 1,280 px: the ranking comes first, in ranked
order; every image loads; nothing is wider than the window; charts' tick labels are apart."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from _report_runs import CARTPOLE, atari_card, chromium_dom, write_matrix, write_run

from explore_bench.reports.build import main_report

MONTEZUMA = atari_card("MontezumaRevenge", 0.0, 4753.3, sparse=True)
VENTURE = atari_card("Venture", 0.0, 1187.5, sparse=True)

# Runs in the page after load; its verdict goes into <pre id="verdict"> for --dump-dom.
PROBE = """<script>
window.addEventListener("load", function () {
  var width = window.innerWidth, out = {width: width, overflow: [], tables: []};
  var title = document.querySelector("h1");
  var all = Array.prototype.slice.call(document.querySelectorAll("h1 ~ *"));
  var first = document.querySelector("h1 ~ * table, h1 ~ table");
  out.first_table_class = first ? first.className : null;
  document.querySelectorAll("table").forEach(function (t) {
    out.tables.push({cls: t.className, rows: Array.prototype.map.call(
      t.querySelectorAll("tbody tr"), function (r) {
        return {agent: r.dataset.agent || "", bonus: r.dataset.bonus || "",
                suite: t.dataset.suite || "", iqm: r.dataset.iqm || "",
                rank: r.dataset.rank || "", bold: !!r.querySelector("strong")};
      })});
  });
  document.querySelectorAll("body *").forEach(function (e) {
    var box = e.getBoundingClientRect();
    if (box.width && box.right > width + 0.5) out.overflow.push(e.tagName + "." + e.className);
    if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
      out.overflow.push("scrolls:" + e.tagName + "." + e.className);
  });
  out.page_width = document.documentElement.scrollWidth;
  var imgs = Array.prototype.slice.call(document.images);
  out.images = imgs.length;
  out.images_ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  out.toc = Array.prototype.map.call(document.querySelectorAll("nav a"),
                                     function (a) { return a.getAttribute("href"); });
  out.headings = Array.prototype.map.call(document.querySelectorAll("h2"),
                                          function (h) { return h.textContent; });
  out.has_title = !!title && all.length > 0;
  var pre = document.createElement("pre");
  pre.id = "verdict";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium_probe(page: Path, tmp_path: Path) -> dict:
    """Load ``page`` in headless Chromium at 1,280 x 1,000 px and return the probe's verdict."""
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium_dom(probed, tmp_path, "--hide-scrollbars", "--window-size=1280,1000")
    start = dom.index('<pre id="verdict">') + len('<pre id="verdict">')
    text = dom[start : dom.index("</pre>", start)]
    return json.loads(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 agents x 3 entries (one a variant) on 2 sparse Atari games and CartPole, 3 seeds."""
    root = tmp_path_factory.mktemp("results")
    tasks = {"ALE/MontezumaRevenge-v5": MONTEZUMA, "ALE/Venture-v5": VENTURE}
    bonuses = {"none": 0.0, "rnd": 400.0, "rnd-coef0.3": 150.0}
    variants = {"rnd-coef0.3": {"bonus": "rnd", "overrides": {"shaping.coef": 0.3}}}
    for agent in ("ppo", "trpo"):
        write_matrix(
            root, tasks=tasks, bonuses=bonuses, agent=agent, steps=200_000, variants=variants
        )
    for seed in range(3):
        write_run(
            root, "CartPole-v1", "ppo", "none", seed, card=CARTPOLE, evals=[20.0, 100.0 + seed]
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = main_report(root, reps=300, profile_reps=100)
    return summary.out_dir / "index.html"


def test_the_first_table_is_the_ranking_in_ranked_order(page: Path, tmp_path: Path) -> None:
    verdict = chromium_probe(page, tmp_path)
    assert "ranking" in verdict["first_table_class"].split()
    rankings = [t for t in verdict["tables"] if "ranking" in t["cls"].split()]
    assert rankings
    for table in rankings:
        agents = {r["agent"] for r in table["rows"]}
        for agent in agents:
            rows = [r for r in table["rows"] if r["agent"] == agent]
            iqms = [float(r["iqm"]) for r in rows]
            assert iqms == sorted(iqms, reverse=True), (table["rows"][0]["suite"], agent)
            assert rows[0]["rank"] == "1" and rows[0]["bold"]
            assert not any(r["bold"] for r in rows[1:] if r["rank"] != "1")
    # a table of contents links every section; the protocol comes after the results
    headings = verdict["headings"]
    assert headings[0] == "Ranking"
    assert len(verdict["toc"]) >= len(headings) - 1
    assert headings.index("Protocol and normalisation") > headings.index("Per-task raw scores")


def test_every_image_loads_and_nothing_overflows_at_1280_px(page: Path, tmp_path: Path) -> None:
    verdict = chromium_probe(page, tmp_path)
    assert verdict["images"] > 0 and verdict["images_ok"] == verdict["images"]
    assert verdict["width"] == 1280
    assert verdict["page_width"] <= 1280
    assert verdict["overflow"] == []


def test_the_probe_sees_an_element_wider_than_the_window(tmp_path: Path) -> None:
    page = tmp_path / "wide.html"
    page.write_text(
        "<!DOCTYPE html><html><body><h1>t</h1><table class='ranking'><tbody><tr><td>"
        "<div style='width:2000px'>wide</div></td></tr></tbody></table></body></html>"
    )
    verdict = chromium_probe(page, tmp_path)
    assert verdict["overflow"] and verdict["page_width"] > 1280
