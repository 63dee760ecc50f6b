"""Acting with an MLP policy in NumPy, for the per-step part of a rollout.

At the batch sizes of acting (one row per env) a small MLP's forward pass costs about 16 us
in eager torch, mostly dispatch overhead, against about 5 us for the same matrix products in
NumPy; with one env that gap is a third of HalfCheetah's own step time. The mirror reads the
live parameters through NumPy views taken at the start of each rollout (the parameters do not
change during one), and its noise is drawn from torch's generator once per rollout, so seeding
and checkpointed RNG state work as before. It only samples actions: log-probabilities and
values are still computed by the torch networks from the stored actions, so the update sees
exactly what it would have without the mirror.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from agents.networks import Policy

_ACTIVATIONS: dict[type[nn.Module], Callable[[np.ndarray], np.ndarray]] = {
    nn.Tanh: np.tanh,
    nn.ReLU: lambda x: np.maximum(x, 0.0),
}


#: (transposed weight, bias, activation or None) of one linear layer, as NumPy views.
Layer = tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray] | None]


def _linear(module: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    # Views, not copies: rebuilt per rollout, since TRPO and load_state_dict may swap storage.
    assert isinstance(module, nn.Linear) and module.bias is not None
    return module.weight.detach().numpy().T, module.bias.detach().numpy()


class NumpyPolicy:
    """Samples from a `Policy` whose trunk is the identity (flat Box observations).

    `of` returns None for anything else (CNN or one-hot trunks), where the caller keeps the
    torch path.
    """

    def __init__(self, layers: list[Layer], std: np.ndarray | None) -> None:
        self.layers = layers
        self.std = std

    @classmethod
    def of(cls, policy: Policy) -> NumpyPolicy | None:
        """A mirror of ``policy``'s current parameters, or None if it is not a flat MLP."""
        if not isinstance(policy.trunk, nn.Identity):
            return None
        body = list(policy.body)  # Linear, activation, Linear, activation, ... (networks.mlp)
        layers: list[Layer] = []
        for linear, activation in zip(body[::2], body[1::2], strict=True):
            if type(activation) not in _ACTIVATIONS:
                return None
            layers.append((*_linear(linear), _ACTIVATIONS[type(activation)]))
        layers.append((*_linear(policy.head), None))
        std = None
        if policy.log_std is not None:
            std = np.exp(policy.log_std.detach().numpy())
        return cls(layers, std)

    def noise(self, num_steps: int, num_envs: int) -> np.ndarray:
        """All of a rollout's randomness in one draw from torch's generator: standard normals
        (Gaussian) or uniforms (categorical)."""
        if self.std is not None:
            return torch.randn(num_steps, num_envs, len(self.std)).numpy()
        return torch.rand(num_steps, num_envs).numpy()

    def sample(self, obs: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Actions for a (N, D) float32 batch; ``noise`` is this step's row of `noise`."""
        x = obs
        for weight_t, bias, act in self.layers:
            x = x @ weight_t
            x += bias
            if act is not None:
                x = act(x)
        if self.std is not None:
            return x + self.std * noise
        # Inverse-CDF sampling of the softmax over the logits.
        probs = np.exp(x - x.max(-1, keepdims=True))
        cdf = np.cumsum(probs, -1)
        below = cdf < (noise * cdf[:, -1])[:, None]
        return np.minimum(below.sum(-1), x.shape[-1] - 1)
