"""Optional packages the default tests use: skipped where absent, except in CI.

.ci/run installs the `ray`, `video` and `wandb` extras, so there a missing package is a
broken set-up, and a silent skip would hide the tests that need it.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def need(module: str, extra: str) -> ModuleType:
    """``module`` imported; skips without it (naming the extra), fails without it in CI."""
    if os.environ.get("CI", "").lower() == "true":
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            pytest.fail(f"{module} is missing in CI (.ci/run installs the '{extra}' extra): {exc}")
    return pytest.importorskip(module, reason=f"needs {module}: pip install -e '.[{extra}]'")
