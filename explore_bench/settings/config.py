"""Run configuration: a run's settings resolved from their layers, with provenance.

A run is fully described by a `ResolvedRun`: the run settings, the agent's config, the
bonus's config, the reward-shaping config and the task's protocol card. It is written to
config.json and can be rebuilt from it (resume, remote workers). The sections themselves live
in `explore_bench.settings.sections`, the parsing of overrides in
`explore_bench.settings.overrides`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from explore_bench.errors import ConfigError
from explore_bench.plugins import registry
from explore_bench.settings import presets
from explore_bench.settings.devices import resolve_device
from explore_bench.settings.overrides import (
    SECTIONS,
    C,
    apply_overrides,
    check_values,
    config_from_dict,
    parse_sets,
    with_legacy_fields,
)
from explore_bench.settings.recipes import (
    Provenance,
    RecipeError,
    cap_warmup,
    check_episodic,
    jsonable,
    recipe_layers,
    select,
)
from explore_bench.settings.sections import (
    MAX_SEED,
    MAX_STEPS,
    VECTOR_KINDS,
    RunSettings,
    ShapingConfig,
)

__all__ = [
    "BASE_SECTIONS",
    "DEVICE_KEY",
    "MAX_SEED",
    "MAX_STEPS",
    "SECTIONS",
    "VECTOR_KINDS",
    "ConfigError",
    "ResolvedRun",
    "RunSettings",
    "ShapingConfig",
    "apply_overrides",
    "check_out_dir",
    "check_values",
    "config_differences",
    "config_from_dict",
    "parse_sets",
    "resolve",
]

#: Sections a base layer may set: what every entry of a matrix starts from, below recipes.
BASE_SECTIONS = ("agent", "shaping")
#: config.json's record of the requested and the resolved device (see `ResolvedRun.to_dict`).
DEVICE_KEY = "device"

# --------------------------------------------------------------------------- resolution


@dataclasses.dataclass(frozen=True)
class ResolvedRun:
    """Everything one run needs, as plain frozen configs."""

    run: RunSettings
    agent: Any
    bonus: Any
    shaping: ShapingConfig
    card: dict[str, Any]
    #: The concrete device ``run.device`` resolved to where the run was resolved ("cpu",
    #: "cuda:K"); `from_dict` resolves it again where the run happens.
    device: str = "cpu"
    #: The matrix variant this run belongs to: {"name": ..., "overrides": {"section.field":
    #: value}}; empty for a plain (task, agent, bonus) cell.
    variant: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    #: The recipe mode, every override with where it came from, and the warnings.
    recipe: Provenance | None = None

    def __post_init__(self) -> None:  # every way of building one (resolve, config.json) checks
        for section in SECTIONS:
            check_values(getattr(self, section), section)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "run": dataclasses.asdict(self.run),
            "agent": dataclasses.asdict(self.agent),
            "bonus": dataclasses.asdict(self.bonus),
            "shaping": dataclasses.asdict(self.shaping),
            "task_card": self.card,
            # Not read back: the device is resolved again where the run happens.
            DEVICE_KEY: {"requested": self.run.device, "resolved": self.device},
        }
        if self.variant:
            out["variant"] = dict(self.variant)
        if self.recipe is not None:
            out["recipe"] = self.recipe.to_dict()
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], device: str | None = None) -> ResolvedRun:
        """Rebuild a run from `to_dict`'s form; its device is resolved again here, from
        ``device`` when given (an executor's assignment) or else from ``run.device``."""
        run = config_from_dict(RunSettings, data["run"])
        agent_cls = registry.agents.load(run.agent)
        bonus_cls = registry.bonuses.load(run.bonus)
        return cls(
            run=run,
            agent=config_from_dict(agent_cls.config_cls, data["agent"]),
            bonus=config_from_dict(bonus_cls.config_cls, data["bonus"]),
            shaping=config_from_dict(ShapingConfig, data["shaping"]),
            card=dict(data["task_card"]),
            device=resolve_device(device or run.device),
            variant=dict(data.get("variant", {})),
            recipe=Provenance.from_dict(data["recipe"]) if "recipe" in data else None,
        )


def check_out_dir(path: Path, flag: str) -> None:
    """Refuse an output directory that is a file, or that cannot be created or written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {str(path)!r} is an existing file, not a directory")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{flag} {str(path)!r}: {str(existing)!r} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {str(path)!r}: {str(existing)!r} is not writable")
    # Permission bits do not tell everything (root, read-only mounts, /proc): try an empty
    # directory there, removed at once, so that a run never fails on its first mkdir.
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".explore-bench-probe-", dir=existing))
    except OSError as exc:
        raise ConfigError(
            f"{flag} {str(path)!r}: cannot create directories in {str(existing)!r} "
            f"({exc.strerror or exc})"
        ) from None


def config_differences(old: Any, new: ResolvedRun) -> list[str]:
    """``section.field: old -> new`` for every resolved setting a stored config.json (read
    as untrusted JSON) records differently; keys it holds beyond the resolved ones (notes
    such as the step budget actually run) are not settings and are ignored."""
    current = jsonable(new.to_dict())
    if not isinstance(old, Mapping):
        return [f"config.json: not a JSON object ({type(old).__name__})"]
    # The recipe block notes where each value came from: the settings themselves are compared.
    current.pop("recipe", None)
    old = {k: old.get(k) for k in current}
    for section in SECTIONS:  # fields added since it was written: the values it ran with
        if isinstance(old.get(section), Mapping):
            old[section] = jsonable(with_legacy_fields(type(getattr(new, section)), old[section]))
    if isinstance(old.get("task_card"), Mapping):
        from explore_bench.envs.tasks import ProtocolCard  # as resolve: gymnasium stays unloaded

        old["task_card"] = with_legacy_fields(ProtocolCard, old["task_card"])
    # Where a run executes is no setting: a run checkpointed on a GPU may resume on a CPU.
    for record in (old, current):
        record.pop(DEVICE_KEY, None)
        if isinstance(record.get("run"), dict):
            record["run"] = {k: v for k, v in record["run"].items() if k != "device"}
    return _diff(old, current)


def _diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


#: Run settings that name the cell; recorded in config.json's run section, not as overrides.
_IDENTITY = frozenset({"agent", "bonus", "task", "seed", "preset", "recipe"})
_USER = "the user (--set or the spec)"


def _layered(
    config: C,
    section: str,
    layers: list[tuple[str, str, Mapping[str, Any]]],
    prov: Provenance,
) -> C:
    """``config`` with each (source, label, overrides) layer applied in turn, recorded."""
    for source, label, overrides in layers:
        config = apply_overrides(config, overrides, section)
        for key in overrides:
            if not (section == "run" and key in _IDENTITY):
                prov.note(section, key, _field_value(config, key), source, label)
    return config


def _field_value(config: Any, key: str) -> Any:
    """A field's value; ``part.field`` reaches into a composite bonus's part config."""
    for name in key.split("."):
        config = getattr(config, name)
    return config


def _preset_sections(preset: Any, agent: str) -> dict[str, dict[str, Any]]:
    """A preset's overrides per section; a preset that names a bonus's recipe starts from it."""
    out: dict[str, dict[str, Any]] = {"run": {}, "agent": {}, "shaping": {}, "bonus": {}}
    if preset.recipe:
        target = preset.agent or agent
        chosen = select(registry.bonuses.load(preset.recipe).recipes, target)
        if chosen is None:
            raise ConfigError(f"bonus {preset.recipe!r} declares no paper recipe for {target!r}")
        chosen = chosen[1]
        out["run"].update(chosen.run)
        out["agent"].update(chosen.agent)
        out["shaping"].update(chosen.shaping)
    out["run"].update(preset.run)
    out["agent"].update(preset.agent_overrides)
    out["shaping"].update(preset.shaping)
    out["bonus"].update(preset.bonus)
    return out


def resolve(
    run_overrides: Mapping[str, Any],
    sets: Mapping[str, Mapping[str, Any]] | None = None,
    base: Mapping[str, Mapping[str, Any]] | None = None,
) -> ResolvedRun:
    """Build a `ResolvedRun` from run-level options and per-section overrides.

    Order (later wins): defaults -> ``base`` (a matrix's shared agent/shaping settings, see
    `BASE_SECTIONS`) -> the bonus's paper recipe (``run.recipe = "paper"``) -> preset ->
    overrides; every overridden field is recorded with its source, with the
    warnings of `explore_bench.settings.recipes`. Unknown names, unknown keys and badly typed values
    raise `ConfigError` or `UnknownNameError` before anything is created on disk.
    """
    from explore_bench.envs.tasks import resolve_task

    unknown = set(sets or {}) - set(SECTIONS)  # checked before the sections are filled in
    if unknown:
        raise ConfigError(f"unknown config sections {sorted(unknown)}; valid: {SECTIONS}")
    sets = {s: dict((sets or {}).get(s, {})) for s in SECTIONS}
    bad_base = set(base or {}) - set(BASE_SECTIONS)
    if bad_base:
        raise ConfigError(
            f"base settings for sections {sorted(bad_base)}: a base layer holds only "
            f"{', '.join(BASE_SECTIONS)} settings (the cell's run settings come from the spec)"
        )
    base = {s: dict((base or {}).get(s, {})) for s in BASE_SECTIONS}
    user_run = {**run_overrides, **sets["run"]}
    # the preset may be named by an option or by a run setting (--set run.preset=...)
    named = apply_overrides(RunSettings(), user_run, "run")
    preset = presets.get(named.preset) if named.preset else None
    # The cell, its preset and its mode come from every layer but the recipe's.
    probe = apply_overrides(RunSettings(), {**(preset.run if preset else {}), **user_run}, "run")
    agent_cls = registry.agents.load(probe.agent)
    bonus_cls = registry.bonuses.load(probe.bonus)
    agent_fields = {f.name for f in dataclasses.fields(agent_cls.config_cls)}
    try:
        prov, recipe = recipe_layers(
            bonus_cls, probe.bonus, probe.agent, agent_fields, probe.recipe
        )
    except RecipeError as exc:
        raise ConfigError(str(exc)) from exc
    recipe["run"] = cap_warmup(prov, recipe["run"], probe.steps, probe.num_envs)
    preset_sets = _preset_sections(preset, probe.agent) if preset is not None else {}
    if preset is not None and preset.recipe and "warmup_steps" not in preset.run:
        # the warm-up a preset takes from a bonus's recipe is that recipe's: cut it likewise
        preset_sets["run"] = cap_warmup(
            prov, preset_sets["run"], probe.steps, probe.num_envs, preset.recipe
        )
    label = f"preset {named.preset!r}"

    def layers(section: str) -> list[tuple[str, str, Mapping[str, Any]]]:
        user = user_run if section == "run" else sets[section]
        return [
            ("base", "the spec's [base]", base.get(section, {})),
            ("recipe", "recipe", recipe.get(section, {})),
            ("preset", label, preset_sets.get(section, {})),
            ("user", _USER, user),
        ]

    run = _layered(RunSettings(), "run", layers("run"), prov)
    device = resolve_device(run.device)  # an unavailable GPU fails here, before any file
    task = resolve_task(run.task)
    if run.vector == "native" and task.make_native_vector is None:
        raise ConfigError(
            f"run.vector='native': task {run.task!r} has no native vector env (see its card's "
            "notes); use 'auto', 'sync' or 'async'"
        )
    if preset is not None and preset.agent and preset.agent != run.agent and ":" not in run.agent:
        raise ConfigError(f"preset {run.preset!r} is for agent {preset.agent!r}, not {run.agent!r}")
    try:
        agent_cfg = _layered(agent_cls.config_cls(), "agent", layers("agent"), prov)
    except ConfigError as exc:
        if prov.applied:
            raise ConfigError(f"{exc} (with {run.bonus}'s paper recipe: {prov.source})") from exc
        raise
    shaping = _layered(ShapingConfig(), "shaping", layers("shaping"), prov)

    from bonuses.base import IntrinsicBonus, UnsupportedSpaceError, action_kind, observation_kind

    if run.warmup_steps and getattr(bonus_cls, "warm_up", None) is IntrinsicBonus.warm_up:
        prov.warn(
            f"run.warmup_steps={run.warmup_steps}: bonus {run.bonus} fits nothing on "
            "random-action steps, so they only spend budget"
        )

    env = task.make_env()
    try:
        obs_kind, act_kind = observation_kind(env.observation_space), action_kind(env.action_space)
        if obs_kind not in bonus_cls.observation_kinds or act_kind not in bonus_cls.action_kinds:
            raise ConfigError(
                f"bonus {run.bonus!r} does not support task {run.task!r} ({obs_kind} observations, "
                f"{act_kind} actions); it supports observations "
                f"{sorted(bonus_cls.observation_kinds)} and actions "
                f"{sorted(bonus_cls.action_kinds)}"
            )
        try:  # a bonus may refuse a space its kinds allow (AE-SimHash: grids)
            bonus_cfg = bonus_cls.default_config(env.observation_space, env.action_space)
        except UnsupportedSpaceError as exc:
            raise ConfigError(
                f"bonus {run.bonus!r} does not support task {run.task!r}: {exc}"
            ) from None
    finally:
        env.close()
    bonus_layers = [
        ("preset", label, preset_sets.get("bonus", {})),
        ("user", _USER, sets["bonus"]),
    ]
    bonus_cfg = _layered(bonus_cfg, "bonus", bonus_layers, prov)
    check_episodic(prov, bonus_cls, run.bonus, agent_cfg)
    return ResolvedRun(
        run=run,
        agent=agent_cfg,
        bonus=bonus_cfg,
        shaping=shaping,
        card=task.card_dict(run.vector),
        device=device,
        recipe=prov,
    )
