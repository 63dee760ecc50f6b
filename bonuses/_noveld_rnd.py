"""NovelD's RND as released (tianjunz/NovelD ``src/models.py``, ``src/algos/bebold.py``).

A fixed random encoder (``MinigridStateEmbeddingNet``: 3x3 convolutions of 32/128/512
filters, strides 1/2/2, padding 1, ELU, then 2048 -> 1024 -> 1024 with ReLU; the release's
``init_``, orthogonal with ReLU gain and zero biases) embeds the RAW observation, never
normalised and never trained. On its 1024 features a target MLP
(``MinigridMLPTargetEmbeddingNet``: 1024 -> 128 -> 128 -> 128 -> 128) and a predictor
(``MinigridMLPEmbeddingNet``: 1024 -> 1024 -> 1024 -> 128 -> 128 -> 128) with torch's
default init (the release defines an
orthogonal ``init_`` for them but never applies it). nov(x) is the L2 norm of predictor minus
target; the predictor minimises its mean over the batch (``losses.compute_rnd_loss``),
Adam lr 1e-4, its gradient clipped at norm 40 (``--max_grad_norm``), one step per learner
batch of 32 actors x 100 steps = 3,200 env steps (here per `bonuses._encoders.StepSchedule`,
on the latest rollout).

Where the release has no counterpart (it runs MiniGrid only): frame stacks use RND's Atari
torso on the newest frame, vector and discrete (one-hot) observations a ReLU MLP to 1024,
both with the release's encoder init, then the same heads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from bonuses._encoders import (
    RND_CONV,
    StepSchedule,
    conv_trunk,
    frame,
    frame_shape,
    mlp,
    observation_features,
)
from bonuses.base import is_grid

#: MinigridStateEmbeddingNet's convolutions: (filters, kernel, stride, padding).
NOVELD_CONV = ((32, 3, 1, 1), (128, 3, 2, 1), (512, 3, 2, 1))
#: Width of the encoder's output, the heads' input.
WIDTH = 1024


def _release_init(module: nn.Module) -> nn.Module:
    """The release's ``init_``: orthogonal weights with ReLU gain, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            nn.init.orthogonal_(m.weight, nn.init.calculate_gain("relu"))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def _grid_encoder(shape: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = int(shape[0])
    for out, kernel, stride, pad in NOVELD_CONV:
        layers += [nn.Conv2d(channels, out, kernel, stride, pad), nn.ELU()]
        channels = out
    trunk = nn.Sequential(*layers, nn.Flatten())
    with torch.no_grad():
        width = int(trunk(torch.zeros(1, *shape)).shape[1])  # 2048 on a 7 x 7 view
    return nn.Sequential(
        trunk, nn.Linear(width, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU()
    )


class ReleaseRND(nn.Module):
    """NovelD's released novelty nov(x) and its predictor's training (module docstring)."""

    def __init__(
        self,
        obs_kind: str,
        shape: Sequence[int],
        num_states: int,
        learning_rate: float,
        minibatch_size: int,
        device: torch.device,
        max_grad_norm: float = 40.0,
    ) -> None:
        super().__init__()
        self.max_grad_norm = max_grad_norm
        self.obs_kind, self.num_states = obs_kind, num_states
        self.grid = obs_kind == "image" and is_grid(shape)
        if self.grid:
            encoder: nn.Module = _grid_encoder(shape)
        elif obs_kind == "image":
            trunk, width = conv_trunk(frame_shape(shape), RND_CONV, nn.ReLU)
            encoder = nn.Sequential(trunk, nn.Linear(width, WIDTH), nn.ReLU())
        else:
            encoder = nn.Sequential(mlp(num_states or int(shape[0]), (WIDTH,), WIDTH), nn.ReLU())
        self.encoder = _release_init(encoder).requires_grad_(False)
        self.target = mlp(WIDTH, (128, 128, 128), 128).requires_grad_(False)
        self.predictor = mlp(WIDTH, (WIDTH, WIDTH, 128, 128), 128)
        self.to(device)
        self.device = device
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=learning_rate)
        self.schedule = StepSchedule(minibatch_size)

    @torch.no_grad()
    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """Flat-batch observations -> (B, 1024) fixed random features of the raw input."""
        obs = obs.to(self.device)
        if self.grid:  # the raw symbolic grid (object, colour, state indices), not scaled
            return self.encoder(obs.float())
        if self.obs_kind == "image":
            obs = frame(obs)
        return self.encoder(observation_features(obs, self.obs_kind, self.num_states))

    def _novelty(self, x: torch.Tensor) -> torch.Tensor:
        return (self.predictor(x) - self.target(x)).norm(dim=-1)

    @torch.no_grad()
    def novelty(self, obs: torch.Tensor) -> torch.Tensor:
        """nov(x), (B,): the L2 norm (not squared) of predictor minus target."""
        return self._novelty(self.features(obs))

    @torch.no_grad()
    def novelty_of(self, features: torch.Tensor) -> torch.Tensor:
        """`novelty` of observations given their `features`."""
        return self._novelty(features)

    def train_on(self, next_obs: torch.Tensor, features: torch.Tensor | None = None) -> float:
        """The predictor's steps owed by these env steps (mean L2 norm loss); its mean loss.
        ``features``: those of ``next_obs`` when already computed."""
        count = self.schedule.steps(next_obs.shape[0])
        if count == 0:
            return 0.0
        x = self.features(next_obs) if features is None else features
        losses = []
        for idx in torch.randperm(x.shape[0], device=self.device).chunk(count):
            loss = self._novelty(x[idx]).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.max_grad_norm > 0:  # bebold.py learn: clip_grad_norm_(.., max_grad_norm)
                nn.utils.clip_grad_norm_(self.predictor.parameters(), self.max_grad_norm)
            self.optimizer.step()
            losses.append(loss.detach())
        return float(torch.stack(losses).mean())

    def get_extra_state(self) -> Any:
        return {"optimizer": self.optimizer.state_dict(), "step_credit": self.schedule.credit}

    def set_extra_state(self, state: Any) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.credit = float(state["step_credit"])
