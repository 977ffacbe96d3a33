"""Figures for runs, comparisons, sweeps and training, as matplotlib Figures.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, never through
``pyplot``: no window opens, no global figure list grows, and a notebook displays the returned
Figure as it would any other. Seaborn supplies the style and the palette.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.bootstrap import bootstrap_band
from analysis.timeseries import binned_time_average

PANEL_WIDTH_IN = 4.0
PANEL_HEIGHT_IN = 3.0
LEARNING_METRICS = ("episode_return", "mean_utility", "deadline_hit_ratio")
QUEUE_FIGURE_MAX_SERVERS = 8
OUTCOME_COLOURS = {
    "completed": "#4c9f70",
    "missed": "#e0a030",
    "dropped": "#d0603a",
    "rejected": "#8a5aa8",
    "pending": "#9a9a9a",
}


@contextmanager
def _style() -> Iterator[None]:
    """Apply the house seaborn style while a figure is drawn."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        yield


def new_figure(panels: int, columns: int = 3) -> tuple[Figure, list[Axes]]:
    """Return an Agg-backed figure with ``panels`` axes laid out in rows of ``columns``."""
    ncols = max(1, min(columns, panels))
    nrows = max(1, -(-panels // ncols))
    figure = Figure(figsize=(PANEL_WIDTH_IN * ncols, PANEL_HEIGHT_IN * nrows), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(nrows, ncols, squeeze=False)
    axes = list(grid.ravel())
    for extra in axes[panels:]:
        figure.delaxes(extra)
    return figure, axes[:panels]


def _palette(labels: Sequence[object]) -> dict[object, tuple[float, float, float]]:
    """Give each label a colour of the colour-blind-safe palette, stable in label order."""
    colours = sns.color_palette("colorblind", max(len(labels), 1))
    return dict(zip(labels, colours, strict=False))


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<")


def _markers(labels: Sequence[object]) -> dict[object, str]:
    """Give each label a marker, so that lines of close colours still tell apart."""
    return {label: _MARKERS[index % len(_MARKERS)] for index, label in enumerate(labels)}


def _shared_legend(figure: Figure, axes: Sequence[Axes], title: str) -> None:
    """One legend for all panels, right of the grid, instead of one over each panel's lines."""
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, title=title, loc="outside right upper", fontsize="small")


def _pretty(name: str) -> str:
    """Turn a column name into an axis label: ``mean_latency_s`` -> ``mean latency [s]``."""
    units = {"_s": "s", "_j": "J", "_per_s": "1/s", "_w": "W"}
    for suffix, unit in sorted(units.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} [{unit}]"
    return name.replace("_", " ")


def latency_cdf_figure(cdfs: Mapping[str, pd.DataFrame]) -> Figure:
    """Plot one empirical latency CDF line per label (frames from ``stats.latency_cdf``)."""
    return _cdf_figure(
        cdfs, "latency_s", "latency of completed requests [s]", "fraction of completed requests"
    )


def waiting_time_cdf_figure(cdfs: Mapping[str, pd.DataFrame]) -> Figure:
    """Plot one empirical CDF of waiting times per label, e.g. per server.

    The frames come from ``stats.ecdf(waits_s, "waiting_s")``.
    """
    return _cdf_figure(
        cdfs,
        "waiting_s",
        "waiting time at the server [s]",
        "fraction of served requests",
        legend_title=None,
    )


def _cdf_figure(
    cdfs: Mapping[str, pd.DataFrame],
    column: str,
    xlabel: str,
    ylabel: str,
    legend_title: str | None = "policy",
) -> Figure:
    """Plot one step line per label of the ``column``/``cdf`` frames of ``stats.ecdf``."""
    with _style():
        figure, (ax,) = new_figure(1)
        colours = _palette(list(cdfs))
        for label, frame in cdfs.items():
            ax.step(frame[column], frame["cdf"], where="post", label=label, c=colours[label])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1.02)
        if len(cdfs) > 1:
            ax.legend(title=legend_title)
    return figure


def statistic_bars_figure(
    summary: pd.DataFrame, statistics: Sequence[str], by: str = "policy"
) -> Figure:
    """Plot one bar panel per statistic, one bar per ``by`` value, with CI error bars.

    ``summary`` is the long table of ``bootstrap.summarise_cells``.
    """
    with _style():
        figure, axes = new_figure(len(statistics))
        for ax, name in zip(axes, statistics, strict=True):
            rows = summary[summary["statistic"] == name]
            _bars_with_ci(ax, rows, by)
            ax.set_ylabel(_pretty(name))
            ax.set_title(_pretty(name))
    return figure


def _bars_with_ci(ax: Axes, rows: pd.DataFrame, by: str) -> None:
    """Draw bars at the means with asymmetric error bars from ci_low to ci_high."""
    labels = [str(v) for v in rows[by]]
    positions = np.arange(len(labels))
    means = rows["mean"].to_numpy(dtype=float)
    errors = np.vstack([means - rows["ci_low"], rows["ci_high"] - means])
    colours = list(_palette(labels).values())
    ax.bar(positions, means, color=colours[: len(labels)], yerr=errors, capsize=4)
    ax.set_xticks(positions, labels, rotation=20, ha="right")
    ax.axhline(0.0, color="0.3", linewidth=0.8)


def outcomes_figure(fractions: pd.DataFrame) -> Figure:
    """Plot stacked bars of outcome fractions: rows are policies, columns are outcomes."""
    with _style():
        figure, (ax,) = new_figure(1)
        positions = np.arange(len(fractions))
        bottom = np.zeros(len(fractions))
        for outcome in fractions.columns:
            values = fractions[outcome].to_numpy(dtype=float)
            colour = OUTCOME_COLOURS.get(str(outcome), "0.5")
            ax.bar(positions, values, bottom=bottom, label=str(outcome), color=colour)
            bottom += values
        ax.set_xticks(positions, [str(i) for i in fractions.index], rotation=20, ha="right")
        ax.set_ylabel("fraction of requests")
        ax.set_ylim(0, 1.0)
        ax.legend(title="outcome", fontsize="small", loc="lower right")
    return figure


def queue_length_figure(
    servers: pd.DataFrame,
    simulated_s: float,
    columns: Sequence[str] = ("cpu_queue", "gpu_queue"),
    bins: int = 200,
    max_servers: int = QUEUE_FIGURE_MAX_SERVERS,
) -> Figure:
    """Plot queue lengths over time, one panel per server (at most ``max_servers``).

    Each line is the exact time average of the step function over ``bins`` equal windows,
    so a run of any length draws the same number of points.
    """
    ids = sorted(int(s) for s in servers["server"].unique())[:max_servers]
    with _style():
        figure, axes = new_figure(max(len(ids), 1), columns=2)
        for ax, server in zip(axes, ids, strict=False):
            series = servers[servers["server"] == server]
            times_s = series["time_s"].to_numpy(dtype=float)
            for column in columns:
                binned = binned_time_average(times_s, series[column], simulated_s, bins)
                mid_s = (binned["start_s"] + binned["end_s"]) / 2
                ax.plot(mid_s, binned["mean"], label=column.replace("_", " "))
            ax.set_title(f"server {server}")
            ax.set_xlabel("simulated time [s]")
            ax.set_ylabel("parts waiting (window mean)")
            ax.legend(fontsize="small")
    return figure


def utilisation_figure(utilisation: pd.DataFrame) -> Figure:
    """Plot CPU and GPU utilisation per server as grouped bars (from ``servers.utilisation``)."""
    with _style():
        figure, (ax,) = new_figure(1)
        positions = np.arange(len(utilisation))
        width = 0.4
        colours = sns.color_palette("colorblind", 2)
        for offset, unit, colour in ((-0.2, "cpu", colours[0]), (0.2, "gpu", colours[1])):
            values = utilisation[f"{unit}_utilisation"].to_numpy(dtype=float)
            ax.bar(positions + offset, values, width, label=unit.upper(), color=colour)
        ax.set_xticks(positions, [str(s) for s in utilisation.index])
        ax.set_xlabel("server")
        ax.set_ylabel("utilisation (busy fraction)")
        ax.set_ylim(0, 1.0)
        ax.legend()
    return figure


def sweep_figure(
    summary: pd.DataFrame,
    parameter: str,
    statistics: Sequence[str],
    by: str = "policy",
    order: Sequence[object] | None = None,
    legend_title: str = "policy",
) -> Figure:
    """Plot each statistic against a varied parameter: one line per ``by`` value, CI bands.

    ``summary`` is a long table (``bootstrap.summarise_cells``) with a ``parameter`` column.
    Numeric parameters use a numeric axis; others are placed in ``order`` (or first seen).
    """
    values = list(order) if order is not None else list(dict.fromkeys(summary[parameter]))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    position = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    groups = list(dict.fromkeys(summary[by]))
    colours, markers = _palette(groups), _markers(groups)
    with _style():
        figure, axes = new_figure(len(statistics))
        for ax, name in zip(axes, statistics, strict=True):
            rows = summary[summary["statistic"] == name]
            for group in groups:
                line = rows[rows[by] == group]
                _line_with_band(ax, line, parameter, position, group, colours, markers[group])
            if not numeric:
                ax.set_xticks(range(len(values)), [str(v) for v in values])
            ax.set_xlabel(parameter)
            ax.set_ylabel(_pretty(name))
        _shared_legend(figure, axes, legend_title)
    return figure


def _line_with_band(
    ax: Axes,
    rows: pd.DataFrame,
    parameter: str,
    position: Mapping[object, float],
    group: object,
    colours: Mapping[object, object],
    marker: str = "o",
) -> None:
    """Draw one group's means against the parameter with a shaded CI band."""
    rows = rows.assign(_x=rows[parameter].map(position)).sort_values("_x")
    ax.plot(rows["_x"], rows["mean"], marker=marker, label=str(group), color=colours[group])
    ax.fill_between(rows["_x"], rows["ci_low"], rows["ci_high"], alpha=0.2, color=colours[group])


def learning_curves_figure(
    progress: pd.DataFrame,
    metrics: Sequence[str] = LEARNING_METRICS,
    by: str = "algo",
    points: int = 100,
    window: int = 1,
) -> Figure:
    """Plot learning curves, one panel per metric, one line per ``by`` value with a band.

    ``progress`` stacks progress tables with ``step``, ``run`` (one per seed) and ``by``
    columns (see ``runs.training_progress``). Each run is smoothed by a rolling mean of
    ``window`` rows, interpolated onto ``points`` common steps, and the band is the 95%
    bootstrap CI of the mean over runs (no band for a single run).
    """
    present = [m for m in metrics if m in progress.columns]
    groups = list(dict.fromkeys(progress[by]))
    colours = _palette(groups)
    with _style():
        figure, axes = new_figure(max(len(present), 1))
        for ax, metric in zip(axes, present, strict=False):
            for group in groups:
                mine = progress[progress[by] == group]
                steps, matrix = _curves_on_grid(mine, metric, points, window)
                mean, low, high = bootstrap_band(matrix)
                ax.plot(steps, mean, label=str(group), color=colours[group])
                if matrix.shape[0] > 1:
                    ax.fill_between(steps, low, high, alpha=0.2, color=colours[group])
            ax.set_xlabel("training step")
            ax.set_ylabel(_pretty(metric))
        _shared_legend(figure, axes, by)
    return figure


def _curves_on_grid(
    progress: pd.DataFrame, metric: str, points: int, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate each run's smoothed metric onto shared steps; NaN outside a run's range."""
    runs = [frame.sort_values("step") for _, frame in progress.groupby("run", sort=True)]
    runs = [r[["step", metric]].dropna() for r in runs]
    runs = [r for r in runs if len(r)]
    if not runs:
        return np.zeros(0), np.zeros((0, 0))
    low = min(float(r["step"].iloc[0]) for r in runs)
    high = max(float(r["step"].iloc[-1]) for r in runs)
    steps = np.linspace(low, high, points) if high > low else np.array([low])
    rows = []
    for run in runs:
        smooth = run[metric].rolling(window, min_periods=1).mean().to_numpy(dtype=float)
        rows.append(np.interp(steps, run["step"].to_numpy(dtype=float), smooth, np.nan, np.nan))
    return steps, np.vstack(rows)
