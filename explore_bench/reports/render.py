"""A report as a list of blocks, rendered to Markdown and to one self-contained HTML file."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd


@dataclasses.dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclasses.dataclass(frozen=True)
class Para:
    #: Text with `code` spans and **bold**; nothing else is interpreted.
    text: str


@dataclasses.dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


@dataclasses.dataclass(frozen=True)
class Table:
    frame: pd.DataFrame
    #: HTML class of the table (the headline tables are "headline").
    cls: str = ""
    #: HTML data-* attributes of the table.
    attrs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Columns whose values also go into data-* attributes of each row.
    row_keys: Sequence[str] = ()
    #: Per row, further data-* attributes (values not shown as columns, e.g. the IQM).
    row_data: Sequence[Mapping[str, str]] = ()
    #: Per row, whether it is shown in bold (the best entry of a ranking).
    bold: Sequence[bool] = ()
    #: Columns that hold prose (notes): they wrap instead of widening the table.
    prose: Sequence[str] = ()


@dataclasses.dataclass(frozen=True)
class Image:
    path: Path
    caption: str


@dataclasses.dataclass(frozen=True)
class Contents:
    """A table of contents: links to every heading of ``levels`` that follows it."""

    levels: tuple[int, ...] = (2,)


Block = Heading | Para | Bullets | Table | Image | Contents


def _toc(blocks: Sequence[Block], at: int, levels: tuple[int, ...]) -> list[tuple[int, str]]:
    return [
        (b.level, b.text) for b in blocks[at + 1 :] if isinstance(b, Heading) and b.level in levels
    ]


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _md(text: str) -> str:
    """Text for Markdown that code hosts render as HTML: outside `code` spans, a "<" of a
    plugin or task name (``<script>``) is escaped, so no tag can open, as in index.html;
    inside a code span it shows literally and is inert. One line, always."""
    parts = re.split(r"(`[^`\n]*`)", " ".join(str(text).splitlines()))
    return "".join(
        part
        if part.startswith("`") and part.endswith("`") and len(part) > 1
        else part.replace("<", "&lt;")  # no tag can open; ">" and "&" alone are inert
        for part in parts
    )


def _md_cell(value: object) -> str:
    return _md(_cell(value)).replace("|", "\\|")


def _md_anchor(text: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def to_markdown(blocks: Sequence[Block], base: Path) -> str:
    out: list[str] = []
    for i, b in enumerate(blocks):
        if isinstance(b, Contents):
            items = _toc(blocks, i, b.levels)
            links = " · ".join(f"[{text}](#{_md_anchor(text)})" for _, text in items)
            out.append(f"**Contents:** {links}\n")
        elif isinstance(b, Heading):
            out.append(f"{'#' * b.level} {_md(b.text)}\n")
        elif isinstance(b, Para):
            out.append(_md(b.text) + "\n")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {_md(item)}" for item in b.items) + "\n")
        elif isinstance(b, Table):
            cols = [_md_cell(c) for c in b.frame.columns]
            lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            for k, row in enumerate(b.frame.itertuples(index=False)):
                cells = [_md_cell(v) for v in row]
                if k < len(b.bold) and b.bold[k]:
                    cells = [f"**{c}**" if c else c for c in cells]
                lines.append("| " + " | ".join(cells) + " |")
            out.append("\n".join(lines) + "\n")
        elif isinstance(b, Image):
            caption = _md(b.caption).replace("]", "\\]")
            out.append(f"![{caption}]({b.path.relative_to(base).as_posix()})\n\n*{caption}*\n")
    return "\n".join(out)


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def _attrs(attrs: Mapping[str, str]) -> str:
    return "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in attrs.items())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:.9em;max-width:100%}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:#f2f2f2}tr:nth-child(even) td{background:#fafafa}
td.prose{min-width:12em;overflow-wrap:anywhere}
table.ranking tr.best td{background:#eef6ee}
nav.toc{background:#f7f7f7;border:1px solid #ddd;padding:.4em 1em;margin:1em 0}
nav.toc ul{display:inline;margin:0;padding:0 0 0 .5em}nav.toc li{display:inline}
nav.toc li+li:before{content:" · "}
div.scroll{overflow-x:auto}
figure{margin:1em 0 2em}figure img{max-width:100%;height:auto}
figcaption{color:#555;font-size:.9em}code{background:#f3f3f3;padding:0 .2em}
"""

# After every image has loaded (or failed), the body states how many decoded: tests and
# hosts can check that the self-contained file shows all of its plots.
_CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-total", String(imgs.length));
  document.body.setAttribute("data-images-loaded", String(ok));
  document.body.setAttribute("data-images-ok", String(ok === imgs.length));
});
</script>"""


def to_html(blocks: Sequence[Block], title: str) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
    ]
    for i, b in enumerate(blocks):
        if isinstance(b, Contents):
            items = _toc(blocks, i, b.levels)
            out.append(
                '<nav class="toc"><strong>Contents</strong><ul>'
                + "".join(
                    f'<li class="toc{lvl}"><a href="#{_slug(text)}">{_inline(text)}</a></li>'
                    for lvl, text in items
                )
                + "</ul></nav>"
            )
        elif isinstance(b, Heading):
            out.append(f'<h{b.level} id="{_slug(b.text)}">{_inline(b.text)}</h{b.level}>')
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            cls = f' class="{b.cls}"' if b.cls else ""
            rows = [
                f"<table{cls}{_attrs(b.attrs)}><thead><tr>"
                + "".join(f"<th>{html.escape(str(c))}</th>" for c in b.frame.columns)
                + "</tr></thead><tbody>"
            ]
            for k, (_, row) in enumerate(b.frame.iterrows()):
                attrs = {c: _cell(row[c]) for c in b.row_keys}
                attrs.update(b.row_data[k] if k < len(b.row_data) else {})
                bold = k < len(b.bold) and b.bold[k]
                tds = []
                for col, v in row.items():
                    text = html.escape(_cell(v))
                    text = f"<strong>{text}</strong>" if bold and text else text
                    cls = ' class="prose"' if col in b.prose else ""
                    tds.append(f"<td{cls}>{text}</td>")
                best = ' class="best"' if bold else ""
                rows.append(f"<tr{best}{_attrs(attrs)}>" + "".join(tds) + "</tr>")
            out.append('<div class="scroll">' + "".join(rows) + "</tbody></table></div>")
        elif isinstance(b, Image):
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            out.append(
                f'<figure><img src="data:image/png;base64,{data}" '
                f'alt="{html.escape(b.caption)}"><figcaption>{_inline(b.caption)}'
                "</figcaption></figure>"
            )
    out += [_CHECK, "</body></html>"]
    return "\n".join(out) + "\n"
