"""Every field of a config dataclass with its type, default, one-line doc and source.

The doc is the ``#:`` comment above the field in the class body (the convention every config
in the suite follows, citing the paper a default comes from); the source is the class that
declares the field (a subclass may inherit it). Used by ``explore-bench config``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

_FIELD = re.compile(r"^\s*([A-Za-z_]\w*)\s*:")


@dataclasses.dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    default: str
    doc: str
    #: module.Class that declares the field.
    source: str


def _comments(cls: type) -> dict[str, str]:
    """field name -> its ``#:`` comment lines joined, from ``cls``'s own source."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    pending: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = _FIELD.match(line)
        if match and pending:
            out.setdefault(match.group(1), " ".join(pending))
        if stripped:
            pending = []
    return out


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        return repr(field.default)
    if field.default_factory is not dataclasses.MISSING:
        return repr(field.default_factory())
    return "(required)"


def describe(cls: type) -> list[FieldDoc]:
    """One `FieldDoc` per `dataclasses.fields(cls)`, in declaration order."""
    hints = typing.get_type_hints(cls)
    docs: dict[str, tuple[str, str]] = {}
    for klass in reversed(cls.__mro__):  # the most derived declaration wins
        if not dataclasses.is_dataclass(klass):
            continue
        own = inspect.get_annotations(klass)
        comments = _comments(klass)
        for name in own:
            docs[name] = (comments.get(name, ""), f"{klass.__module__}.{klass.__qualname__}")
    out = []
    for f in dataclasses.fields(cls):
        doc, source = docs.get(f.name, ("", f"{cls.__module__}.{cls.__qualname__}"))
        tp = _type_name(hints.get(f.name, f.type))
        out.append(FieldDoc(f.name, tp, _default(f), doc, source))
    return out


def format_fields(title: str, cls: type, instance: Any = None) -> str:
    """A section for the terminal: each field on one line, its doc and source on the next.

    ``instance``: show its values as the defaults (a bonus's task-dependent defaults).
    """
    rows = describe(cls)
    lines = [f"[{title}]  ({cls.__module__}.{cls.__qualname__})"]
    for row in rows:
        default = repr(getattr(instance, row.name)) if instance is not None else row.default
        lines.append(f"  {row.name}: {row.type} = {default}")
        lines.append(f"      {row.doc or '(no doc)'}  [source: {row.source}]")
    return "\n".join(lines)
