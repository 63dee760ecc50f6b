"""Where a run's metrics go besides metrics.csv: TensorBoard, and Weights & Biases if asked.

TensorBoard tags follow CleanRL's grouping (Huang et al., JMLR 2022; e.g. cleanrl/ppo.py):
``charts/`` for returns, episode statistics, steps per second and the learning rate,
``losses/`` for the agent's update statistics, ``bonus/`` for the bonus and its shaping,
``time/`` for the wall-clock split. Each metrics.csv column maps to exactly one tag
(`tag_for`; the table is in docs/logging.md); ``env_steps`` is the x-axis and ``iteration`` is
not logged. The run's resolved config is written once as hparams and as a text table.

W&B logging is off unless ``run.track`` is set; it logs the same tags and values per step,
and ``run.wandb_mode = "offline"`` writes the run directory without any network.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: metrics.csv columns with a name of their own under ``charts/`` or ``time/``.
RENAMED = {
    "ext_return": "charts/episodic_return",
    "episode_length": "charts/episodic_length",
    "episodes": "charts/episodes",
    "eval_return": "charts/eval_return",
    "eval_return_std": "charts/eval_return_std",
    "eval_return_mode": "charts/eval_return_mode",
    "sps": "charts/sps",
    "lr": "charts/learning_rate",
    "wall_s": "time/wall_s",
    "time_rollout_s": "time/rollout_s",
    "time_bonus_s": "time/bonus_s",
    "time_update_s": "time/update_s",
}
#: Columns that are axes, not scalars.
NOT_LOGGED = frozenset({"env_steps", "iteration"})


def tag_for(column: str) -> str | None:
    """The TensorBoard / W&B tag of a metrics.csv column (None: not logged).

    Renamed columns as in `RENAMED`; ``bonus/<k>`` (the bonus's own update metrics) as is;
    the shaping statistics (``int_reward_*``, ``int_coef``) under ``bonus/``; coverage under
    ``charts/``; every other column is an agent update statistic under ``losses/``.
    """
    if column in NOT_LOGGED:
        return None
    if column in RENAMED:
        return RENAMED[column]
    if column.startswith("bonus/"):
        return column
    if column.startswith("int_reward") or column == "int_coef":
        return f"bonus/shaping/{column}"
    if column.startswith("coverage_"):
        return f"charts/{column}"
    return f"losses/{column}"


def flat_config(config: Mapping[str, Any]) -> dict[str, bool | int | float | str]:
    """``{"run": {"seed": 0}, ...}`` -> ``{"run.seed": 0, ...}`` with hparams-safe values."""
    out: dict[str, bool | int | float | str] = {}
    for section, fields in config.items():
        if not isinstance(fields, Mapping):
            continue
        for key, value in fields.items():
            name = f"{section}.{key}"
            if isinstance(value, bool | int | float | str):
                out[name] = value
            else:
                out[name] = json.dumps(value, default=str)
    return out


class Tracker:
    """One run's TensorBoard writer and optional W&B run; `log` takes a metrics.csv row."""

    def __init__(self, run_dir: Path, config: Mapping[str, Any], wandb_run: Any = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(Path(run_dir) / "tb"))
        self.wandb = wandb_run
        self._tags: dict[str, str | None] = {}
        self._write_config(config)

    def _write_config(self, config: Mapping[str, Any]) -> None:
        from torch.utils.tensorboard.summary import hparams

        flat = flat_config({k: v for k, v in config.items() if k != "task_card"})
        table = "|field|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in flat.items())
        self.writer.add_text("hyperparameters", table)
        # Written into this run's own event file (SummaryWriter.add_hparams would open a
        # second writer in a timestamped sub-directory); the metric names the hparams view
        # pairs with the config are the evaluation tags.
        file_writer = self.writer._get_file_writer()
        metrics = {"charts/eval_return": 0.0, "charts/episodic_return": 0.0}
        for summary in hparams(flat, metrics):
            file_writer.add_summary(summary)

    def log(self, row: Mapping[str, Any], step: int) -> None:
        """All of a metrics row as one TensorBoard event (``add_scalar`` per column costs an
        event, a protobuf and a queue put each); readers see the same scalars per tag."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        scalars = {}
        for key, value in row.items():
            if key not in self._tags:
                self._tags[key] = tag_for(key)
            tag = self._tags[key]
            if tag is not None:
                scalars[tag] = float(value)
        values = [Summary.Value(tag=t, simple_value=v) for t, v in scalars.items()]
        self.writer._get_file_writer().add_summary(Summary(value=values), step)
        if self.wandb is not None:
            self.wandb.log({**scalars, "global_step": step}, step=step)

    def close(self) -> None:
        self.writer.close()
        if self.wandb is not None:
            self.wandb.finish()


def start_wandb(run_dir: Path, config: Mapping[str, Any]) -> Any:
    """A W&B run for ``config`` (``run.track`` set), its files under ``run_dir/wandb``.

    Resumes the same W&B run id when a run directory is resumed.
    """
    try:
        import wandb
    except ImportError as exc:
        raise RuntimeError(
            "run.track needs Weights & Biases: pip install 'explore-bench[wandb]'"
        ) from exc
    run = config["run"]
    id_file = Path(run_dir) / "wandb_id"
    run_id = id_file.read_text().strip() if id_file.exists() else uuid.uuid4().hex[:8]
    if not id_file.exists():
        from explore_bench.store import io

        io.write_text(id_file, run_id + "\n")
    os.makedirs(Path(run_dir) / "wandb", exist_ok=True)
    return wandb.init(
        project=run["wandb_project"],
        entity=run["wandb_entity"] or None,
        mode=run["wandb_mode"],
        dir=str(run_dir),
        id=run_id,
        resume="allow",
        name=f"{run['task']}/{run['agent']}/{run['bonus']}/seed{run['seed']}",
        config={k: v for k, v in config.items()},
        sync_tensorboard=False,
        reinit="finish_previous",
    )
