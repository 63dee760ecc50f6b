"""`explore-bench config` lists every field of every config; --help and --version."""

from __future__ import annotations

import dataclasses
import re

import pytest

from explore_bench import __version__, cli
from explore_bench.plugins import registry
from explore_bench.settings.config import RunSettings, ShapingConfig
from explore_bench.settings.fields import describe


def _listed(out: str) -> dict[str, str]:
    """field name -> its default as printed, per `  name: type = default` line."""
    return dict(re.findall(r"^  (\w+): .+? = (.*)$", out, flags=re.M))


def _check(out: str, cls: type) -> None:
    listed = _listed(out)
    fields = dataclasses.fields(cls)
    assert list(listed) == [f.name for f in fields]
    for f in fields:
        if f.default is not dataclasses.MISSING:
            assert listed[f.name] == repr(f.default)


@pytest.mark.parametrize(
    "argv, cls",
    [(["run"], RunSettings), (["shaping"], ShapingConfig)]
    + [(["agent", n], registry.agents.load(n).config_cls) for n in registry.agents.names()]
    + [(["bonus", n], registry.bonuses.load(n).config_cls) for n in registry.bonuses.names()],
)
def test_config_lists_every_dataclass_field(argv, cls, capsys):
    assert cli.main(["config", *argv]) == 0
    _check(capsys.readouterr().out, cls)


def test_docs_and_sources_come_from_the_class_bodies(capsys):
    rows = {r.name: r for r in describe(registry.agents.load("ppo").config_cls)}
    assert rows["gae_lambda"].doc == "GAE lambda (Schulman et al. 2016)."
    assert rows["gae_lambda"].source == "agents.config.OnPolicyConfig"
    assert all(r.doc for r in describe(RunSettings))  # every run setting is documented
    assert cli.main(["config", "run"]) == 0
    out = capsys.readouterr().out
    assert "  steps: int = 100000\n      Environment-step budget" in out
    assert "[source: explore_bench.settings.sections.RunSettings]" in out


def test_config_bonus_on_a_task_shows_its_defaults(capsys):
    assert cli.main(["config", "bonus", "count", "--task", "explore_bench/DeepSea20-v0"]) == 0
    assert "[bonus count on explore_bench/DeepSea20-v0]" in capsys.readouterr().out


def test_config_rejects_a_bad_section(capsys):
    assert cli.main(["config", "agnet"]) == 2
    assert "choose run, shaping, agent NAME or bonus NAME" in capsys.readouterr().err


def test_version_and_help_with_defaults(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per option
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"explore-bench {__version__}"
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = capsys.readouterr().out
    assert "(default: ppo)" in out and "(default: results/runs)" in out and "examples:" in out
    assert f"(default: run.steps = {RunSettings().steps})" in out
