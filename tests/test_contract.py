"""Every registered bonus meets the contract; and `check_bonus` catches contract breaches."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from bonuses.base import BonusConfig, IntrinsicBonus, Transitions, UnsupportedSpaceError
from explore_bench.plugins import registry
from explore_bench.plugins.testing import DEFAULT_SPACES, check_bonus


@pytest.mark.parametrize("name", registry.bonuses.names())
def test_registered_bonus_meets_contract(name: str) -> None:
    cls = registry.bonuses.load(name)
    report = check_bonus(cls)
    declared = [
        pair
        for pair in DEFAULT_SPACES
        if _kinds(pair)[0] in cls.observation_kinds and _kinds(pair)[1] in cls.action_kinds
    ]
    assert len(report.checked) == len(declared)
    assert len(report.checked) + len(report.refused) == len(DEFAULT_SPACES)


def _kinds(pair: tuple[gym.Space, gym.Space]) -> tuple[str, str]:
    from bonuses.base import action_kind, observation_kind

    return observation_kind(pair[0]), action_kind(pair[1])


# --------------------------------------------------------------------- a bonus that passes


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ToyConfig(BonusConfig):
    #: Adam learning rate.
    lr: float = 1e-2


class ToyLearned(IntrinsicBonus):
    """A minimal learned bonus: squared output of a linear net trained towards zero."""

    config_cls = _ToyConfig
    observation_kinds: ClassVar[frozenset[str]] = frozenset({"vector"})
    description = "toy"
    reference = "none"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.net = nn.Linear(int(self.observation_space.shape[0]), 1)  # type: ignore[index]
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)  # type: ignore[attr-defined]

    def compute(self, batch: Transitions) -> torch.Tensor:
        with torch.no_grad():
            return self.net(batch.next_obs.float()).squeeze(-1).pow(2)

    def update(self, batch: Transitions) -> dict[str, float]:
        loss = self.net(batch.next_obs.float()).pow(2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    def get_extra_state(self) -> Any:
        return {"opt": self.opt.state_dict()}

    def set_extra_state(self, state: Any) -> None:
        self.opt.load_state_dict(state["opt"])


def test_a_correct_vector_only_bonus_passes_and_refuses_the_rest() -> None:
    report = check_bonus(ToyLearned)
    assert report.checked == [
        "vector obs (6,) + box actions (2,)",
        "vector obs (6,) + discrete actions n=3",
    ]
    assert len(report.refused) == 2
    assert "checked" in str(report) and "refused" in str(report)


# ------------------------------------------------------------- breaches it must catch


class ForgetsOptimizer(ToyLearned):
    def get_extra_state(self) -> Any:
        return {}

    def set_extra_state(self, state: Any) -> None:
        return None


class ImpureCompute(ToyLearned):
    def compute(self, batch: Transitions) -> torch.Tensor:
        with torch.no_grad():
            self.net.bias.add_(1.0)
        return super().compute(batch)


class WrongShape(ToyLearned):
    def compute(self, batch: Transitions) -> torch.Tensor:
        return super().compute(batch).reshape(-1)


class WrongDtype(ToyLearned):
    def compute(self, batch: Transitions) -> torch.Tensor:
        return super().compute(batch).double()


class WrongDevice(ToyLearned):
    def compute(self, batch: Transitions) -> torch.Tensor:
        return super().compute(batch).to("meta")  # neither the batch's device nor the CPU


class NonFinite(ToyLearned):
    def compute(self, batch: Transitions) -> torch.Tensor:
        return super().compute(batch) / 0.0


class TensorMetrics(ToyLearned):
    def update(self, batch: Transitions) -> dict[str, float]:
        return {k: torch.tensor(v) for k, v in super().update(batch).items()}  # type: ignore[misc]


class Nondeterministic(ToyLearned):
    def compute(self, batch: Transitions) -> torch.Tensor:
        return super().compute(batch) + torch.rand(batch.ext_rewards.shape)


class UnsavedCounter(ToyLearned):
    """Keeps a Python counter that state_dict() does not hold."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen = 0

    def compute(self, batch: Transitions) -> torch.Tensor:
        return super().compute(batch) + float(self.seen)

    def update(self, batch: Transitions) -> dict[str, float]:
        self.seen += 1
        return super().update(batch)


