"""Modules that can be called: ``explore_bench.matrix(spec)`` and ``explore_bench.report(dir)``.

Both names are submodules of the package and API functions (`explore_bench.api`). Importing a
submodule rebinds the package attribute of that name to the module, so each of the two
modules is made callable as its API function, whatever was imported first.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def make_callable(module_name: str, function_name: str) -> None:
    """Calling the module ``module_name`` calls ``explore_bench.api.<function_name>``."""

    class _Callable(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            # looked up by name at call time: the API imports these modules itself
            api = importlib.import_module("explore_bench.api")
            return getattr(api, function_name)(*args, **kwargs)

    sys.modules[module_name].__class__ = _Callable
