"""Leaderboard figures (PNG + SVG): rliable's interval, profile, curve and improvement charts,
and seaborn per-task learning curves. Every function returns a figure; `save` writes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # reports are written headless; no window ever opens

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from rliable import plot_utils

from explore_bench.reports.stats import Estimate

Color = tuple[float, float, float]

# Deterministic SVG ids and no timestamps, so two reports of the same data are identical.
_RC: dict[str, Any] = {"svg.hashsalt": "explore-bench", "svg.fonttype": "none"}


# Shared by the profile and IQM-curve charts (rliable line plots; the legend goes beside
# the axes, where it cannot cover a line).
_LINE_STYLE: dict[str, Any] = {
    "labelsize": "large",
    "ticklabelsize": "large",
    "legend": False,
}


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


def _tidy_x(ax: Axes, bins: int) -> None:
    """At most ``bins`` x ticks with compact labels, so that labels never run together."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=bins))
    ax.xaxis.set_major_formatter(FuncFormatter(compact))


def _legend_beside(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)


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


def _split(
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """{name: (point, band)} as ({name: point}, {name: band}), the shape rliable takes."""
    return {n: p for n, (p, _) in pairs.items()}, {n: c for n, (_, c) in pairs.items()}


def palette(names: Sequence[str]) -> dict[str, Color]:
    """One colour per name, in the order given: a report builds it once, over every entry
    (bonus or variant) it shows, so that an entry has the same colour in every chart."""
    colors = list(sns.color_palette("colorblind", n_colors=min(max(len(names), 1), 10)))
    if len(names) > 10:  # the colourblind palette has 10 colours; then evenly spaced hues
        colors += list(sns.color_palette("husl", n_colors=len(names) - 10))
    return {n: tuple(c) for n, c in zip(names, colors)}


def save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    """Write ``stem``.png and ``stem``.svg and close the figure."""
    paths = []
    with plt.rc_context(_RC):  # type: ignore[arg-type]
        for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None})):
            path = out_dir / f"{stem}.{ext}"
            fig.savefig(path, dpi=110, bbox_inches="tight", metadata=meta)
            paths.append(path)
    plt.close(fig)
    return paths


def interval_chart(
    estimates: Mapping[str, Mapping[str, Estimate]],
    metrics: Sequence[str],
    xlabel: str,
    title: str,
    colors: Mapping[str, Color],
) -> Figure:
    """The four-panel chart: one panel per metric, one bar (95% CI) and tick per entry."""
    names = list(estimates)
    points = {n: np.array([estimates[n][m].point for m in metrics]) for n in names}
    cis = {
        n: np.array([[estimates[n][m].lo for m in metrics], [estimates[n][m].hi for m in metrics]])
        for n in names
    }
    height = 1.3 + 0.45 * len(names)  # inches: room for the titles above the bars
    fig, _ = plot_utils.plot_interval_estimates(
        points,
        cis,
        metric_names=list(metrics),
        algorithms=names,
        colors=dict(colors),
        xlabel=xlabel,
        subfigure_width=3.4,
        row_height=height / len(names),
        xlabel_y_coordinate=0.02,
        max_ticks=3,
    )
    for ax in fig.axes:
        _tidy_x(ax, 3)
    fig.subplots_adjust(top=1 - 0.8 / height, bottom=0.75 / height)
    fig.suptitle(title, y=1 - 0.08 / height, fontsize="x-large")
    return fig


def profile_chart(
    profiles: Mapping[str, tuple[np.ndarray, np.ndarray]],
    tau: np.ndarray,
    xlabel: str,
    title: str,
    colors: Mapping[str, Color],
) -> Figure:
    """Performance profiles (fraction of runs scoring above tau) with 95% bands."""
    points, bands = _split(profiles)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_performance_profiles(
        points,
        tau,
        performance_profile_cis=bands,
        colors=dict(colors),
        xlabel=rf"{xlabel} ($\tau$)",
        ax=ax,
        **_LINE_STYLE,
    )
    _tidy_x(ax, 5)
    _legend_beside(ax)
    ax.set_title(title)
    return fig


def iqm_curve_chart(
    grid: np.ndarray,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    xlabel: str,
    ylabel: str,
    title: str,
    colors: Mapping[str, Color],
) -> Figure:
    """Aggregate IQM at each evaluation point, with 95% bands."""
    points, bands = _split(curves)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_sample_efficiency_curve(
        grid,
        points,
        bands,
        algorithms=list(curves),
        colors=dict(colors),
        xlabel=xlabel,
        ylabel=f"IQM {ylabel}",
        ax=ax,
        **_LINE_STYLE,
    )
    _tidy_x(ax, 5)
    _legend_beside(ax)
    ax.set_title(title)
    return fig


def poi_chart(
    pois: Mapping[str, Estimate], baseline: str, title: str, colors: Mapping[str, Color]
) -> Figure:
    """P(bonus > baseline) with 95% intervals, one bar per bonus."""
    names = list(pois)
    fig, ax = plt.subplots(figsize=(6, 0.9 + 0.55 * len(names)))
    plot_utils.plot_probability_of_improvement(
        {f"{n},{baseline}": np.array([pois[n].point]) for n in names},
        {f"{n},{baseline}": np.array([pois[n].lo, pois[n].hi]) for n in names},
        ax=ax,
        colors=[colors[n] for n in names],
        xticks=[0.0, 0.25, 0.5, 0.75, 1.0],
        left_ylabel="Bonus X",
        right_ylabel="Baseline Y",
        xlabel=f"P(X > {baseline})",
        ticklabelsize="large",
        labelsize="large",
    )
    ax.set_xlim(-0.02, 1.02)
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_title(title, pad=28)
    return fig


def learning_curves(
    points: pd.DataFrame, title: str, colors: Mapping[str, Color], seed: int
) -> Figure:
    """Per-task raw evaluation score over env steps: mean and 95% bootstrap CI over seeds.

    ``points``: columns task, bonus, seed, env_steps, score (already on a common grid per
    task, so seeds line up at every x).
    """
    tasks = sorted(points["task"].unique(), key=str)
    ncols = min(3, len(tasks))
    nrows = -(-len(tasks) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.6 * nrows), squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        sub = points[points["task"] == task]
        sns.lineplot(
            data=sub,
            x="env_steps",
            y="score",
            hue="bonus",
            palette=dict(colors),
            errorbar=("ci", 95),
            n_boot=1000,
            seed=seed,
            ax=ax,
            marker="o",
            markersize=4,
        )
        ax.set_title(task)
        _tidy_x(ax, 5)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("evaluation score (raw)")
        ax.grid(alpha=0.25)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    for ax in axes.flat[len(tasks) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    # one legend for all panels, beside them, where it cannot cover a line
    handles = [
        plt.Line2D([], [], color=colors[b], marker="o", markersize=4, label=str(b))
        for b in sorted(points["bonus"].unique(), key=str)
    ]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False)
    return fig
