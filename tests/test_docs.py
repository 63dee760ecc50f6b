"""The README keeps to what a new user reads first, and every link in it and in docs/ leads
somewhere: a file that exists, and a heading there when the link names one (issue 27)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")

#: The README's sections: what the suite is, the reproduction table, the two commands, a tour,
#: where results go, adding a bonus, leaderboards, links and the changelog; everything longer
#: lives in docs/.
README_SECTIONS = [
    "Reproducing published results",
    "The two commands",
    "A short tour",
    "Where results go",
    "Adding a bonus",
    "Checking a bonus against the contract",
    "Leaderboards",
    "Documentation",
    "Changelog",
]


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings(text: str) -> list[str]:
    headings, in_code = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            headings.append(line.lstrip("#").strip())
    return headings


def test_the_readme_holds_only_the_first_read_sections() -> None:
    assert _headings((ROOT / "README.md").read_text())[1:] == README_SECTIONS


def test_anchor_matches_githubs_rule() -> None:
    assert _anchor("Ray executor: what to secure") == "ray-executor-what-to-secure"
    assert _anchor("What the evidence shows") == "what-the-evidence-shows"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    links = LINK.findall(page.read_text())
    for link in links:
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: link {link!r} leads to no file"
        if anchor and path.suffix == ".md":
            anchors = {_anchor(h) for h in _headings(path.read_text())}
            assert anchor in anchors, f"{page.name}: link {link!r}: no such heading"
