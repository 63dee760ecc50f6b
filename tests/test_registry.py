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


@pytest.mark.parametrize(("typo", "meant"), [("RND", "rnd"), ("Count", "count"), ("nonee", "none")])
def test_a_typo_in_any_case_gets_a_did_you_mean(typo: str, meant: str) -> None:
    with pytest.raises(registry.UnknownNameError) as err:
        registry.bonuses.load(typo)
    assert str(err.value).startswith(f"unknown bonus {typo!r}; did you mean {meant!r}? Known: ")


def test_an_unknown_name_without_a_close_match_is_a_full_sentence() -> None:
    with pytest.raises(registry.UnknownNameError) as err:
        registry.bonuses.load("xyzzy")
    assert str(err.value).startswith("unknown bonus 'xyzzy'. Known: ")
    assert str(err.value).endswith(".")


def test_an_import_path_is_also_looked_for_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the installed ``explore-bench`` script runs: the current directory is not on
    sys.path, yet ``--bonus mypkg.mymodule:MyBonus`` from the folder holding ``mypkg/`` loads."""
    pkg = tmp_path / "cwd_plugin_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("from const_bonus import ConstantBonus as MyBonus\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "cwd_plugin_pkg", raising=False)
    monkeypatch.delitem(sys.modules, "cwd_plugin_pkg.mod", raising=False)
    assert registry.bonuses.load("cwd_plugin_pkg.mod:MyBonus").__name__ == "ConstantBonus"
    assert sys.path[-1] == str(tmp_path)  # last: it never shadows an installed module


def test_an_import_path_found_nowhere_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    with pytest.raises(registry.PluginLoadError) as err:
        registry.bonuses.load("no_such_pkg_here.mod:MyBonus")
    message = str(err.value)
    assert "'no_such_pkg_here'" in message and str(tmp_path) in message
    assert "PYTHONPATH" in message


def test_every_shipped_bonus_module_is_named_built_in() -> None:
    """A bonus module under version control is the suite's own; anything else found in
    `bonuses/` is a user's file and listed by its path (test_contract's README test)."""
    import shutil
    import subprocess

    root = Path(bonuses.__file__).parent
    if shutil.which("git") is None or not (root.parent / ".git").exists():
        pytest.skip("needs the git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "bonuses/*.py"], cwd=root.parent, capture_output=True, text=True
    ).stdout.split()
    names = {
        Path(f).stem
        for f in tracked
        if "/" not in f.removeprefix("bonuses/") and not Path(f).stem.startswith("_")
    } - {"base"}
    assert names == registry.SHIPPED_BONUSES
    assert {registry.bonuses.source(n) for n in names} == {"built-in"}


def test_the_entry_point_groups_are_the_published_ones() -> None:
    """Third-party packages declare these groups; the regrouping of the harness's modules
    (issue 26) must not rename them (``explore_bench.tasks`` had become
    ``explore_bench.envs.tasks`` with the module's move)."""
    assert registry.bonuses.entry_point_group == "explore_bench.bonuses"
    assert registry.agents.entry_point_group == "explore_bench.agents"
    assert registry.tasks.entry_point_group == "explore_bench.tasks"
