"""`GridConvStack`: the grid networks of agents and bonuses (MiniGrid's 7 x 7 symbolic views,
`bonuses.base.is_grid`) in their fast form. Shared by both sides of the contract, so it lives
beside it: the agents' MiniGrid trunk (`agents.networks.grid_trunk`) and the bonuses' grid
encoders (`bonuses._encoders`) build on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

#: Elementwise layers `GridConvStack` may apply in its own layout.
_ELEMENTWISE = (nn.ReLU, nn.ELU, nn.LeakyReLU, nn.Tanh)


class GridConvStack(nn.Sequential):
    """Conv2d layers, elementwise activations, 2-D max-pools and a final Flatten on a small
    grid (`is_grid`), run as index gathers and matrix products (im2col) in a channels-last
    layout: the same modules, parameters and state-dict keys as the `nn.Sequential`, the
    same sums in another order (equal up to float rounding, gradients included; the pools
    are ``max_pool2d`` itself).

    Why: on 7 x 7 inputs oneDNN's convolutions cost mostly fixed overhead (about 43 us for a
    3 -> 16 2x2 conv on 8 grids). Measured on the 2-core machine, one thread, CPU time,
    plain `nn.Sequential` -> this, forward (forward + backward):

    - the agents' MiniGrid trunk (`agents.networks.grid_trunk`, conv16 2x2, max-pool,
      conv32, conv64): 8 grids 200 -> 72 us (699 -> 271 us), 256 grids 1,083 -> 414 us
      (2,217 -> 1,287 us), 1,024 grids 5,167 -> 2,370 us (11,543 -> 4,964 us);
    - the bonuses' grid conv (`bonuses._encoders.GRID_CONV`, 3x3 stride 2 pad 1, 32, 32,
      128, ELU): 8 grids 197 -> 88 us (801 -> 356 us), 256 grids 852 -> 836 us (3,449 ->
      2,166 us), 1,024 grids 2,747 -> 3,119 us (13,707 -> 10,453 us); a single grid loses
      (45 -> 53 us for the trunk).
    Another input shape, or a layer it does not know, runs the plain `nn.Sequential`; so
    does a batch over ``plain_above`` rows without gradients (where given), since oneDNN
    wins large forward-only batches of the bonuses' wider convs.
    """

    def __init__(
        self, input_shape: Sequence[int], *layers: nn.Module, plain_above: int | None = None
    ) -> None:
        super().__init__(*layers)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.plain_above = plain_above
        #: One step per layer (see `_make_plan`); None runs the plain forward.
        self._plan: list[tuple[str, nn.Module, int, Any]] | None = self._make_plan()

    def _make_plan(self) -> list[tuple[str, nn.Module, int, Any]] | None:
        """Per layer (kind, layer, index, arg): ("conv", conv, i, (padded, cells)),
        ("pool", pool, i, (H, W, C)), ("elementwise", layer, i, None), ("flatten", flatten,
        i, (H, W, C)). Buffer ``_rows{i}`` indexes a conv's input (B, H * W * C [+ 1 zero]),
        for each output cell its patch in the order of ``weight.reshape(out, -1)``, the
        columns that only ever see padding left out (``_keep{i}``: the others)."""
        c, h, w = self.input_shape
        nchw = True  # the input's layout; channels-last after the first conv
        plan: list[tuple[str, nn.Module, int, Any]] = []
        for i, layer in enumerate(self):
            if isinstance(layer, nn.Conv2d):
                if layer.groups != 1 or layer.dilation != (1, 1) or isinstance(layer.padding, str):
                    return None
                (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
                ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
                zero = c * h * w  # the zero cell that stands for every padded one
                table = torch.full((ho, wo, c, kh, kw), zero, dtype=torch.long)
                channel = torch.arange(c)
                for oi in range(ho):
                    for oj in range(wo):
                        for a in range(kh):
                            for b in range(kw):
                                r, q = oi * sh + a - ph, oj * sw + b - pw
                                if 0 <= r < h and 0 <= q < w:
                                    at = (
                                        (channel * h + r) * w + q
                                        if nchw
                                        else (r * w + q) * c + channel
                                    )
                                    table[oi, oj, :, a, b] = at
                table = table.view(ho * wo, c * kh * kw)
                keep = (table != zero).any(0)  # weight columns that ever see a real cell
                rows = table[:, keep]
                self.register_buffer(f"_rows{i}", rows.reshape(-1), persistent=False)
                self.register_buffer(f"_keep{i}", keep.nonzero().view(-1), persistent=False)
                padded = bool((rows == zero).any())
                plan.append(("conv", layer, i, (padded, bool(keep.all()), ho * wo)))
                c, h, w, nchw = layer.out_channels, ho, wo, False
            elif isinstance(layer, nn.MaxPool2d) and not nchw:
                plan.append(("pool", layer, i, (h, w, c)))
                out = layer(torch.zeros(1, c, h, w))
                h, w = int(out.shape[2]), int(out.shape[3])
            elif isinstance(layer, nn.Flatten) and i == len(self) - 1 and not nchw:
                plan.append(("flatten", layer, i, (h, w, c)))
            elif isinstance(layer, _ELEMENTWISE) or getattr(layer, "elementwise", False):
                plan.append(("elementwise", layer, i, None))
            else:
                return None
        # A monotone activation commutes with a max-pool: pooling first gives the same values
        # and routes the same gradients (ties stay ties; a window whose maximum ReLU zeroes
        # passes no gradient either way) at a quarter of the activation's work. The agents'
        # trunk, CPU time, one thread, best of 5 alternating: forward + backward 5,701 ->
        # 4,799 us on 1,024 grids, 1,510 -> 1,414 us on 256; no change on 8.
        for j in range(len(plan) - 1):
            if plan[j + 1][0] == "pool" and isinstance(plan[j][1], _ELEMENTWISE):
                plan[j], plan[j + 1] = plan[j + 1], plan[j]
        return plan

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        plan = self._plan
        batch = x.shape[0]
        if (
            plan is None
            or tuple(x.shape[1:]) != self.input_shape
            or (
                self.plain_above is not None
                and batch > self.plain_above
                and not torch.is_grad_enabled()
            )
        ):
            return super().forward(x)
        buffers = self._buffers
        h = x.reshape(batch, -1)
        for kind, layer, i, arg in plan:
            if kind == "conv":
                assert isinstance(layer, nn.Conv2d)
                padded, full, cells = arg
                weight = layer.weight.reshape(layer.out_channels, -1)
                if not full:  # leave out the weight columns that only ever see padding
                    weight = weight.index_select(1, cast(torch.Tensor, buffers[f"_keep{i}"]))
                h = h.to(weight.dtype)
                if padded:
                    h = nn.functional.pad(h, (0, 1))
                patches = h.index_select(1, cast(torch.Tensor, buffers[f"_rows{i}"])).view(
                    batch, cells, -1
                )
                h = nn.functional.linear(patches, weight, layer.bias).view(batch, -1)
            elif kind == "pool":
                hh, ww, cc = arg
                pooled = layer(h.view(batch, hh, ww, cc).permute(0, 3, 1, 2))
                h = pooled.permute(0, 2, 3, 1).reshape(batch, -1)
            elif kind == "flatten":
                hh, ww, cc = arg
                if hh * ww > 1:  # back to Flatten's channel-major order
                    h = h.view(batch, hh, ww, cc).permute(0, 3, 1, 2).reshape(batch, -1)
            else:
                h = layer.forward(h)
        return h
