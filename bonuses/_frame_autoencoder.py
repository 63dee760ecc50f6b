"""The convolutional autoencoder of AE-SimHash (Tang et al. 2017, sec. 2.3), as in the
authors' sandbox (florensacc/rllab-curriculum): ``layers_disc`` of
``sandbox/rein/algos/embedding_theano2/launch_trpo_atari_img.py`` (at 8728e61) and of
``launch_trpo_plus_lsh_atari_ram.py`` (at 913e5581), built by
``sandbox/rein/dynamics_models/bnn/conv_bnn_count.py`` (``build_network``).

Encoder: three 6x6 stride-2 convolutions of 96 filters (pads 0, 1, 2), a dense layer of 1024,
and the code layer: a dense layer of K units, then the sigmoid (``DiscreteEmbedding*Layer``).
Decoder: dense 1024, dense 2400, reshape to 96 x 5 x 5, three 6x6 stride-2 transposed
convolutions (crops 2, 0, 0), ReLU between the layers.

Batch normalisation (``batch_norm = True`` in both launchers): lasagne's ``batch_norm(layer)``
drops the layer's bias and nonlinearity and adds the normalisation before the nonlinearity,
and the code layer is ``DiscreteEmbeddingLinearLayer -> BatchNormLayer -> sigmoid``; lasagne's
defaults, epsilon 1e-4 and running averages updated by 0.1 of each batch (torch's momentum
0.1). It is what keeps the codes apart: without it the code's pre-activations drift together
to one saturated value for every frame within 20 Adam steps (issue 29's probe: one code for
all frames of two families), with it the codes of both families stay distinct.

Left out: the sandbox's last transposed convolution has 96 filters and batch normalisation,
followed by a per-pixel softmax layer (``IndependentSoftmaxLayer``, a 96 -> classes map and a
per-pixel bias); here the last transposed convolution gives the class logits directly.

The leading underscore keeps this module out of the bonus registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

#: lasagne.layers.BatchNormLayer's epsilon (its running-average factor alpha 0.1 is torch's
#: default momentum).
BN_EPS = 1e-4
#: Frames are image_size x image_size (paper: 52); the third convolution leaves 96 x 5 x 5.
FRAME_SIZE = 52
_FLAT = 96 * 5 * 5


def _norm(layer: nn.Module, width: int, batch_norm: bool, image: bool) -> list[nn.Module]:
    if not batch_norm:
        return [layer]
    norm = nn.BatchNorm2d(width, eps=BN_EPS) if image else nn.BatchNorm1d(width, eps=BN_EPS)
    return [layer, norm]


def _conv(cin: int, pad: int, batch_norm: bool) -> list[nn.Module]:
    return _norm(nn.Conv2d(cin, 96, 6, 2, pad, bias=not batch_norm), 96, batch_norm, True)


def _dense(cin: int, cout: int, batch_norm: bool) -> list[nn.Module]:
    return _norm(nn.Linear(cin, cout, bias=not batch_norm), cout, batch_norm, False)


def _deconv(crop: int, batch_norm: bool) -> list[nn.Module]:
    layer = nn.ConvTranspose2d(96, 96, 6, 2, crop, bias=not batch_norm)
    return _norm(layer, 96, batch_norm, True)


def frame_encoder(code_dim: int, batch_norm: bool) -> nn.Sequential:
    """(B, 1, 52, 52) frames in [0, 1] -> (B, code_dim) sigmoid codes."""
    relu = nn.ReLU
    return nn.Sequential(
        *_conv(1, 0, batch_norm), relu(),  # 52 -> 24
        *_conv(96, 1, batch_norm), relu(),  # 24 -> 11
        *_conv(96, 2, batch_norm), relu(),  # 11 -> 5
        nn.Flatten(), *_dense(_FLAT, 1024, batch_norm), relu(),
        *_dense(1024, code_dim, batch_norm), nn.Sigmoid(),
    )  # fmt: skip


def frame_decoder(code_dim: int, num_classes: int, batch_norm: bool) -> nn.Sequential:
    """(B, code_dim) codes -> (B, num_classes, 52, 52) logits of each pixel's intensity class."""
    relu = nn.ReLU
    return nn.Sequential(
        *_dense(code_dim, 1024, batch_norm), relu(), *_dense(1024, _FLAT, batch_norm), relu(),
        nn.Unflatten(1, (96, 5, 5)),
        *_deconv(2, batch_norm), relu(),  # 5 -> 10
        *_deconv(0, batch_norm), relu(),  # 10 -> 24
        nn.ConvTranspose2d(96, num_classes, 6, 2, 0),  # 24 -> 52
    )  # fmt: skip


class FramePool:
    """The replay pool of frames the autoencoder trains on (the sandbox's
    ``SingleStateReplayPool``): a ring of ``size`` uint8 frames on the CPU, allocated by
    doubling as it fills; the oldest are overwritten once it is full."""

    def __init__(self, size: int, frame_shape: tuple[int, ...]) -> None:
        self.size = size
        #: The stored frames, (filled or more, *frame_shape); rows past `filled` are unused.
        self.frames = torch.zeros(0, *frame_shape, dtype=torch.uint8)
        #: How many frames have entered the pool.
        self.seen = 0

    @property
    def filled(self) -> int:
        return min(self.seen, self.size)

    def add(self, frames: torch.Tensor) -> None:
        frames = frames.cpu()[-self.size :]
        need = min(self.size, self.seen + frames.shape[0])
        if need > self.frames.shape[0]:
            grown = self.frames.new_zeros(
                min(self.size, max(need, 2 * self.frames.shape[0])), *frames.shape[1:]
            )
            grown[: self.frames.shape[0]] = self.frames
            self.frames = grown
        self.frames[(self.seen + torch.arange(frames.shape[0])) % self.size] = frames
        self.seen += frames.shape[0]

    def sample(self, count: int) -> torch.Tensor:
        """``count`` frames drawn uniformly with replacement (torch's global generator)."""
        return self.frames[torch.randint(0, self.filled, (count,))]

    def state(self) -> dict[str, Any]:
        return {"pool": self.frames[: self.filled].clone(), "pool_seen": self.seen}

    def load(self, state: Mapping[str, Any]) -> None:
        self.frames = state["pool"].to(torch.uint8).cpu().clone()
        self.seen = int(state["pool_seen"])
