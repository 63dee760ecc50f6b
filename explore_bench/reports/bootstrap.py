"""rliable's stratified bootstrap, vectorised over the resamples.

rliable (`library.get_interval_estimates`, Agarwal et al. 2021) resamples through arch's
`IIDBootstrap.conf_int`: one Python call of the statistic per resample, and per resample
`np.random.choice(runs, scores.shape)` (each task, and each evaluation point of a curve, is
its own stratum; the two arrays of a probability of improvement are resampled one after the
other). The percentile interval is `np.percentile` of the resampled statistics at
100 * (1 - size) / 2 and 100 * (1 + size) / 2.

Here the same index draws come from a `RandomState` seeded as rliable's global one would be,
in blocks of resamples (legacy `randint` draws element by element, so one call for a block
yields the stream of the block's calls one after the other), and each statistic is computed
for a whole block at once. The resamples, and so the intervals, are rliable's own:
`tests/test_report_tolerance.py` checks them against `rliable.library` itself.

Measured (`python -m benchmarks.run --only report`, the 2-core development machine under a
load of 5-6; one entry on 7 tasks x 5 seeds, 50,000 resamples of IQM, mean, median,
optimality gap and success rate): 43x rliable's wall-clock, 51x on CPU time (0.4-0.9 s
against 20-40 s per entry).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: Resampled score elements per block: bounds memory (~3 arrays of this many float64s).
BLOCK_ELEMENTS = 2_000_000

#: A statistic of a block of resamples: arrays (block, *shape), one per input -> (block, k).
BlockStat = Callable[..., np.ndarray]


def _blocks(reps: int, elements: int) -> list[int]:
    size = max(1, BLOCK_ELEMENTS // max(elements, 1))
    return [min(size, reps - start) for start in range(0, reps, size)]


def _take(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """x resampled within strata: out[b, i, j, ...] = x[idx[b, i, j, ...], j, ...]."""
    return np.take_along_axis(x[None], idx, axis=1)


def resampled_stats(
    arrays: Sequence[np.ndarray], stat: BlockStat, reps: int, seed: int
) -> np.ndarray:
    """(reps, k): ``stat`` of every stratified resample of ``arrays``, in rliable's order.

    Each array is (runs, tasks, ...) and is resampled over runs within every other index;
    the resamples are those of rliable with numpy's global generator seeded with ``seed``.
    """
    state = np.random.RandomState(seed)
    shapes = [a.shape for a in arrays]
    sizes = [int(np.prod(s)) for s in shapes]
    same_runs = len({s[0] for s in shapes}) == 1
    out = []
    for block in _blocks(reps, sum(sizes)):
        if same_runs:  # one draw for the block: the stream of rliable's per-resample draws
            flat = state.choice(shapes[0][0], (block, sum(sizes)))
            cuts = np.cumsum(sizes)[:-1]
            idx = [f.reshape(block, *s) for f, s in zip(np.split(flat, cuts, axis=1), shapes)]
        else:  # runs differ between arrays: their draws interleave, resample by resample
            draws = [[state.choice(s[0], s) for s in shapes] for _ in range(block)]
            idx = [np.stack([d[i] for d in draws]) for i in range(len(shapes))]
        out.append(np.asarray(stat(*(_take(a, i) for a, i in zip(arrays, idx))), float))
    return np.concatenate(out).reshape(reps, -1)


def percentile_interval(results: np.ndarray, size: float = 0.95) -> np.ndarray:
    """(2, k) percentile interval of (reps, k) resampled statistics, as arch computes it."""
    alpha = (1.0 - size) / 2
    return np.percentile(results, [100 * alpha, 100 * (1.0 - alpha)], axis=0)


# Statistics of a block (block, runs, tasks), each the vectorised form of rliable.metrics.


def iqm(block: np.ndarray) -> np.ndarray:
    """`metrics.aggregate_iqm` (scipy's 25% trim_mean of all runs x tasks) per resample."""
    flat = block.reshape(len(block), -1)
    n = flat.shape[1]
    low = int(0.25 * n)
    part = np.partition(flat, (low, n - low - 1), axis=1)
    return part[:, low : n - low].mean(axis=1)


def mean(block: np.ndarray) -> np.ndarray:
    """`metrics.aggregate_mean`: mean over tasks of the per-task mean over runs."""
    return block.mean(axis=1).mean(axis=1)


def median(block: np.ndarray) -> np.ndarray:
    """`metrics.aggregate_median`: median over tasks of the per-task mean over runs."""
    return np.median(block.mean(axis=1), axis=1)


def optimality_gap(block: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """`metrics.aggregate_optimality_gap` (gamma 1): mean shortfall below gamma."""
    return gamma - np.minimum(block.reshape(len(block), -1), gamma).mean(axis=1)


def improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`metrics.probability_of_improvement` per resample: the mean over tasks of the
    Mann-Whitney U of x over y / (nx ny), ties counting 1/2 (scipy's U from average ranks,
    which equals this count exactly for these sizes)."""
    gt = (x[:, :, None, :] > y[:, None, :, :]).sum(axis=(1, 2))
    eq = (x[:, :, None, :] == y[:, None, :, :]).sum(axis=(1, 2))
    return ((gt + 0.5 * eq) / (x.shape[1] * y.shape[1])).mean(axis=1)


def profile(block: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """rliable's score distribution per resample: the share of runs x tasks above each tau."""
    flat = np.sort(block.reshape(len(block), -1), axis=1)
    above = flat.shape[1] - np.stack([np.searchsorted(row, tau, side="right") for row in flat])
    return above / flat.shape[1]


def iqm_per_eval(block: np.ndarray) -> np.ndarray:
    """IQM at each evaluation point of a (block, runs, tasks, evals) resample."""
    b, runs, tasks, evals = block.shape
    per_eval = block.transpose(0, 3, 1, 2).reshape(b * evals, runs * tasks)
    return iqm(per_eval).reshape(b, evals)
