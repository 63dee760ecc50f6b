"""Composite bonuses: the product or the sum of registered bonuses, e.g. ``rnd*e3b``.

Henaff et al. 2023 ("A Study of Global and Episodic Bonuses for Exploration in Contextual
MDPs", ICML) combine a global (lifelong) bonus with an episodic one and find the product
the most robust across tasks; NGU (Badia et al. 2020) multiplies its episodic novelty by a
lifelong modulator clip(1 + (err - mu) / sigma, 1, L) of RND's error.

Names: ``a*b`` (product) or ``a+b`` (sum) of two or more registered bonus names, one
operator per name, each part once. `composite_class` builds (and caches) the class, so it
is resolved like any bonus: ``--bonus rnd*count``, ``bonuses = ["rnd*count"]`` in a matrix.

Config: every part keeps its own config as a field named after it, so ``--set
bonus.rnd.learning_rate=3e-4`` (or a ``[bonus."rnd*count".rnd]`` table) reaches RND's
field; the composite's own fields are ``bonus.transforms``, ``bonus.weights`` and
``bonus.max_modulation``. The combined value is, per transition,
``prod_i w_i f_i(r_i)`` or ``sum_i w_i f_i(r_i)`` with r_i the part's raw `compute` and
f_i its transform: ``identity``, or ``modulator``, NGU's clip(1 + (r - mu) / sigma, 1, L)
with mu and sigma the running mean and std of r_i over every transition scored so far
(this batch included, committed in `update`) and L = ``max_modulation`` (5, as NGU).
NGU's form is then ``rnd*<episodic> --set bonus.transforms=modulator,identity``.

Rules:
- ``episodic`` is true when any part is episodic: an episodic part's memory restarts with
  each episode, so its bonus (and any product or sum holding it) belongs to one episode
  and the return stops at episode ends, as in NGU and Henaff et al.
- Parts must agree on `compute_after_update` (all score before their update, or all
  after); a mix is refused when the composite is built. Each part's own `update` runs, in
  part order, on the same batch.
- Observation and action kinds: those every part supports. Output normaliser: the parts'
  shared default, else ``none`` (the parts' raw values are combined before any scaling).
- The parts' paper recipes do not apply to a composite (it has none of its own).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, cast

import gymnasium as gym
import torch
from torch import nn

from bonuses._encoders import RunningMeanStd, modulation
from bonuses.base import BonusConfig, IntrinsicBonus, Transitions

__all__ = ["OPERATORS", "CompositeBonus", "CompositeConfig", "composite_class", "split"]

#: Operator character -> how the parts combine.
OPERATORS = {"*": "product", "+": "sum"}
TRANSFORMS = ("identity", "modulator")


def split(name: str) -> tuple[str, list[str]] | None:
    """(operator, part names) of a composite name, None for a plain name; ValueError for a
    malformed one (mixed operators, empty or repeated parts, import paths)."""
    ops = [op for op in OPERATORS if op in name]
    if not ops:
        return None
    if len(ops) > 1:
        raise ValueError(f"composite bonus {name!r} mixes '*' and '+'; use one operator")
    parts = [p.strip() for p in name.split(ops[0])]
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"composite bonus {name!r} has an empty part; write e.g. 'rnd*count'")
    bad = [p for p in parts if not p.isidentifier()]
    if bad:
        raise ValueError(f"composite bonus {name!r}: parts must be registered names, got {bad}")
    if len(set(parts)) != len(parts):
        raise ValueError(f"composite bonus {name!r} repeats a part; each part may appear once")
    return ops[0], parts


@dataclasses.dataclass(frozen=True, kw_only=True)
class CompositeConfig(BonusConfig):
    """The composite's own fields; `composite_class` adds one field per part (its config)."""

    #: Names of the parts, in order (set by the composite's name, not by the user).
    part_names: ClassVar[tuple[str, ...]] = ()
    #: Transform per part, in part order ("identity" or "modulator"); () = all identity.
    transforms: tuple[str, ...] = ()
    #: Weight per part, in part order; () = all 1.
    weights: tuple[float, ...] = ()
    #: Upper clip L of the "modulator" transform (Badia et al. 2020, NGU: L = 5).
    max_modulation: float = 5.0

    def __post_init__(self) -> None:
        n = len(self.part_names)
        for field, values in (("transforms", self.transforms), ("weights", self.weights)):
            if values and len(values) != n:
                raise ValueError(
                    f"bonus.{field} needs one entry per part {list(self.part_names)}, "
                    f"got {values!r}"
                )
        bad = [t for t in self.transforms if t not in TRANSFORMS]
        if bad:
            raise ValueError(f"bonus.transforms: {bad} not in {list(TRANSFORMS)}")
        if not self.max_modulation > 1.0:
            raise ValueError(f"bonus.max_modulation must be > 1, got {self.max_modulation!r}")


