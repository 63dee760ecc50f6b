"""Networks and training helpers shared by the learned bonuses (ICM, RND, E3B, RIDE, NGU, ...).

`conv_trunk` is the one factory every bonus builds its image encoder with (`state_encoder`
and `require_conv_fits` go through it too): for stacked frames it builds the layers it is
given; for a small symbolic grid (MiniGrid's 7 x 7 x 3 view, see `is_grid`) it builds
`GRID_CONV` instead, since frame convolutions (8 x 8 kernels, stride 4) do not fit a 7 x 7
input. `frame` and `frame_shape` give the part of an image observation a bonus reads: the
newest frame of a stack, or a grid's whole view.

The leading underscore keeps this module out of the bonus registry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

from bonuses._grid_conv import GridConvStack
from bonuses.base import (
    IntrinsicBonus,
    Transitions,
    UnsupportedSpaceError,
    is_grid,
)

#: One conv layer as (out_channels, kernel, stride, padding).
ConvSpec = tuple[int, int, int, int]

#: Pathak et al. 2017: four 3x3 convolutions, 32 filters, stride 2, padding 1, ELU.
ICM_CONV: tuple[ConvSpec, ...] = ((32, 3, 2, 1),) * 4
#: Burda et al. 2018 (after Mnih et al. 2015): 8x8/4, 4x4/2, 3x3/1 with 32, 64, 64 filters.
RND_CONV: tuple[ConvSpec, ...] = ((32, 8, 4, 0), (64, 4, 2, 0), (64, 3, 1, 0))
#: Raileanu & Rocktaeschel 2020 (MiniGrid): 3x3 convolutions, stride 2, padding 1, 32/32/128.
RIDE_CONV: tuple[ConvSpec, ...] = ((32, 3, 2, 1), (32, 3, 2, 1), (128, 3, 2, 1))
#: The grid network `conv_trunk` builds for symbolic grids: RIDE's MiniGrid state embedding
#: (released code facebookresearch/impact-driven-exploration, src/models.py
#: MinigridStateEmbeddingNet, ELU there), 7x7 -> 128 features.
GRID_CONV = RIDE_CONV
#: Grid encoders a bonus can build for a symbolic grid (its ``grid_encoder`` field): "ride",
#: `GRID_CONV`; "rllte", `rllte_grid_encoder`.
GRID_ENCODERS = ("ride", "rllte")
#: Initialisations of a learned bonus's encoder and heads (its ``weight_init`` field), named
#: by whose they are: PyTorch's, RIDE's release's, ICM's release's, RLeXplore's (`apply_init`).
WEIGHT_INITS = ("torch", "ride", "noreward-rl", "rllte")


def frame_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Shape of `frame` for an image observation shape: (1, H, W) for a stack of frames,
    all channels for a symbolic grid (its channels are object, colour and state, not time)."""
    return tuple(int(v) for v in shape) if is_grid(shape) else (1, *map(int, shape[1:]))


def frame(obs: torch.Tensor) -> torch.Tensor:
    """The newest frame (B, 1, H, W) of flat-batch frame stacks; a grid view unchanged."""
    return obs if is_grid(obs.shape[1:]) else obs[:, -1:]


