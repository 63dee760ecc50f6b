"""Networks and training helpers shared by the learned bonuses (ICM, RND, EMI, ...).

`conv_trunk` is the one factory every bonus builds its image encoder with: for stacked
frames it builds the layers it is given; for a small symbolic grid (MiniGrid's 7 x 7 x 3
view, see `is_grid`) it builds `GRID_CONV` instead, since frame convolutions (8 x 8 kernels,
stride 4) do not fit a 7 x 7 input. `frame` and `frame_shape` give the part of an image
observation a bonus reads: the newest frame of a stack, or a grid's whole view.

The leading underscore keeps this module out of the bonus registry.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from bonuses.base import is_grid

#: One conv layer as (out_channels, kernel, stride, padding).
ConvSpec = tuple[int, int, int, int]

#: Pathak et al. 2017: four 3x3 convolutions, 32 filters, stride 2, padding 1, ELU.
ICM_CONV: tuple[ConvSpec, ...] = ((32, 3, 2, 1),) * 4
#: Burda et al. 2018 (after Mnih et al. 2015): 8x8/4, 4x4/2, 3x3/1 with 32, 64, 64 filters.
RND_CONV: tuple[ConvSpec, ...] = ((32, 8, 4, 0), (64, 4, 2, 0), (64, 3, 1, 0))
#: RIDE's MiniGrid state embedding (Raileanu & Rocktaeschel 2020; released code
#: facebookresearch/impact-driven-exploration, src/models.py MinigridStateEmbeddingNet):
#: three 3x3 convolutions, stride 2, padding 1, 32/32/128 filters (ELU there), 7x7 -> 128.
GRID_CONV: tuple[ConvSpec, ...] = ((32, 3, 2, 1), (32, 3, 2, 1), (128, 3, 2, 1))


def frame_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Shape of `frame` for an image observation shape: (1, H, W) for a stack of frames,
    all channels for a symbolic grid (its channels are object, colour and state, not time)."""
    return tuple(int(v) for v in shape) if is_grid(shape) else (1, *map(int, shape[1:]))


def frame(obs: torch.Tensor) -> torch.Tensor:
    """The newest frame (B, 1, H, W) of flat-batch frame stacks; a grid view unchanged."""
    return obs if is_grid(obs.shape[1:]) else obs[:, -1:]


def orthogonal_init(module: nn.Module, gain: float = 2.0**0.5) -> nn.Module:
    """Orthogonal weights and zero biases for every linear and conv layer (RND's init)."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            nn.init.orthogonal_(m.weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Linear layers with ``activation`` between them and none after the last."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def conv_trunk(
    input_shape: Sequence[int],
    layers: Sequence[ConvSpec],
    activation: type[nn.Module] = nn.ReLU,
) -> tuple[nn.Sequential, int]:
    """Conv layers, each followed by ``activation``, then a flatten; returns (net, width).

    For a symbolic grid input (`is_grid`) the layers are `GRID_CONV` whatever is passed:
    the frame architectures of the papers (Atari) do not fit a 7 x 7 view, and RIDE's grid
    embedding is what the MiniGrid papers (RIDE, NovelD) use.
    """
    if is_grid(input_shape):
        layers = GRID_CONV
    modules: list[nn.Module] = []
    channels = int(input_shape[0])
    for out, kernel, stride, pad in layers:
        modules += [nn.Conv2d(channels, out, kernel, stride, pad), activation()]
        channels = out
    modules.append(nn.Flatten())
    net = nn.Sequential(*modules)
    with torch.no_grad():
        width = int(net(torch.zeros(1, *input_shape)).shape[1])
    return net, width


class RunningMeanStd(nn.Module):
    """Per-element running mean and variance (Chan et al. parallel update), as buffers so
    that they are saved with the bonus. ``update`` is the only method that changes them."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(*shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(*shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a batch (leading axis = samples) into the statistics."""
        x = x.double()
        n = x.shape[0]
        if n == 0:
            return
        batch_mean, batch_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def normalize(self, x: torch.Tensor, clip: float) -> torch.Tensor:
        """(x - mean) / std, clipped to [-clip, clip], as float32."""
        out = (x.double() - self.mean) / torch.sqrt(self.var + 1e-8)
        return out.clamp(-clip, clip).float()


def minibatches(size: int, num_minibatches: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Index tensors of a random partition of ``range(size)`` into ``num_minibatches`` parts.

    Draws from torch's global generator, which the run seeds (and a resume restores).
    """
    perm = torch.randperm(size, device=device)
    yield from perm.chunk(max(1, min(num_minibatches, size)))


def observation_features(obs: torch.Tensor, kind: str, num_states: int = 0) -> torch.Tensor:
    """Flat-batch observations as float network inputs: one-hot for ``discrete`` (needs
    ``num_states``), uint8 pixels scaled to [0, 1], float32 for ``vector``."""
    if kind == "discrete":
        return nn.functional.one_hot(obs.long(), num_states).float()
    if kind == "image" and obs.dtype == torch.uint8:
        return obs.float() / 255.0
    return obs.float()
