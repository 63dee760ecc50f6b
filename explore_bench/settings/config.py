"""Run configuration: frozen dataclasses, ``--set section.field=value`` overrides, presets.

A run is fully described by a `ResolvedRun`: the run settings, the agent's config, the
bonus's config, the reward-shaping config and the task's protocol card. It is written to
config.json and can be rebuilt from it (resume, remote workers).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import tempfile
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from explore_bench.errors import ConfigError
from explore_bench.plugins import registry
from explore_bench.settings import presets
from explore_bench.settings.devices import check_device_syntax, resolve_device
from explore_bench.settings.recipes import (
    MODES,
    Provenance,
    RecipeError,
    check_episodic,
    jsonable,
    recipe_layers,
    select,
)

C = TypeVar("C")

SECTIONS = ("run", "agent", "bonus", "shaping")
#: Sections a base layer may set: what every entry of a matrix starts from, below recipes.
BASE_SECTIONS = ("agent", "shaping")
#: config.json's record of the requested and the resolved device (see `ResolvedRun.to_dict`).
DEVICE_KEY = "device"
#: `RunSettings.vector` values: the task's native vector env, or gymnasium's.
VECTOR_KINDS = ("auto", "native", "sync", "async")


#: Largest step budget accepted (far beyond any published run; larger values are typos
#: such as 1e23 that would never reach an evaluation).
MAX_STEPS = 10**12
#: Seeds are used by NumPy, whose seeds are 32-bit.
MAX_SEED = 2**32 - 1
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What to run and how to log it."""

    #: Agent name or import path (see `explore-bench list`).
    agent: str = "ppo"
    #: Bonus name or import path.
    bonus: str = "none"
    #: Task name or any gymnasium id.
    task: str = "CartPole-v1"
    #: Environment-step budget (every step counts, warm-up included).
    steps: int = 100_000
    #: Seed for torch, numpy and the environments.
    seed: int = 0
    #: Parallel environments in the vector env.
    num_envs: int = 8
    #: Vector env: "auto" (the task's native vector env if it has one, else "sync"), "native"
    #: (ale-py's AtariVectorEnv for Atari tasks), or the gymnasium stack: "sync" (faster on
    #: few cores) or "async" (one process per env).
    vector: str = "auto"
    #: Preset applied before overrides (see `explore_bench.settings.presets`), or "".
    preset: str = ""
    #: "paper": the bonus's paper recipe on top of the agent's defaults; "shared": no
    #: recipe, every bonus under identical agent settings (see `explore_bench.settings.recipes`).
    recipe: str = "paper"
    #: Random-action steps per env before training, handed to the bonus's ``warm_up``
    #: (RND's observation statistics, Burda et al. 2018); they count in the budget.
    warmup_steps: int = 0
    #: Evaluate every this many env steps (0: ten evaluations over the budget).
    eval_interval: int = 0
    #: Episodes per evaluation (raw score, the policy's mode).
    eval_episodes: int = 5
    #: Save a resumable checkpoint every this many agent iterations (0: only at the end).
    checkpoint_interval: int = 10
    #: torch device: "auto" (a GPU when torch sees one, else the CPU), "cpu", "cuda", "cuda:K".
    device: str = "auto"
    #: Deterministic torch kernels (torch.use_deterministic_algorithms, cuDNN deterministic,
    #: CUBLAS_WORKSPACE_CONFIG=:4096:8; torch's reproducibility notes): same-seed GPU runs then
    #: repeat exactly on one machine, at some speed cost. CPU runs repeat without it.
    deterministic: bool = False
    #: torch intra-op threads (1 is fastest for MLPs on small machines).
    torch_threads: int = 1
    #: Record one evaluation episode as a video (run_dir/videos) every this many env steps
    #: (0: never); needs the `video` extra.
    video_every: int = 0
    #: Log to Weights & Biases as well (nothing is sent unless this is set; `wandb` extra).
    track: bool = False
    #: W&B project of a tracked run.
    wandb_project: str = "explore-bench"
    #: W&B entity (user or team) of a tracked run; "" = your default entity.
    wandb_entity: str = ""
    #: W&B mode: "online", or "offline" (writes run_dir/wandb only; `wandb sync` it later).
    wandb_mode: str = "online"

    def __post_init__(self) -> None:
        if not 0 < self.steps <= MAX_STEPS:
            raise ConfigError(
                f"run.steps must be a positive integer of at most {MAX_STEPS:.0e}, got {self.steps}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"run.seed must be in [0, {MAX_SEED}], got {self.seed}")
        if not 0 <= self.eval_interval <= MAX_STEPS:
            raise ConfigError(
                f"run.eval_interval must be in [0, {MAX_STEPS:.0e}] env steps, "
                f"got {self.eval_interval}"
            )
        if self.num_envs <= 0:
            raise ConfigError(f"run.num_envs must be a positive integer, got {self.num_envs}")
        if self.vector not in VECTOR_KINDS:
            raise ConfigError(
                f"run.vector must be one of {', '.join(VECTOR_KINDS)}, got {self.vector!r}"
            )
        if self.eval_interval < 0 or self.eval_episodes < 0:
            raise ConfigError("run.eval_interval and run.eval_episodes must be >= 0")
        if self.checkpoint_interval < 0:
            raise ConfigError(
                f"run.checkpoint_interval must be >= 0, got {self.checkpoint_interval}"
            )
        if self.torch_threads <= 0:
            raise ConfigError(f"run.torch_threads must be positive, got {self.torch_threads}")
        if self.recipe not in MODES:
            raise ConfigError(f"run.recipe must be one of {', '.join(MODES)}, got {self.recipe!r}")
        if self.warmup_steps < 0:
            raise ConfigError(f"run.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.warmup_steps * self.num_envs >= self.steps:
            raise ConfigError(
                f"run.warmup_steps={self.warmup_steps} x run.num_envs={self.num_envs} random "
                f"steps leave none of run.steps={self.steps} for training; lower "
                "run.warmup_steps (it counts in the budget)"
            )
        check_device_syntax(self.device)
        if self.video_every < 0:
            raise ConfigError(f"run.video_every must be >= 0, got {self.video_every}")
        if self.wandb_mode not in ("online", "offline"):
            raise ConfigError(
                f"run.wandb_mode must be 'online' or 'offline', got {self.wandb_mode!r}"
            )

    @property
    def effective_eval_interval(self) -> int:
        return self.eval_interval or max(1, self.steps // 10)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShapingConfig:
    """How the raw bonus becomes the intrinsic reward: normaliser, then coefficient."""

    #: Normaliser name ("none", "reward_rms", "return_rms", "minmax"); "" = the bonus's default.
    normalizer: str = ""
    #: Coefficient the normalised bonus is multiplied by.
    coef: float = 1.0
    #: Coefficient schedule over training: "constant", "linear" (to coef_final) or "exponential".
    schedule: str = "constant"
    #: Coefficient at the end of training for the linear schedule.
    coef_final: float = 0.0
    #: Per-iteration multiplicative decay for the exponential schedule.
    decay: float = 0.999
    #: Discount of the return whose running std `return_rms` divides by.
    return_gamma: float = 0.99
    #: Running statistics are clipped to this many standard deviations (0 = no clipping).
    clip: float = 0.0

    #: Fields that may be negative (a negative coefficient penalises novelty: an ablation).
    signed_fields: typing.ClassVar[frozenset[str]] = frozenset({"coef", "coef_final"})

    def __post_init__(self) -> None:
        # the contract names the normalisers; it loads torch, which `import explore_bench` skips
        from bonuses.base import NORMALIZERS

        if self.normalizer and self.normalizer not in NORMALIZERS:
            raise ConfigError(
                f"shaping.normalizer {self.normalizer!r} is not one of {', '.join(NORMALIZERS)}"
                " (or empty for the bonus's default)"
            )
        if self.schedule not in ("constant", "linear", "exponential"):
            raise ConfigError(
                f"shaping.schedule {self.schedule!r} is not one of constant, linear, exponential"
            )
        if not 0.0 < self.decay <= 1.0:
            raise ConfigError(f"shaping.decay must be in (0, 1], got {self.decay}")
        if not 0.0 <= self.return_gamma <= 1.0:
            raise ConfigError(f"shaping.return_gamma must be in [0, 1], got {self.return_gamma}")


# --------------------------------------------------------------------------- parsing


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


def config_from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
    """Rebuild a config dataclass from its ``dataclasses.asdict`` form (lists -> tuples)."""
    return apply_overrides(cls(), dict(data), cls.__name__)


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
    preset_sets = _preset_sections(preset, probe.agent) if preset is not None else {}
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
