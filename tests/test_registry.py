"""Registries: names, import paths, entry points (a real test distribution), drop-in files."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import bonuses
from explore_bench.plugins import registry


def _fresh_bonus_registry() -> registry.Registry:
    return registry.Registry(
        "bonus",
        entry_point_group="explore_bench.bonuses",
        package="bonuses",
        finder=registry._single_subclass("bonuses.base:IntrinsicBonus"),
        validate=registry._subclass_of("bonuses.base:IntrinsicBonus"),
    )


def test_unknown_name_lists_known_names_and_closest_match() -> None:
    with pytest.raises(registry.UnknownNameError) as err:
        registry.bonuses.load("nonee")
    message = str(err.value)
    assert "'nonee'" in message and "did you mean 'none'?" in message
    assert "none" in message.split("Known:")[1]


def test_import_path_loads_without_registering() -> None:
    cls = registry.bonuses.load("const_bonus:ConstantBonus")
    assert cls.__name__ == "ConstantBonus"
    assert "const_bonus:ConstantBonus" not in registry.bonuses.names()
    assert registry.bonuses.source("const_bonus:ConstantBonus").startswith("import path")


def test_import_path_to_a_non_bonus_is_refused() -> None:
    with pytest.raises(registry.PluginLoadError, match="not a subclass of IntrinsicBonus"):
        registry.bonuses.load("const_bonus:ConstantConfig")


def _install_test_distribution(root: Path, entry_points: str) -> None:
    info = root / "fake_explore_plugin-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-explore-plugin\nVersion: 1.2.3\n"
    )
    (info / "entry_points.txt").write_text(entry_points)


def test_entry_point_discovery_and_broken_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_test_distribution(
        tmp_path,
        "[explore_bench.bonuses]\n"
        "constplug = const_bonus:ConstantBonus\n"
        "brokenplug = module_that_does_not_exist:Nothing\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    reg = _fresh_bonus_registry()
    assert {"constplug", "brokenplug", "none"} <= set(reg.names())
    assert reg.load("constplug").__name__ == "ConstantBonus"
    assert reg.source("constplug") == "fake-explore-plugin==1.2.3"
    with pytest.raises(registry.PluginLoadError, match="module_that_does_not_exist"):
        reg.load("brokenplug")
    status = {name: error for name, _, error in reg.status()}
    assert status["constplug"] is None and "module_that_does_not_exist" in status["brokenplug"]


def test_file_dropped_into_bonuses_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dropin_bonus.py").write_text(
        "import torch\n"
        "from bonuses.base import IntrinsicBonus\n"
        "class DropIn(IntrinsicBonus):\n"
        "    description = 'dropped in'\n"
        "    def compute(self, batch):\n"
        "        return torch.zeros(batch.ext_rewards.shape)\n"
        "    def update(self, batch):\n"
        "        return {}\n"
    )
    monkeypatch.setattr(bonuses, "__path__", [*bonuses.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "bonuses.dropin_bonus", raising=False)
    reg = _fresh_bonus_registry()
    assert "dropin_bonus" in reg.names()
    assert reg.load("dropin_bonus").description == "dropped in"
