"""EMI's diversity kernel on a grid (`bonuses._kernel_sums`) against the dense kernel."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from bonuses._emi_networks import kernel_similarity
from bonuses._kernel_sums import _stencil, grid_kernel_means, grid_spacing
from bonuses.base import Transitions
from bonuses.emi import EMI, EMIConfig

torch.set_num_threads(1)


def dense(queries: torch.Tensor, pool: torch.Tensor, h: float) -> torch.Tensor:
    return kernel_similarity(queries.double(), pool.double(), h)


@pytest.mark.parametrize("scale", [1e-3, 0.3, 2.0, 8.0, 25.0])
@pytest.mark.parametrize("dim", [1, 2])
def test_grid_means_within_the_stated_bound_of_the_dense_kernel(scale: float, dim: int) -> None:
    gen = torch.Generator().manual_seed(int(scale * 1000) + dim)
    # a pool of three clusters plus a spread-out cloud; queries inside and beyond its extent
    centres = scale * torch.randn(3, dim, generator=gen)
    pool = torch.cat(
        [centres[i] + 0.2 * scale * torch.randn(1000, dim, generator=gen) for i in range(3)]
        + [scale * torch.randn(1000, dim, generator=gen)]
    )
    queries = 2.5 * scale * torch.randn(700, dim, generator=gen)
    tol = 1e-6
    out = grid_kernel_means(pool, [pool, queries], 5.0, tol, max_cost=math.inf)
    assert out is not None
    for got, q in zip(out, (pool, queries), strict=True):
        assert got.dtype == pool.dtype and got.shape == (len(q),)
        err = (got.double() - dense(q, pool, 5.0)).abs().max()
        assert err <= tol


def test_error_shrinks_with_the_fourth_power_of_the_spacing() -> None:
    gen = torch.Generator().manual_seed(0)
    pool, q = 3 * torch.randn(2000, 2, generator=gen), 4 * torch.randn(300, 2, generator=gen)
    ref = dense(q, pool.double(), 5.0)
    pool64, q64 = pool.double(), q.double()
    errors = []
    for tol in (1e-4, 1e-4 / 16):  # spacing halves
        (got,) = grid_kernel_means(pool64, [q64], 5.0, tol) or [None]
        errors.append(float((got - ref).abs().max()))
    assert grid_spacing(5.0, 1e-4) == pytest.approx(2 * grid_spacing(5.0, 1e-4 / 16))
    assert 8 < errors[0] / errors[1] < 32  # fourth order: 16x


def test_extreme_points_rounding_below_the_first_node_stay_on_the_grid() -> None:
    # With h = 5 and tol = 1e-6, (low - (low - delta)) / delta rounds to 1 - 7e-15 for these
    # minima (found by search), which once put the stencil of the lowest point at node -1:
    # an IndexError in x (seen in an evidence run) and a silent wrap onto the previous row in y.
    gen = torch.Generator().manual_seed(0)
    low = 25.795440294030243
    delta = grid_spacing(5.0, 1e-6)
    assert (torch.tensor(low, dtype=torch.float64) - (low - delta)) / delta < 1
    # the stencil stays on the grid and still interpolates: its 4 nodes reproduce the point's
    # own grid coordinate (cubic Lagrange weights are exact on linear functions)
    first, w = _stencil(torch.tensor([low], dtype=torch.float64), low - delta, delta, 10)
    assert int(first) == 0
    nodes = first + torch.arange(4, dtype=torch.float64)
    assert float((w[0] * nodes).sum()) == pytest.approx(1.0, abs=1e-12)
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-12)
    for axis in (0, 1):
        pool = 30 + 3 * torch.randn(2000, 2, generator=gen, dtype=torch.float64)
        pool[:, axis] = pool[:, axis].clamp(min=low)
        pool[0, axis] = low
        queries = pool[:100] + 0.5 * torch.randn(100, 2, generator=gen, dtype=torch.float64)
        queries[:, axis] = queries[:, axis].clamp(min=low)
        out = grid_kernel_means(pool, [pool, queries], 5.0, 1e-6, max_cost=math.inf)
        assert out is not None
        for got, q in zip(out, (pool, queries), strict=True):
            assert (got - dense(q, pool, 5.0)).abs().max() <= 1e-6


def test_grid_declines_where_it_would_cost_more() -> None:
    gen = torch.Generator().manual_seed(0)
    three = torch.randn(50, 3, generator=gen)
    assert grid_kernel_means(three, [three], 5.0, 1e-6) is None
    spread = 1e4 * torch.randn(500, 2, generator=gen)  # ~10^8 grid nodes for 250k pairs
    assert grid_kernel_means(spread, [spread], 5.0, 1e-6) is None


def test_emi_diversity_reward_grid_matches_dense_at_paper_batch() -> None:
    # A SparseHalfCheetah-sized batch (10 envs x 5,000 steps, 20-d observations, episode
    # ends every 500 steps) and an EMI model after one update: the two kernels' rewards agree.
    obs_space = gym.spaces.Box(-np.inf, np.inf, (20,), np.float32)
    act_space = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    torch.manual_seed(0)
    t, n = 5000, 10
    obs = 0.1 * torch.randn(t, n, 20).cumsum(0)
    next_obs = torch.cat([obs[1:], obs[-1:] + 0.1])
    ends = torch.zeros(t, n, dtype=torch.bool)
    ends[499::500] = True
    next_obs[ends] = obs[ends] + 0.05  # final observations differ from the next reset
    batch = Transitions(
        obs=obs,
        actions=torch.rand(t, n, 6) * 2 - 1,
        next_obs=next_obs,
        ext_rewards=torch.zeros(t, n),
        terminated=torch.zeros(t, n, dtype=torch.bool),
        truncated=ends,
    )
    grid = EMI(obs_space, act_space, EMIConfig(epochs=1))
    grid.update(batch)
    reference = EMI(obs_space, act_space, EMIConfig(diversity_kernel="dense"))
    reference.load_state_dict(grid.state_dict())
    fast, exact = grid.compute(batch), reference.compute(batch)
    assert float(exact.abs().max()) > 1e-3  # not a vacuous comparison
    assert float((fast - exact).abs().max()) <= 1e-5


def test_kernel_choice_is_validated() -> None:
    with pytest.raises(ValueError, match="diversity_kernel must be one of"):
        EMIConfig(diversity_kernel="fft")
    with pytest.raises(ValueError, match="diversity_tol"):
        EMIConfig(diversity_tol=0.0)
