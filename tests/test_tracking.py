"""TensorBoard tags grouped as CleanRL does, the config as hparams, W&B offline."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from _extras import need

from explore_bench import api
from explore_bench.runs.tracking import RENAMED, tag_for

RUN = dict(task="CartPole-v1", bonus="rnd", steps=512, seed=1, num_envs=2, eval_episodes=2)


def test_every_column_maps_to_one_tag():
    columns = [
        *RENAMED,
        "env_steps",
        "iteration",
        "bonus/predictor_loss",
        "int_reward_raw_mean",
        "int_coef",
        "coverage_states",
        "policy_loss",
        "kl",
    ]
    tags = {c: tag_for(c) for c in columns}
    assert tags["env_steps"] is None and tags["iteration"] is None
    assert tags["ext_return"] == "charts/episodic_return"
    assert tags["eval_return"] == "charts/eval_return"
    assert tags["sps"] == "charts/sps"
    assert tags["policy_loss"] == "losses/policy_loss"
    assert tags["time_bonus_s"] == "time/bonus_s"
    assert tags["bonus/predictor_loss"] == "bonus/predictor_loss"
    assert tags["int_coef"] == "bonus/shaping/int_coef"
    logged = [t for t in tags.values() if t is not None]
    assert len(set(logged)) == len(logged)


def test_tensorboard_events_have_grouped_tags_and_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    result = api.run(out=tmp_path, **RUN, agent__num_steps=64)
    acc = EventAccumulator(str(result.directory / "tb"))
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    expected = {tag_for(c) for c in result.metrics.columns} - {None}
    assert scalars == expected
    assert {"charts/episodic_return", "charts/eval_return", "charts/sps"} <= scalars
    assert {"losses/policy_loss", "losses/value_loss", "time/wall_s"} <= scalars
    assert any(t.startswith("bonus/") and "shaping" not in t for t in scalars)
    steps = [e.step for e in acc.Scalars("charts/eval_return")]
    evals = result.metrics.dropna(subset=["eval_return"])
    assert steps == evals["env_steps"].tolist()
    assert [e.value for e in acc.Scalars("charts/eval_return")] == pytest.approx(
        evals["eval_return"].tolist()
    )
    content = acc.PluginTagToContent("hparams")
    data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = data.session_start_info.hparams
    assert hparams["run.bonus"].string_value == "rnd"
    assert hparams["agent.num_steps"].number_value == 64
    assert hparams["shaping.coef"].number_value == 1.0
    assert "hyperparameters/text_summary" in acc.Tags()["tensors"]


def _wandb_records(path):
    """The protobuf records of a .wandb file (W&B's LevelDB-style log: a 7-byte file header,
    32 KiB blocks, each record chunk with a 7-byte header: crc32, length, type)."""
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, parts, chunks = 7, 32768, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (length == 0 and kind == 0):  # block padding
            pos += left
            continue
        payload = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 1:  # full
            chunks.append(payload)
        elif kind == 2:  # first
            parts = payload
        elif kind == 3:  # middle
            parts += payload
        elif kind == 4:  # last
            chunks.append(parts + payload)
    return [pb.Record.FromString(c) for c in chunks]


def test_wandb_offline_writes_the_same_scalars(tmp_path, monkeypatch):
    need("wandb", "wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    result = api.run(out=tmp_path, **RUN, agent__num_steps=64, track=True, wandb_mode="offline")
    (log,) = (result.directory / "wandb").glob("offline-run-*/run-*.wandb")
    history = [
        {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
        for r in _wandb_records(log)
        if r.WhichOneof("record_type") == "history"
    ]
    assert len(history) == len(result.metrics)
    for logged, (_, row) in zip(history, result.metrics.iterrows(), strict=True):
        assert logged["global_step"] == row["env_steps"]
        expected = {
            tag_for(str(c)): float(v) for c, v in row.items() if tag_for(str(c)) and pd.notna(v)
        }
        assert {k: v for k, v in logged.items() if not k.startswith("_")} == pytest.approx(
            {**expected, "global_step": row["env_steps"]}
        )
    config = json.loads((result.directory / "config.json").read_text())
    assert config["run"]["track"] is True and config["run"]["wandb_mode"] == "offline"
