"""Parsing settings: ``--set section.field=value`` strings and TOML values onto frozen configs.

`apply_overrides` coerces each value to its field's annotated type and replaces it in a copy
of the config (a composite bonus's part configs as nested tables); `check_values` applies the
generic numeric checks every config gets without writing any.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from explore_bench.errors import ConfigError

C = TypeVar("C")

SECTIONS = ("run", "agent", "bonus", "shaping")
_INT64 = 2**63


def check_values(config: Any, section: str) -> None:
    """Generic checks of every numeric field of a config dataclass, so that new fields and
    plugin configs get them without writing any: floats finite, integers within 64 bits,
    both >= 0 unless the class lists the field in ``signed_fields``, and tuples of integers
    (layer widths, shapes) made of entries >= 1. Per-field ranges stay in ``__post_init__``.
    """
    signed: frozenset[str] = getattr(type(config), "signed_fields", frozenset())
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        where = f"{section}.{field.name}"
        if isinstance(value, tuple):
            for item in value:
                _check_number(item, where, value, minimum=1 if isinstance(item, int) else 0)
        else:
            _check_number(value, where, value, minimum=None if field.name in signed else 0)


def _check_number(value: Any, where: str, shown: Any, minimum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}={shown!r} is not a finite number")
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        raise ConfigError(f"{where}={shown!r} does not fit a 64-bit integer")
    if minimum is not None and value < minimum:
        what = "entries >= 1 (a layer width or size)" if minimum == 1 else "a value >= 0"
        raise ConfigError(f"{where}={shown!r}: expected {what}")


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a string (from --set) or a TOML value to the annotated type, or explain."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        is_null = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_null and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: cannot parse {value!r}")
    if origin is tuple:
        items = value
        if isinstance(value, str):
            items = [v for v in value.strip("()[] ").split(",") if v.strip()]
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{where}: expected a list like 64,64, got {value!r}")
        inner = args[0] if args else str
        return tuple(_coerce(v.strip() if isinstance(v, str) else v, inner, where) for v in items)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).replace("_", ""))
        except ValueError:
            try:
                as_float = float(str(value))
            except ValueError:
                as_float = float("nan")
            if as_float.is_integer():
                return int(as_float)
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        return str(value)
    return value


def apply_overrides(config: C, overrides: Mapping[str, Any], section: str) -> C:
    """A copy of the frozen dataclass ``config`` with fields replaced (values coerced)."""
    if not overrides:
        return config
    types_ = _field_types(type(config))
    changes: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}  # "rnd.lr" or a {"lr": ...} table for a config field
    for key, raw in overrides.items():
        head, dot, rest = key.partition(".")
        if dataclasses.is_dataclass(getattr(config, head if dot else key, None)):
            if dot:
                nested.setdefault(head, {})[rest] = raw
                continue
            if isinstance(raw, Mapping):
                nested.setdefault(key, {}).update(raw)
                continue
            raise ConfigError(
                f"{section}.{key} is a config of its own; set its fields as "
                f"{section}.{key}.<field>=value"
            )
        if key not in types_:
            close = difflib.get_close_matches(key, list(types_), n=1)
            hint = f" (did you mean {section}.{close[0]}?)" if close else ""
            raise ConfigError(
                f"{section}.{key} is not a field of {type(config).__name__}{hint}; "
                f"valid fields: {', '.join(sorted(types_))}"
            )
        changes[key] = _coerce(raw, types_[key], f"{section}.{key}={raw!r}")
    for key, sub in nested.items():  # a composite bonus's part configs
        changes[key] = apply_overrides(getattr(config, key), sub, f"{section}.{key}")
    try:
        return dataclasses.replace(config, **changes)  # type: ignore[type-var]
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section}: {exc}") from exc


def parse_sets(items: list[str]) -> dict[str, dict[str, str]]:
    """``["agent.lr=3e-4", "bonus.eta=0.1"]`` -> {"agent": {"lr": "3e-4"}, "bonus": {...}}."""
    out: dict[str, dict[str, str]] = {s: {} for s in SECTIONS}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, field = key.strip().partition(".")
        if not sep or not dot or not field:
            raise ConfigError(
                f"--set {item!r} is not of the form section.field=value "
                f"(sections: {', '.join(SECTIONS)})"
            )
        if section not in SECTIONS:
            raise ConfigError(
                f"--set {item!r}: unknown section {section!r}; valid: {', '.join(SECTIONS)}"
            )
        out[section][field] = value.strip()
    return out


def with_legacy_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (a stored config section) with the fields it lacks that ``cls`` lists in
    ``legacy_fields``: the values runs recorded before those fields existed were made with
    (RE3 scored s_{t+1} before ``re3.state``), so an old config.json reads as what it ran;
    fields it lists in ``retired_fields`` (no setting any more) are dropped."""
    legacy: Mapping[str, Any] = getattr(cls, "legacy_fields", {})
    retired: frozenset[str] = getattr(cls, "retired_fields", frozenset())
    kept = {k: v for k, v in data.items() if k not in retired}
    return {**{k: v for k, v in legacy.items() if k not in data}, **kept}


def config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Rebuild a config dataclass from its ``dataclasses.asdict`` form (lists -> tuples);
    fields an older config.json lacks take their `with_legacy_fields` values."""
    return apply_overrides(cls(), with_legacy_fields(cls, data), cls.__name__)
