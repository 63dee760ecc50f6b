"""The documented example of a suite bonus inside a user's own loop (docs/own_loop.md) runs
and does what it says: intrinsic rewards on the rollout before the returns, bonus trained."""

from __future__ import annotations

import re
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "own_loop.md"


def test_the_documented_own_loop_runs_and_shapes_the_returns():
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    batch, int_rewards, returns = namespace["batch"], namespace["int_rewards"], namespace["returns"]
    assert int_rewards.shape == batch.ext_rewards.shape == (64, 4)
    assert torch.isfinite(int_rewards).all() and (int_rewards > 0).any()
    # the returns were computed on extrinsic + intrinsic rewards
    assert not torch.allclose(returns[-1], batch.ext_rewards[-1])
    assert torch.allclose(returns[-1], (batch.ext_rewards + int_rewards)[-1])
    # the true final observation (DeepSea's terminal row), never the reset one, at episode ends
    ends = batch.terminated
    assert ends.any()
    size = 20
    last_row = batch.next_obs[ends].reshape(-1, size + 1, size)[:, size].sum(-1)
    assert torch.all(last_row == 1.0)
    # the bonus was updated on every rollout (the shaper ran it 4 times and has its metrics)
    assert namespace["shaper"].iteration == 4
    assert "bonus/predictor_loss" in namespace["metrics"]
