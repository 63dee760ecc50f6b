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


@dataclasses.dataclass(frozen=True)
class Image:
    path: Path
    caption: str


Block = Heading | Para | Bullets | Table | Image


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


def to_markdown(blocks: Sequence[Block], base: Path) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {_md(b.text)}\n")
        elif isinstance(b, Para):
            out.append(_md(b.text) + "\n")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {_md(item)}" for item in b.items) + "\n")
        elif isinstance(b, Table):
            cols = [_md_cell(c) for c in b.frame.columns]
            lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            for row in b.frame.itertuples(index=False):
                cells = [_md_cell(v) for v in row]
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
table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f2f2f2}tr:nth-child(even) td{background:#fafafa}
table.headline td{white-space:nowrap}div.scroll{overflow-x:auto}
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
    for b in blocks:
        if isinstance(b, Heading):
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
            for _, row in b.frame.iterrows():
                attrs = _attrs({k: _cell(row[k]) for k in b.row_keys})
                rows.append(
                    f"<tr{attrs}>"
                    + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row)
                    + "</tr>"
                )
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
