"""The results layout (docs/design.md): ``<root>/<task>/<agent>/<bonus>/seed<k>/``.

Kept free of torch so that `report` and `status` can read a results tree cheaply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def safe_name(name: str) -> str:
    """A task/plugin name as one path component ("/" and ":" are not allowed there)."""
    return name.replace("/", "__").replace(":", "--")


def name_from_path(part: str) -> str:
    """The inverse of `safe_name` (for names without "__" or "--" of their own)."""
    return part.replace("__", "/").replace("--", ":")


def run_dir_for(root: Path, run: Any) -> Path:
    """<root>/<task>/<agent>/<bonus>/seed<k> for a run's settings (task, agent, bonus, seed)."""
    return (
        Path(root)
        / safe_name(run.task)
        / safe_name(run.agent)
        / safe_name(run.bonus)
        / f"seed{run.seed}"
    )
