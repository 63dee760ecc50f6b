"""Registries of bonuses, agents and tasks, with lazy loading and plugin discovery.

Built-ins are registered by import path ("module:Attr") and imported on first use, so that
listing names never imports torch-heavy code. Third-party packages declare entry points in
the groups ``explore_bench.bonuses`` / ``explore_bench.agents`` / ``explore_bench.tasks``;
a module file dropped into ``bonuses/`` (or ``agents/``) is registered under its file name.
A plugin that fails to import fails only when it is asked for.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

#: The bonuses shipped in `bonuses/`; any other module found there is a file a user dropped
#: in, listed with its path instead of as built-in (`tests/test_registry.py` checks that
#: every bonus module under version control is named here).
SHIPPED_BONUSES = frozenset(
    {
        "ae_simhash",
        "count",
        "disagreement",
        "e3b",
        "emi",
        "icm",
        "ngu",
        "none",
        "noveld",
        "re3",
        "ride",
        "rnd",
    }
)


class UnknownNameError(KeyError):
    """An unknown plugin name; the message lists the known names and the closest match."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PluginLoadError(ImportError):
    """A registered plugin could not be imported or is not what its registry holds."""


@dataclasses.dataclass
class Entry:
    """One registered plugin: where it comes from and, once loaded, the object itself."""

    name: str
    target: str | Any
    source: str = "built-in"
    loaded: Any = None
    error: str | None = None


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """``"; did you mean 'rnd'?"`` for the closest known name (case ignored: ``RND`` finds
    ``rnd``), else ``"."``: the end of an "unknown NAME" sentence."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    return f"; did you mean {by_lower[close[0]]!r}?" if close else "."


def _import_module(module_name: str) -> Any:
    """`importlib.import_module`, also looking in the current directory, as ``python -m``,
    pytest and gymnasium users expect: ``--bonus mypkg.mymodule:MyBonus`` works from the
    directory holding ``mypkg/`` with the ``explore-bench`` script too (whose sys.path starts
    at the script's folder, not the current one). The directory goes last on the path, so it
    never shadows an installed module."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        here = os.getcwd()
        if exc.name != top or here in sys.path or "" in sys.path or "." in sys.path:
            raise
        sys.path.append(here)
        importlib.invalidate_caches()
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as again:
            if again.name != top:
                raise
            raise ModuleNotFoundError(
                f"No module named {top!r} on sys.path or in the current directory {here}: "
                "run from the directory that holds it, add its folder to PYTHONPATH, or "
                "install its package",
                name=top,
            ) from None


def import_path(path: str) -> Any:
    """Import ``"pkg.mod:Attr"`` (or ``"pkg.mod"`` when a finder picks the attribute); a
    module not on sys.path is also looked for in the current directory."""
    module_name, _, attr = path.partition(":")
    module = _import_module(module_name)
    if not attr:
        return module
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """Names -> plugins of one kind.

    ``register(name, "module:Attr")`` records an import path; ``load(name)`` imports it;
    ``load("module:Attr")`` imports a path without registering it.
    """

    def __init__(
        self,
        kind: str,
        *,
        entry_point_group: str | None = None,
        package: str | None = None,
        finder: Callable[[Any], Any] | None = None,
        validate: Callable[[Any], None] | None = None,
        compose: str | None = None,
        shipped: frozenset[str] | None = None,
    ) -> None:
        self.kind = kind
        #: The modules of ``package`` that ship with the suite (None: all of them).
        self._shipped = shipped
        #: "module:function" building a composite plugin from a name such as "rnd*count"
        #: (given the name and `load`); None: this registry has no composites.
        self._compose = compose
        self.entry_point_group = entry_point_group
        self.package = package
        self._finder = finder
        self._validate = validate
        self._entries: dict[str, Entry] = {}
        self._discovered = False

    # registration ----------------------------------------------------------------

    def register(self, name: str, target: str | Any, *, source: str = "built-in") -> None:
        """Register a plugin under ``name``; ``target`` is an import path or the object."""
        if not name or ":" in name:
            raise ValueError(f"invalid {self.kind} name {name!r}: use a non-empty name without ':'")
        self._entries[name] = Entry(name, target, source)

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        if self.package is not None:
            try:
                pkg = importlib.import_module(self.package)
            except ImportError:
                pkg = None
            paths = getattr(pkg, "__path__", [])
            for info in pkgutil.iter_modules(paths):
                if info.name.startswith("_") or info.name == "base" or info.ispkg:
                    continue
                shipped = self._shipped is None or info.name in self._shipped
                source = "built-in" if shipped else f"file {self._file(info)}"
                self._entries.setdefault(
                    info.name, Entry(info.name, f"{self.package}.{info.name}", source)
                )
        if self.entry_point_group is not None:
            for ep in importlib.metadata.entry_points(group=self.entry_point_group):
                dist = ep.dist
                source = f"{dist.name}=={dist.version}" if dist is not None else "entry point"
                self._entries.setdefault(ep.name, Entry(ep.name, ep.value, source))

    @staticmethod
    def _file(info: pkgutil.ModuleInfo) -> str:
        path = os.path.join(getattr(info.module_finder, "path", ""), f"{info.name}.py")
        try:
            return os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            return path

    # lookup ----------------------------------------------------------------------

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._discover()
        parts = self._parts(name)
        if parts is not None:
            return all(p in self._entries for p in parts)
        return name in self._entries or ":" in name

    def _parts(self, name: str) -> list[str] | None:
        """The part names of a composite name ("rnd*count"), None for a plain name."""
        if self._compose is None or ":" in name or not any(op in name for op in "*+"):
            return None
        return [p.strip() for p in name.replace("*", "+").split("+")]

    def source(self, name: str) -> str:
        parts = self._parts(name)
        if parts is not None:
            return "composite of " + ", ".join(f"{p} ({self.source(p)})" for p in parts)
        if ":" in name and name not in self._entries:
            return f"import path {name}"
        return self._entry(name).source

    def _entry(self, name: str) -> Entry:
        self._discover()
        if name not in self._entries:
            known = sorted(self._entries)
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, known)} "
                f"Known: {', '.join(known)}. "
                f"An import path 'module:Class' also works."
            )
        return self._entries[name]

    def load(self, name: str) -> Any:
        """The plugin object for a registered name, a composite name (``rnd*count``) or an
        import path ``module:Attr``."""
        parts = self._parts(name)
        if parts is not None:
            for part in parts:
                if part:
                    self._entry(part)  # an unknown part: UnknownNameError with a hint
            try:
                return import_path(str(self._compose))(name, self.load)
            except ValueError as exc:
                raise UnknownNameError(f"{self.kind} {name!r}: {exc}") from exc
        if ":" in name and name not in self._entries:
            return self._resolve(name, name)
        entry = self._entry(name)
        if entry.loaded is None:
            try:
                entry.loaded = self._resolve(name, entry.target)
            except PluginLoadError as exc:
                entry.error = str(exc)
                raise
        return entry.loaded

    def _resolve(self, name: str, target: str | Any) -> Any:
        obj = target
        if isinstance(target, str):
            try:
                obj = import_path(target)
            except Exception as exc:  # a broken plugin must not take the registry down
                raise PluginLoadError(
                    f"{self.kind} {name!r} could not be loaded from {target!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        if self._finder is not None and not (isinstance(target, str) and ":" in target):
            try:
                obj = self._finder(obj)
            except Exception as exc:
                raise PluginLoadError(f"{self.kind} {name!r} from {target!r}: {exc}") from exc
        if self._validate is not None:
            try:
                self._validate(obj)
            except Exception as exc:
                raise PluginLoadError(f"{self.kind} {name!r} from {target!r}: {exc}") from exc
        return obj

    def status(self) -> list[tuple[str, str, str | None]]:
        """(name, source, error or None) for every plugin, importing each to check it."""
        rows = []
        for name in self.names():
            entry = self._entries[name]
            try:
                self.load(name)
                error = None
            except PluginLoadError as exc:
                error = str(exc)
            rows.append((name, entry.source, error))
        return rows


def _single_subclass(base_path: str) -> Callable[[Any], Any]:
    """Finder for module-per-plugin packages: the one subclass of ``base`` defined there."""

    def find(module: Any) -> Any:
        if isinstance(module, type):
            return module
        base = import_path(base_path)
        found = [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, base)
            and obj is not base
            and obj.__module__ == module.__name__
            and not getattr(obj, "__abstractmethods__", None)
        ]
        abstract = [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, base)
            and obj.__module__ == module.__name__
            and getattr(obj, "__abstractmethods__", None)
        ]
        if not found and len(abstract) == 1:
            raise TypeError(_missing_methods(abstract[0], base))
        if len(found) != 1:
            names = [c.__name__ for c in found]
            raise TypeError(
                f"module {module.__name__} must define exactly one concrete "
                f"{base.__name__} subclass, found {names or 'none'}"
            )
        return found[0]

    return find