def orthogonal_init(module: nn.Module, gain: float = 2.0**0.5) -> nn.Module:
    """Orthogonal weights and zero biases for every linear and conv layer (RND's init)."""
    init_layers(module, functools.partial(nn.init.orthogonal_, gain=gain))
    return module


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int,
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Linear layers with ``activation`` between them and none after the last."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def check_choice(field: str, value: str, choices: Sequence[str]) -> None:
    """Raise ``ValueError`` naming ``field`` and the valid ``choices`` unless ``value`` is one."""
    if value not in choices:
        raise ValueError(f"{field} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_grid_encoder(value: str, owner: str, field: str = "grid_encoder") -> None:
    """Raise ``ValueError`` naming ``owner``'s ``field`` unless ``value`` is one of
    `GRID_ENCODERS`."""
    check_choice(f"{owner}.{field}", value, GRID_ENCODERS)


def apply_init(scheme: str, encoder: nn.Module, *heads: nn.Sequential) -> None:
    """Initialise a bonus's encoder and its inverse / forward heads (each an `mlp`) as
    ``scheme`` says, one of `WEIGHT_INITS`. A layer a scheme sets gets zero biases.

    - "torch": PyTorch's defaults, left as built (weights and biases uniform within
      1/sqrt(fan_in); rllte's ``default_layer_init`` draws the same for linear layers).
    - "ride": RIDE's release for its MiniGrid networks, which E3B's release keeps for its
      inverse head (facebookresearch/impact-driven-exploration src/models.py ``init_`` in
      MinigridStateEmbeddingNet, MinigridInverseDynamicsNet, MinigridForwardDynamicsNet;
      facebookresearch/e3b minihack/torchbeast/src/models.py MinigridInverseDynamicsNet):
      orthogonal weights, gain sqrt 2 (``calculate_gain('relu')``) on the encoder and the
      heads' hidden layers, gain 1 on the heads' output layers.
    - "noreward-rl": ICM's release (pathak22/noreward-rl src/model.py): the encoder's layers
      uniform within sqrt(6 / (fan_in + fan_out)) (its ``conv2d``; its universe head has no
      linear layer, so the suite's vector encoder gets the same rule), the heads' layers
      ``normalized_columns_initializer(0.01)``: Gaussian weights scaled so that each unit's
      incoming weights have norm 0.01.
    - "rllte": RLeXplore's runs (rllte ``reward`` branch @ b0057b3, src/utils.py
      ``--weight_init`` default "orthogonal"; rllte/xplore/reward/model.py:35-38
      ``orthogonal_layer_init``, applied at :189-194 and :230-234): the heads orthogonal with
      gain sqrt 2 on every layer, the output one included; the encoder keeps PyTorch's
      (their MinigridEncoder takes no init argument).
    """
    check_choice("weight_init", scheme, WEIGHT_INITS)
    if scheme == "torch":
        return
    if scheme == "ride":
        orthogonal_init(encoder)
    if scheme == "noreward-rl":
        init_layers(encoder, nn.init.xavier_uniform_)
    for head in heads:
        if scheme == "noreward-rl":
            init_layers(head, unit_norm_rows)
        else:  # "ride" and "rllte": orthogonal, gain sqrt 2; RIDE's output layer gain 1
            orthogonal_init(head)
            if scheme == "ride":
                orthogonal_init(head[-1], 1.0)


def init_layers(module: nn.Module, init: Callable[[torch.Tensor], object]) -> None:
    """``init`` on the weight of every linear and conv layer in ``module``; zero biases.
    The TensorFlow releases' layer defaults are ``init_layers(m, nn.init.xavier_uniform_)``
    (Glorot-uniform, zero bias: ``tf.layers.dense``/``conv2d``, noreward-rl ``conv2d``)."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            init(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@torch.no_grad()
def unit_norm_rows(weight: torch.Tensor, norm: float = 0.01) -> None:
    """The TensorFlow releases' ``normalized_columns_initializer(norm)`` / baselines'
    ``normc_initializer``: each output unit's weights Gaussian, scaled to ``norm`` (their
    columns are a torch Linear's rows)."""
    weight.normal_()
    weight.mul_(norm / weight.norm(dim=1, keepdim=True))


def rllte_grid_encoder(input_shape: Sequence[int]) -> tuple[nn.Sequential, int]:
    """RLeXplore's bonus encoder, which every rllte intrinsic-reward module builds (rllte
    ``reward`` branch @ b0057b3, rllte/xploit/encoder/minigrid_encoder.py:12-20,28; e.g.
    rllte/xplore/reward/icm.py:84-86): three unpadded 2x2 convolutions of 16, 32 and 64
    channels with ReLU, no pool, flattened, then Linear 512 and ReLU; 512 features.
    PyTorch's default init: the class takes no init argument, so the modules' weight_init
    never reaches it. Its input is the grid / 255 (`observation_features`), as rllte's with
    ``obs_rms`` False (NGU's lifelong RND: standardised, as rllte's NGU sets ``obs_rms``).
    Its width is fixed: a bonus that builds it as its whole network (RND, RE3,
    Disagreement) has 512 features whatever its ``feature_dim``, as rllte's do."""
    channels, height, width = (int(v) for v in input_shape)
    net = nn.Sequential(
        nn.Conv2d(channels, 16, 2),
        nn.ReLU(),
        nn.Conv2d(16, 32, 2),
        nn.ReLU(),
        nn.Conv2d(32, 64, 2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * (height - 3) * (width - 3), 512),
        nn.ReLU(),
    )
    return net, 512


def conv_trunk(
    input_shape: Sequence[int],
    layers: Sequence[ConvSpec],
    activation: Callable[[], nn.Module] = nn.ReLU,
    grid_encoder: str = "ride",
) -> tuple[nn.Sequential, int]:
    """Conv layers, each followed by ``activation``, then a flatten; returns (net, width).

    For a symbolic grid input (`is_grid`) the layers are `GRID_CONV` whatever is passed:
    the frame architectures of the papers (Atari) do not fit a 7 x 7 view, and RIDE's grid
    embedding is what the MiniGrid papers (RIDE, NovelD) use. ``grid_encoder = "rllte"``
    builds `rllte_grid_encoder` for a grid instead (RLeXplore's; frames are unaffected).
    """
    check_grid_encoder(grid_encoder, "conv_trunk")
    if is_grid(input_shape) and grid_encoder == "rllte":
        return rllte_grid_encoder(input_shape)
    if is_grid(input_shape):
        layers = GRID_CONV
    modules: list[nn.Module] = []
    channels = int(input_shape[0])
    for out, kernel, stride, pad in layers:
        modules += [nn.Conv2d(channels, out, kernel, stride, pad), activation()]
        channels = out
    modules.append(nn.Flatten())
    # grids: the same layers as gathers and matrix products (GridConvStack states the gain),
    # except forward-only batches over 256, where oneDNN's convolutions are as fast or faster
    if is_grid(input_shape):
        net: nn.Sequential = GridConvStack(input_shape, *modules, plain_above=256)
    else:
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


def modulation(x: torch.Tensor, rms: RunningMeanStd, max_modulation: float) -> torch.Tensor:
    """NGU's lifelong modulator min(max(1 + (x - mu) / sigma, 1), L) of scalar scores ``x``
    with ``rms``'s mean and std (Badia et al. 2020, sec. 2), in float64 on ``x``'s device."""
    mean, var = rms.mean.to(x.device), rms.var.to(x.device)
    return (1.0 + (x.double() - mean) / torch.sqrt(var + 1e-8)).clamp(1.0, max_modulation)


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


def encode_pairs(
    encode: Callable[[torch.Tensor], torch.Tensor],
    obs: torch.Tensor,
    next_obs: torch.Tensor,
    num_envs: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``encode(obs)`` and ``encode(next_obs)`` for time-major flat rows (T * N, ...), each
    distinct row encoded once: where next_obs[t] is obs[t + 1] (same env, the episode goes
    on; compared byte for byte) it takes that row's features, so only the last step's and
    the episode ends' next observations are encoded on their own (the rows returned third).
    The same function of the same rows, for an encoder that does not change in between;
    what it saves is stated where it is used."""
    rows = obs.shape[0]
    feats = encode(obs)
    fresh = torch.ones(rows, dtype=torch.bool, device=obs.device)
    if rows > num_envs:
        differs = next_obs[:-num_envs] != obs[num_envs:]
        fresh[: rows - num_envs] = differs.reshape(rows - num_envs, -1).any(1)
    feats_next = torch.empty_like(feats)
    feats_next[: rows - num_envs] = feats[num_envs:]
    encoded = fresh.nonzero().squeeze(1)
    feats_next[encoded] = encode(next_obs[encoded])
    return feats, feats_next, encoded


def require_conv_fits(shape: Sequence[int], layers: Sequence[ConvSpec], who: str) -> None:
    """Raise `UnsupportedSpaceError` naming ``who`` when `conv_trunk` cannot build ``layers``
    on C x H x W images ``shape`` (frame convolutions on a 7x7 grid, unless the factory
    builds a grid encoder for it)."""
    try:
        conv_trunk(shape, layers)
    except RuntimeError as exc:
        raise UnsupportedSpaceError(
            f"{who}: images shaped {tuple(shape)} are too small for its conv layers "
            f"{tuple(layers)} (out_channels, kernel, stride, padding)"
        ) from exc


def state_encoder(
    kind: str,
    shape: Sequence[int],
    num_states: int,
    out_dim: int,
    *,
    conv: Sequence[ConvSpec] = ICM_CONV,
    hidden: Sequence[int] = (256,),
    activation: Callable[[], nn.Module] = nn.ELU,
    grid_encoder: str = "ride",
) -> nn.Module:
    """A bonus's state embedding phi for one observation kind, ``out_dim`` wide: for images
    (C x H x W) the ``conv`` trunk, then a linear layer to ``out_dim`` when the trunk's flat
    width differs; for vector and discrete (one-hot, ``num_states`` wide) observations an
    MLP with ``hidden`` layers. Every learned episodic bonus builds its encoder here, so that
    an encoder for another observation kind (symbolic grids) is added in one place;
    ``grid_encoder`` picks a grid's (`conv_trunk`)."""
    if kind == "image":
        require_conv_fits(shape, conv, "state_encoder")
        trunk, width = conv_trunk(shape, conv, activation, grid_encoder)
        return trunk if width == out_dim else nn.Sequential(trunk, nn.Linear(width, out_dim))
    return mlp(num_states or int(shape[0]), hidden, out_dim, activation)


class StepSchedule:
    """A model's optimiser steps per pass over a rollout, set per environment step (issue 29):
    one step per ``minibatch_size`` transitions, the remainder carried to the next pass, so
    the steps per env step match the release's whatever the number of envs (a rollout smaller
    than a minibatch trains on some passes only, in one step over all of it). ``fixed`` > 0
    instead takes that many steps per pass (the suite's schedule before issue 29)."""

    def __init__(self, minibatch_size: int, fixed: int = 0) -> None:
        self.minibatch_size, self.fixed = minibatch_size, fixed
        #: Steps owed by the transitions seen so far, less those taken (saved with the bonus).
        self.credit = 0.0

    def steps(self, size: int) -> int:
        """Steps for one pass over ``size`` transitions."""
        if self.fixed:
            return self.fixed
        self.credit += size / self.minibatch_size
        count = int(self.credit + 1e-9)
        self.credit -= count
        return count


def train_minibatches(
    optimizer: torch.optim.Optimizer,
    size: int,
    epochs: int,
    num_minibatches: int | StepSchedule,
    loss_fn: Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]],
    *,
    max_grad_norm: float = 0.0,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """``epochs`` passes of ``num_minibatches`` optimiser steps over ``range(size)`` (or as
    many as a `StepSchedule` owes each pass; a pass it owes none is skipped).

    ``loss_fn(idx)`` returns the loss of the minibatch ``idx`` and metrics (0-d tensors);
    gradients are clipped to ``max_grad_norm`` (0: not clipped). Returns each metric's mean
    over the steps, with one device transfer at the end.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    terms: dict[str, list[torch.Tensor]] = {}
    for _ in range(epochs):
        if isinstance(num_minibatches, StepSchedule):
            count = num_minibatches.steps(size)
        else:
            count = num_minibatches
        if count == 0:
            continue
        for idx in minibatches(size, count, torch.device(device)):
            loss, metrics = loss_fn(idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if max_grad_norm > 0:
                nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            for key, value in metrics.items():
                terms.setdefault(key, []).append(value.detach())
    return {k: sum(torch.stack(v).tolist()) / len(v) for k, v in terms.items()}


def fit_inverse_dynamics(
    bonus: IntrinsicBonus,
    flat: Transitions,
    features: Callable[[torch.Tensor], torch.Tensor],
    inverse: nn.Module,
    epochs: int,
    num_minibatches: int,
    max_grad_norm: float,
) -> dict[str, float]:
    """Train an embedding by inverse dynamics alone (E3B's and NGU's controllable state):
    ``inverse([phi(s), phi(s')])`` predicts the action, with ``bonus.inverse_dynamics_loss``,
    over the flat batch ``flat`` in minibatches with ``bonus.optimizer``."""

    def loss(idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        phi, phi_next = features(flat.obs[idx]), features(flat.next_obs[idx])
        out = inverse(torch.cat([phi, phi_next], -1))
        inv_loss, accuracy = bonus.inverse_dynamics_loss(out, flat.actions[idx])
        metrics = {"inverse_loss": inv_loss}
        if accuracy is not None:
            metrics["inverse_accuracy"] = accuracy
        return inv_loss, metrics

    return train_minibatches(
        bonus.optimizer, flat.num_steps, epochs, num_minibatches, loss,
        max_grad_norm=max_grad_norm, device=bonus.device,
    )  # fmt: skip
