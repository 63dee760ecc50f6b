"""The harness's error types that several modules raise (kept apart so none of them has to
import another's internals)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad configuration value or key; the message names it and the valid choices."""
