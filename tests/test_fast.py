"""The speed tricks of `agents.fast` compute what the plain library calls compute."""

from __future__ import annotations

import torch
from torch import nn

from agents.fast import AdamStep


def _net_and_data() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2))
    return net, torch.randn(32, 5), torch.randn(32, 2)


def test_adam_step_matches_clip_grad_norm_and_fused_adam_over_several_steps() -> None:
    fast_net, x, y = _net_and_data()
    ref_net, _, _ = _net_and_data()
    fast_opt = torch.optim.Adam(fast_net.parameters(), lr=1e-2, eps=1e-5, fused=True)
    ref_opt = torch.optim.Adam(ref_net.parameters(), lr=1e-2, eps=1e-5, fused=True)
    step = AdamStep(fast_opt, list(fast_net.parameters()), max_norm=0.5)
    for i in range(5):
        for net in (fast_net, ref_net):
            net.zero_grad(set_to_none=True)
            (100.0 * (net(x) - y) ** 2).mean().backward()  # large: the clip is active
        if i == 3:  # a changed learning rate reaches the fast path
            for opt in (fast_opt, ref_opt):
                opt.param_groups[0]["lr"] = 3e-3
        step()
        nn.utils.clip_grad_norm_(list(ref_net.parameters()), 0.5, foreach=True)
        ref_opt.step()
    assert step._lists is not None, "the fast path was never taken"
    for a, b in zip(fast_net.parameters(), ref_net.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert int(fast_opt.state[next(fast_net.parameters())]["step"]) == 5


def test_adam_step_falls_back_for_a_non_fused_optimizer() -> None:
    net, x, y = _net_and_data()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)  # foreach, not fused
    step = AdamStep(opt, list(net.parameters()), max_norm=0.5)
    before = [p.detach().clone() for p in net.parameters()]
    for _ in range(2):
        net.zero_grad(set_to_none=True)
        ((net(x) - y) ** 2).mean().backward()
        step()
    assert step._lists is None
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