def _missing_methods(cls: type, base: type) -> str:
    """ "X does not implement update (required by Base)" for an abstract plugin class."""
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    s = "s" * (len(missing) > 1)
    return (
        f"{cls.__name__} does not implement the method{s} {', '.join(missing)} "
        f"(required by {base.__name__})"
    )


def _subclass_of(base_path: str) -> Callable[[Any], None]:
    def check(obj: Any) -> None:
        base = import_path(base_path)
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise TypeError(f"{obj!r} is not a subclass of {base.__name__}")
        if getattr(obj, "__abstractmethods__", None):
            raise TypeError(_missing_methods(obj, base))

    return check


bonuses = Registry(
    "bonus",
    entry_point_group="explore_bench.bonuses",
    package="bonuses",
    finder=_single_subclass("bonuses.base:IntrinsicBonus"),
    validate=_subclass_of("bonuses.base:IntrinsicBonus"),
    compose="bonuses._composite:composite_class",
    shipped=SHIPPED_BONUSES,
)
agents = Registry(
    "agent",
    entry_point_group="explore_bench.agents",
    validate=_subclass_of("agents.base:OnPolicyAgent"),
)
agents.register("ppo", "agents.ppo:PPO")
agents.register("trpo", "agents.trpo:TRPO")
tasks = Registry("task", entry_point_group="explore_bench.tasks")
