"""Oracles for AE-SimHash (Tang et al. 2017, sec. 2.3): the code is binary at evaluation,
noisy only in training, the loss is the paper's eq. 3, and counts follow beta / sqrt(n)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from bonuses.ae_simhash import AESimHash, AESimHashConfig
from bonuses.base import Transitions, UnsupportedSpaceError

FRAMES = gym.spaces.Box(0, 255, (4, 52, 52), np.uint8)
ACT = gym.spaces.Discrete(4)


def batch(obs: torch.Tensor) -> Transitions:
    x = obs[:, None]
    zeros = torch.zeros(x.shape[:2])
    return Transitions(x, zeros.long(), x, zeros, zeros.bool(), zeros.bool())


def frames(count: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 4, 52, 52), dtype=torch.uint8, generator=g)


def test_code_is_binary_at_evaluation_and_noisy_only_in_training() -> None:
    torch.manual_seed(0)
    bonus = AESimHash(FRAMES, ACT)
    obs = frames(6, seed=0)
    codes = bonus.binary_codes(obs)
    assert codes.shape == (6, 512)
    assert set(codes.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(codes, bonus.binary_codes(obs))
    f = bonus.frames(obs)
    clean = bonus.code(f)
    noisy = bonus.add_noise(clean)
    assert not torch.equal(clean, noisy)
    assert (noisy - clean).abs().max() <= 0.3 + 1e-6


def test_counts_follow_beta_over_sqrt_n() -> None:
    torch.manual_seed(1)
    cfg = AESimHashConfig(beta=0.5, train_every=10**6)
    bonus = AESimHash(FRAMES, ACT, cfg)
    bonus.num_updates = 1  # past the first training: the codes stay fixed in this test
    a, b = frames(2, seed=1)
    codes = bonus.counter.codes(bonus.binary_codes(torch.stack([a, b])))
    assert not torch.equal(codes[0], codes[1]), "pick frames with different codes"
    first = torch.stack([a, a, b, a, b])
    want = 0.5 / torch.tensor([3, 3, 2, 3, 2], dtype=torch.float64).sqrt()
    assert torch.equal(bonus.compute(batch(first))[:, 0], want.float())
    bonus.update(batch(first))
    second = torch.stack([a, b, b])  # committed a: 3, b: 2; this batch adds a once, b twice
    want = 0.5 / torch.tensor([4, 4, 4], dtype=torch.float64).sqrt()
    assert torch.equal(bonus.compute(batch(second))[:, 0], want.float())


def test_loss_is_the_papers_eq3_without_noise() -> None:
    torch.manual_seed(2)
    cfg = AESimHashConfig(noise=0.0, binary_penalty=10.0, num_classes=64)
    bonus = AESimHash(FRAMES, ACT, cfg)
    f = bonus.frames(frames(3, seed=2))
    with torch.no_grad():
        loss, _ = bonus.loss(f)
        b = bonus.code(f)
        logp = torch.log_softmax(bonus.decoder(b), dim=1)  # (B, 64, 52, 52)
        cls = f[:, 0].long() // 4  # 256 levels -> 64 classes
        log_p_s = logp.gather(1, cls[:, None]).squeeze(1).sum((1, 2))
        pen = (10.0 / 512) * torch.minimum((1 - b) ** 2, b**2).sum(1)
        want = -(log_p_s - pen).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)


def test_training_lowers_the_reconstruction_loss() -> None:
    torch.manual_seed(3)
    bonus = AESimHash(FRAMES, ACT, AESimHashConfig(train_every=1, epochs=2))
    obs = frames(1, seed=3).expand(64, -1, -1, -1).clone()
    f = bonus.frames(obs)
    before = bonus.loss(f)[0].item()
    bonus.update(batch(obs))
    assert bonus.loss(f)[0].item() < before


def test_grids_and_small_frames_are_refused_up_front() -> None:
    grid = gym.spaces.Box(0, 10, (3, 7, 7), np.uint8)
    with pytest.raises(UnsupportedSpaceError, match="52x52"):
        AESimHash.default_config(grid, ACT)
    with pytest.raises(UnsupportedSpaceError, match="grids"):
        AESimHash(grid, ACT)
    with pytest.raises(UnsupportedSpaceError, match="image"):
        AESimHash(gym.spaces.Box(-1, 1, (5,), np.float32), ACT)


def test_84_pixel_frames_are_downsampled_to_52() -> None:
    frames84 = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    bonus = AESimHash(frames84, ACT)
    obs = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    assert bonus.frames(obs).shape == (3, 1, 52, 52)
    assert bonus.compute(batch(obs)).shape == (3, 1)
