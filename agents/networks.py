"""Network builders shared by the agents: encoders, policy heads, value heads.

Vector observations go through an MLP; stacked uint8 frames through a CNN (scaled to [0, 1]
inside the network); small symbolic grids (MiniGrid's (3, 7, 7) view, `bonuses.base.is_grid`)
through the small MiniGrid CNN of `grid_trunk`; Discrete observations are one-hot encoded.
Box actions get a Gaussian with a state-independent log-std, Discrete actions a categorical.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.config import GRID_CNNS
from bonuses._grid_conv import GridConvStack
from bonuses.base import is_grid

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def layer_init(layer: nn.Module, gain: float = math.sqrt(2)) -> nn.Module:
    """Orthogonal weights, zero bias (Engstrom et al. 2020 found it matters for PPO)."""
    if isinstance(layer, nn.Linear | nn.Conv2d):
        nn.init.orthogonal_(layer.weight, gain)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    return layer


def mlp(in_dim: int, hidden: tuple[int, ...], activation: str) -> tuple[nn.Sequential, int]:
    """Hidden layers only; returns the module and its output width."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} is not one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [layer_init(nn.Linear(width, h)), ACTIVATIONS[activation]()]
        width = h
    return nn.Sequential(*layers), width


def run_layers(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` without ``nn.Module.__call__``'s hook machinery per layer (a third of the
    cost of a small MLP's forward pass at batch size 1). These networks register no hooks.
    A `GridConvStack` runs its own forward."""
    if type(module) is nn.Sequential:
        for layer in module:
            x = run_layers(layer, x)
        return x
    return module.forward(x)


class OneHot(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(x.long().reshape(x.shape[0]), self.n).float()


class ImageScale(nn.Module):
    """uint8 frames -> floats in [0, 1], channels-last in memory (the logical NCHW shape is
    unchanged): oneDNN's convolutions run about 1.6x faster on that layout on CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layout = torch.channels_last if x.dim() == 4 else torch.preserve_format
        return x.to(torch.float32, memory_format=layout).div_(255.0)  # in place: a fresh copy


def conv_trunk(obs_shape: tuple[int, ...], arch: str) -> tuple[nn.Sequential, int]:
    """``nature``: Mnih et al. 2015 (conv32 8/4, conv64 4/2, conv64 3/1, FC512);
    ``emi``: the EMI/TRPO Atari policy (conv16 8/4, conv32 4/2, FC256; Kim et al. 2019)."""
    channels = obs_shape[0]
    if arch == "nature":
        convs = [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
        fc = 512
    elif arch == "emi":
        convs = [(16, 8, 4), (32, 4, 2)]
        fc = 256
    else:
        raise ValueError(f"cnn architecture {arch!r} is not one of 'nature', 'emi'")
    layers: list[nn.Module] = [ImageScale()]
    for out_c, k, s in convs:
        layers += [layer_init(nn.Conv2d(channels, out_c, k, s)), nn.ReLU()]
        channels = out_c
    layers.append(nn.Flatten())
    body = nn.Sequential(*layers)
    with torch.no_grad():
        flat = int(body(torch.zeros(1, *obs_shape, dtype=torch.uint8)).shape[1])
    trunk = nn.Sequential(*layers, layer_init(nn.Linear(flat, fc)), nn.ReLU())
    # Conv weights channels-last too (see ImageScale); the stubs lack this overload of to().
    return trunk.to(memory_format=torch.channels_last), fc  # type: ignore[call-overload]


class GridValues(nn.Module):
    """Symbolic grid cells (object, colour, state indices) as floats, unscaled, as the
    MiniGrid baselines feed them (rl-starter-files / torch-ac ``model.py``; RIDE's
    ``MinigridPolicyNet``): indices are categories, not intensities, and stay small."""

    #: A cast per element: `GridConvStack` may apply it in its own layout.
    elementwise = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float32)


def grid_trunk(obs_shape: tuple[int, ...], arch: str = "rl-starter") -> tuple[nn.Sequential, int]:
    """A MiniGrid image network on the raw cell indices (`GridValues`).

    ``rl-starter``: the MiniGrid PPO baseline's (Willems, rl-starter-files ``model.py``, used
    with torch-ac's PPO): conv16 2x2, ReLU, max-pool 2x2, conv32 2x2, ReLU, conv64 2x2, ReLU,
    flattened: 64 features from a 7 x 7 view. No FC layer: the policy and value MLPs follow
    (there: one hidden layer of 64, tanh).

    ``rllte``: RLeXplore's (rllte ``reward`` branch @ b0057b3,
    rllte/xploit/encoder/minigrid_encoder.py:12-20,28): conv16, conv32, conv64, all 2x2 with
    ReLU and no pool, flattened (1,024), then Linear 512 and ReLU; orthogonal init with the
    ReLU gain for the convs and gain 1 for the linear layer (rllte/common/initialization.py
    ``_orthogonal``). Their actor and critic are single linear layers on its 512 features:
    ``policy_hidden = value_hidden = ()``, ``policy_head_gain = 1``.
    """
    if min(obs_shape[1:]) < 7:
        raise ValueError(f"the grid network needs a view of at least 7 x 7 cells, got {obs_shape}")
    if arch not in GRID_CNNS:
        raise ValueError(f"grid network {arch!r} is not one of {', '.join(GRID_CNNS)}")
    channels = obs_shape[0]
    if arch == "rllte":
        layers: list[nn.Module] = [GridValues()]
        for out_c in (16, 32, 64):
            layers += [layer_init(nn.Conv2d(channels, out_c, 2)), nn.ReLU()]
            channels = out_c
        # Plain layers: `GridConvStack` loses on these (no pool, so larger im2col gathers).
        # CPU time, one thread, plain -> GridConvStack: forward + backward 6.6 -> 8.9 ms on
        # 256 grids, 26.2 -> 42.7 ms on 1,024; forward 1.5 -> 3.6 ms on 256 (0.28 -> 0.13 ms
        # on 8, where this suite's RLeXplore runs never go: they step 256 envs).
        convs = nn.Sequential(*layers, nn.Flatten())
        flat = 64 * (obs_shape[1] - 3) * (obs_shape[2] - 3)  # three unpadded 2x2 convs
        return nn.Sequential(convs, layer_init(nn.Linear(flat, 512), 1.0), nn.ReLU()), 512
    layers = [
        GridValues(),
        layer_init(nn.Conv2d(channels, 16, 2)),
        nn.ReLU(),
        nn.MaxPool2d(2),
        layer_init(nn.Conv2d(16, 32, 2)),
        nn.ReLU(),
        layer_init(nn.Conv2d(32, 64, 2)),
        nn.ReLU(),
        nn.Flatten(),
    ]
    trunk = GridConvStack(obs_shape, *layers)  # the same layers; its docstring gives the gain
    with torch.no_grad():
        width = int(trunk(torch.zeros(1, *obs_shape, dtype=torch.uint8)).shape[1])
    return trunk, width


def encoder(space: gym.Space, arch: str, grid_arch: str = "rl-starter") -> tuple[nn.Module, int]:
    """Observation -> flat features. A symbolic grid gets `grid_trunk` ``grid_arch`` whatever
    ``arch`` names: the frame CNNs' 8x8/4 first layer does not fit a 7 x 7 view."""
    if isinstance(space, gym.spaces.Discrete):
        return OneHot(int(space.n)), int(space.n)
    if isinstance(space, gym.spaces.Box) and is_grid(space.shape):
        return grid_trunk(tuple(space.shape), grid_arch)
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 3:
        return conv_trunk(tuple(space.shape), arch)
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return nn.Identity(), int(space.shape[0])  # already (B, D): nothing to flatten
    raise ValueError(
        f"unsupported observation space {space}: use a flat Box, a CxHxW Box or Discrete"
    )


class DiagGaussian:
    """Independent Gaussians over action dimensions (light: no argument validation)."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        self.mean = mean
        self.log_std = log_std.expand_as(mean)

    def sample(self) -> torch.Tensor:
        return self.mean + self.log_std.exp() * torch.randn_like(self.mean)

    def mode(self) -> torch.Tensor:
        return self.mean

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        z = (actions - self.mean) * torch.exp(-self.log_std)
        return (-0.5 * z.pow(2) - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (self.log_std + 0.5 + 0.5 * math.log(2 * math.pi)).sum(-1)

    def kl(self, other: DiagGaussian) -> torch.Tensor:
        """KL(self || other) per sample."""
        var, var_o = (2 * self.log_std).exp(), (2 * other.log_std).exp()
        return (
            other.log_std
            - self.log_std
            + (var + (self.mean - other.mean).pow(2)) / (2 * var_o)
            - 0.5
        ).sum(-1)

    def detach(self) -> DiagGaussian:
        # clone: log_std is a view of the live parameter, which an optimiser changes in place
        return DiagGaussian(self.mean.detach(), self.log_std.detach().clone())


class Categorical:
    """A categorical over logits (light: no argument validation)."""

    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits - logits.logsumexp(-1, keepdim=True)

    def sample(self) -> torch.Tensor:
        return torch.multinomial(self.logits.exp(), 1).squeeze(-1)

    def mode(self) -> torch.Tensor:
        return self.logits.argmax(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        return self.logits.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        return -(self.logits.exp() * self.logits).sum(-1)

    def kl(self, other: Categorical) -> torch.Tensor:
        return (self.logits.exp() * (self.logits - other.logits)).sum(-1)

    def detach(self) -> Categorical:
        return Categorical(self.logits.detach())


Distribution = DiagGaussian | Categorical


class Policy(nn.Module):
    """obs -> action distribution."""

    def __init__(
        self,
        obs_space: gym.Space,
        act_space: gym.Space,
        hidden: tuple[int, ...],
        activation: str,
        cnn: str = "nature",
        init_std: float = 1.0,
        trunk: nn.Module | None = None,
        trunk_dim: int = 0,
        grid_cnn: str = "rl-starter",
        head_gain: float = 0.01,
    ) -> None:
        super().__init__()
        if trunk is None:
            trunk, trunk_dim = encoder(obs_space, cnn, grid_cnn)
        self.trunk = trunk
        self.body, width = mlp(trunk_dim, hidden, activation)
        if isinstance(act_space, gym.spaces.Discrete):
            self.head = layer_init(nn.Linear(width, int(act_space.n)), head_gain)
            self.log_std = None
        elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
            self.head = layer_init(nn.Linear(width, int(np.prod(act_space.shape))), head_gain)
            self.log_std = nn.Parameter(torch.full((int(act_space.shape[0]),), math.log(init_std)))
        else:
            raise ValueError(f"unsupported action space {act_space}: use a flat Box or Discrete")

    def forward(self, obs: torch.Tensor) -> Distribution:
        return self.from_features(run_layers(self.trunk, obs))

    def from_features(self, features: torch.Tensor) -> Distribution:
        """The distribution given the trunk's output (a trunk shared with the value function
        then runs once for both)."""
        out = self.head.forward(run_layers(self.body, features))
        if self.log_std is None:
            return Categorical(out)
        return DiagGaussian(out, self.log_std)


class ValueFunction(nn.Module):
    """obs -> (B, heads) values; two heads split extrinsic and intrinsic returns."""

    def __init__(
        self,
        obs_space: gym.Space,
        hidden: tuple[int, ...],
        activation: str,
        heads: int = 1,
        cnn: str = "nature",
        trunk: nn.Module | None = None,
        trunk_dim: int = 0,
        grid_cnn: str = "rl-starter",
    ) -> None:
        super().__init__()
        if trunk is None:
            trunk, trunk_dim = encoder(obs_space, cnn, grid_cnn)
        self.trunk = trunk
        self.body, width = mlp(trunk_dim, hidden, activation)
        self.head = layer_init(nn.Linear(width, heads), 1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.from_features(run_layers(self.trunk, obs))

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.head.forward(run_layers(self.body, features))