class CompositeBonus(IntrinsicBonus):
    """The product or sum of its parts' (transformed, weighted) raw bonuses."""

    config_cls: ClassVar[type[BonusConfig]] = CompositeConfig
    #: "product" or "sum".
    operator: ClassVar[str] = "product"
    #: The parts' classes, in part order.
    part_classes: ClassVar[tuple[type[IntrinsicBonus], ...]] = ()

    config: CompositeConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        cfg = self.config
        names = cfg.part_names
        self.parts = nn.ModuleDict(
            {
                name: cls(observation_space, action_space, getattr(cfg, name), device)
                for name, cls in zip(names, self.part_classes, strict=True)
            }
        )
        orders = {name: part.compute_after_update for name, part in self.part_items()}
        if len(set(orders.values())) > 1:
            after = [n for n, o in orders.items() if o]
            raise ValueError(
                f"{type(self).__name__}: {after} score after their update and the other parts "
                "before; a composite needs parts of one order"
            )
        self.compute_after_update = next(iter(orders.values()))
        self.transform_names = cfg.transforms or ("identity",) * len(names)
        self.weight_values = cfg.weights or (1.0,) * len(names)
        # Running statistics for "modulator" parts (all parts, for a fixed state_dict layout).
        self.stats = nn.ModuleDict({name: RunningMeanStd((1,)) for name in names})

    def part_items(self) -> list[tuple[str, IntrinsicBonus]]:
        """(name, bonus) of each part, in part order."""
        return [(name, cast(IntrinsicBonus, part)) for name, part in self.parts.items()]

    def _stats(self, name: str) -> RunningMeanStd:
        return cast(RunningMeanStd, self.stats[name])

    @classmethod
    def default_config(cls, observation_space: gym.Space, action_space: gym.Space) -> BonusConfig:
        """Each part's own `default_config` for these spaces."""
        parts = {
            name: part.default_config(observation_space, action_space)
            for name, part in zip(cls.config_cls.part_names, cls.part_classes, strict=True)  # type: ignore[attr-defined]
        }
        return cls.config_cls(**parts)

    def _modulate(self, name: str, raw: torch.Tensor) -> torch.Tensor:
        """clip(1 + (r - mu) / sigma, 1, L), the statistics including this batch."""
        rms = copy.deepcopy(self._stats(name))
        rms.update(raw.reshape(-1, 1))
        return modulation(raw, rms, self.config.max_modulation).float()

    def combine(self, raws: dict[str, torch.Tensor]) -> torch.Tensor:
        """The composite's value from each part's raw (T, N) bonus."""
        terms = []
        for (name, raw), kind, weight in zip(
            raws.items(), self.transform_names, self.weight_values, strict=True
        ):
            value = self._modulate(name, raw) if kind == "modulator" else raw.float()
            terms.append(weight * value)
        out = terms[0]
        for term in terms[1:]:
            out = out * term if self.operator == "product" else out + term
        return out.float()

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        return self.combine({name: part.compute(batch) for name, part in self.part_items()})

    def update(self, batch: Transitions) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for (name, part), kind in zip(self.part_items(), self.transform_names, strict=True):
            if kind == "modulator":  # the raw values the statistics see are this batch's scores
                raw = None if part.compute_after_update else part.compute(batch)
                metrics.update({f"{name}/{k}": v for k, v in part.update(batch).items()})
                raw = part.compute(batch) if raw is None else raw
                self._stats(name).update(raw.reshape(-1, 1))
                metrics[f"{name}/modulator_mean"] = float(self._stats(name).mean[0])
            else:
                metrics.update({f"{name}/{k}": v for k, v in part.update(batch).items()})
        return metrics


_CACHE: dict[str, type[CompositeBonus]] = {}


def composite_class(name: str, load: Callable[[str], Any]) -> type[CompositeBonus]:
    """The composite bonus class for ``name`` (e.g. ``"rnd*count"``), parts loaded with
    ``load`` (the bonus registry's). The same name always gives the same class."""
    key = name.replace(" ", "")
    if key in _CACHE:
        return _CACHE[key]
    parsed = split(key)
    if parsed is None:
        raise ValueError(f"{name!r} is not a composite bonus name (no '*' or '+')")
    op, names = parsed
    classes = tuple(load(part) for part in names)
    for part, cls in zip(names, classes, strict=True):
        if issubclass(cls, CompositeBonus):
            raise ValueError(f"composite bonus {name!r}: part {part!r} is itself a composite")
    config_cls = dataclasses.make_dataclass(
        f"CompositeConfig[{key}]",
        [
            (part, cls.config_cls, dataclasses.field(default_factory=cls.config_cls))
            for part, cls in zip(names, classes, strict=True)
        ],
        bases=(CompositeConfig,),
        frozen=True,
        kw_only=True,
        namespace={"part_names": tuple(names), "__module__": __name__},
    )
    normalizers = {cls.default_normalizer for cls in classes}
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "config_cls": config_cls,
        "operator": OPERATORS[op],
        "part_classes": classes,
        "episodic": any(cls.episodic for cls in classes),
        "default_normalizer": normalizers.pop() if len(normalizers) == 1 else "none",
        "observation_kinds": frozenset.intersection(*(c.observation_kinds for c in classes)),
        "action_kinds": frozenset.intersection(*(c.action_kinds for c in classes)),
        "description": f"{OPERATORS[op].capitalize()} of {', '.join(names)} (composite).",
        "reference": "; ".join(f"{n}: {c.reference}" for n, c in zip(names, classes, strict=True)),
        "recipes": {},
    }
    cls = type(f"Composite[{key}]", (CompositeBonus,), attrs)
    _CACHE[key] = cls
    return cls
