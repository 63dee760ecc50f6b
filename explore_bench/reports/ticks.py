"""Axis ticks a reader can read: few, never running together, and telling values apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator


def compact(x: float, _pos: Any = None) -> str:
    """A short tick label: 75000 -> "75k", 1600 -> "1.6k", 2e6 -> "2M", -0.0075 -> "-0.0075"."""
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e6:
        return f"{x / 1e6:.3g}M"
    if a >= 1e3:
        return f"{x / 1e3:.3g}k"
    return f"{x:.3g}"


def tidy_x(ax: Axes, bins: int) -> None:
    """At most ``bins`` x ticks with compact labels, so that labels never run together."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=bins))
    ax.xaxis.set_major_formatter(FuncFormatter(compact))


def overlapping_tick_labels(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible tick labels (per axis of each panel) whose drawn extents intersect."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    pairs = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            boxes = [t.get_window_extent(renderer) for t in labels]
            for i in range(len(labels)):
                for j in range(i + 1, len(labels)):
                    if boxes[i].overlaps(boxes[j]):
                        pairs.append((labels[i].get_text(), labels[j].get_text()))
    return pairs


def tick_text(values: Sequence[float]) -> list[str]:
    """Tick labels with just enough decimals to tell neighbours apart (1.017, 1.018, not
    1.02, 1.02), and k/M beyond a thousand."""
    vals = [float(v) for v in values]
    if not vals:
        return []
    if max(abs(v) for v in vals) >= 1e3:
        return [compact(v) for v in vals]
    for d in range(0, 8):
        texts = [f"{v:.{d}f}" for v in vals]
        if all(abs(float(t) - v) <= 1e-9 * max(1.0, abs(v)) for t, v in zip(texts, vals)):
            break
    return ["0" if float(t) == 0 else t for t in texts]


def plain_ticks(ax: Axes, bins: int) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(nbins=bins, min_n_ticks=2))
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    ax.set_xticks(ticks, tick_text(ticks))