class WrongErrorOnImages(ToyLearned):
    observation_kinds: ClassVar[frozenset[str]] = frozenset({"vector", "discrete"})

    def __init__(self, observation_space: gym.Space, *args: Any, **kwargs: Any) -> None:
        if len(observation_space.shape or ()) == 3:
            raise RuntimeError("no images")
        super().__init__(observation_space, *args, **kwargs)


class RefusesDeclaredBox(ToyLearned):
    def __init__(self, observation_space: gym.Space, action_space: gym.Space, *a: Any, **k: Any):
        if isinstance(action_space, gym.spaces.Box):
            raise UnsupportedSpaceError("no boxes")
        super().__init__(observation_space, action_space, *a, **k)


class RaisesOnDiscreteObservations(ToyLearned):
    """The README's first template: ``flatten(2)`` has no axis 2 on (T, N) observations."""

    observation_kinds: ClassVar[frozenset[str]] = frozenset({"vector", "discrete"})

    def __init__(self, observation_space: gym.Space, *args: Any, **kwargs: Any) -> None:
        IntrinsicBonus.__init__(self, observation_space, *args, **kwargs)
        self.net = nn.Linear(6, 1)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)  # type: ignore[attr-defined]

    def compute(self, batch: Transitions) -> torch.Tensor:
        return batch.next_obs.float().flatten(2).norm(dim=-1)


class ConfigNotABonusConfig(ToyLearned):
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Cfg:
        lr: float = 1e-2

    config_cls = Cfg  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (ForgetsOptimizer, "next update() left a different state"),
        (ImpureCompute, "changed the state"),
        (WrongShape, "expected (T, N)"),
        (WrongDtype, "expected torch.float32"),
        (WrongDevice, "returned a tensor on meta; the batch came on cpu"),
        (NonFinite, "non-finite"),
        (TensorMetrics, "expected a Python float"),
        (Nondeterministic, "different values when called twice"),
        (UnsavedCounter, "scores differently"),
        (WrongErrorOnImages, "expected UnsupportedSpaceError"),
        (RefusesDeclaredBox, "declares this space kind but refused it"),
        (ConfigNotABonusConfig, "frozen dataclass subclassing BonusConfig"),
        (
            RaisesOnDiscreteObservations,
            "check_bonus(RaisesOnDiscreteObservations) on discrete obs n=10 + discrete "
            "actions n=3: compute raised IndexError: Dimension out of range",
        ),
    ],
)
def test_check_bonus_catches(cls: type[IntrinsicBonus], message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_bonus(cls)


def test_check_bonus_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_bonus(ToyLearned, spaces=[DEFAULT_SPACES[0]])
    assert torch.equal(torch.rand(3), expected)


def test_custom_spaces() -> None:
    spaces = [(gym.spaces.Box(-5.0, 5.0, (3,), np.float32), gym.spaces.Discrete(2))]
    report = check_bonus(ToyLearned, spaces=spaces, num_steps=2, num_envs=1)
    assert report.checked == ["vector obs (3,) + discrete actions n=2"]
    assert report.refused == []


# --------------------------------------------------------------- the README's template


def readme_bonus_template() -> str:
    """The README's "Adding a bonus" code block, as a user copies it."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    found = [b for b in blocks if "(IntrinsicBonus)" in b and "def compute" in b]
    assert len(found) == 1, f"expected one bonus template in README.md, found {len(found)}"
    return found[0]


def test_the_readme_bonus_template_meets_the_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropped into `bonuses/` as the README says, the template passes `check_bonus` and is
    listed as the user's file, not as built-in."""
    import bonuses

    (tmp_path / "readme_template_bonus.py").write_text(readme_bonus_template())
    monkeypatch.setattr(bonuses, "__path__", [*bonuses.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "bonuses.readme_template_bonus", raising=False)
    reg = registry.Registry(
        "bonus",
        package="bonuses",
        finder=registry._single_subclass("bonuses.base:IntrinsicBonus"),
        shipped=registry.SHIPPED_BONUSES,
    )
    cls = reg.load("readme_template_bonus")
    assert cls.__name__ == "MyBonus"
    report = check_bonus(cls)
    assert len(report.checked) == len(DEFAULT_SPACES)  # vector, image and discrete
    assert reg.source("readme_template_bonus").startswith("file ")
    assert reg.source("readme_template_bonus").endswith("readme_template_bonus.py")
    assert reg.source("rnd") == "built-in"
