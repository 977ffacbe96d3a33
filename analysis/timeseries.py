"""Step-function arithmetic for the server time series.

A column of ``servers.parquet`` is a step function: the value on a row holds from that row's
``time_s`` until the next row of the same server, and the last value holds until the end of the
run. Every statistic here weights a value by how long it held, never by how many rows carry it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def hold_durations_s(times_s: np.ndarray, end_s: float) -> np.ndarray:
    """Return how long each value of a step function holds, in seconds.

    ``times_s`` must be sorted. Rows sharing one time get zero duration except the last of them,
    so the final state written at an instant is the one that counts. Times are clipped to
    ``[times_s[0], end_s]`` so a row after the end holds for zero seconds.
    """
    times = np.minimum(np.asarray(times_s, dtype=float), end_s)
    if times.size == 0:
        return np.zeros(0)
    ends = np.append(times[1:], end_s)
    return np.clip(ends - times, 0.0, None)


def time_average(times_s: np.ndarray, values: np.ndarray, end_s: float) -> float:
    """Return the time average of a step function from its first time up to ``end_s``."""
    durations = hold_durations_s(times_s, end_s)
    total_s = durations.sum()
    if total_s <= 0:
        return float("nan")
    return float(np.dot(durations, np.asarray(values, dtype=float)) / total_s)


def time_above_zero_s(times_s: np.ndarray, values: np.ndarray, end_s: float) -> float:
    """Return the seconds during which a step function is strictly positive."""
    durations = hold_durations_s(times_s, end_s)
    return float(durations[np.asarray(values) > 0].sum())


def time_weighted_quantiles(
    times_s: np.ndarray, values: np.ndarray, end_s: float, quantiles: Sequence[float]
) -> np.ndarray:
    """Return quantiles of the fraction-of-time distribution of a step function.

    The q-quantile is the smallest value v such that the function is at most v for at least a
    fraction q of the time (the inverse of the time-weighted CDF, no interpolation).
    """
    durations = hold_durations_s(times_s, end_s)
    keep = durations > 0
    if not keep.any():
        return np.full(len(quantiles), np.nan)
    vals = np.asarray(values, dtype=float)[keep]
    order = np.argsort(vals, kind="stable")
    cum = np.cumsum(durations[keep][order])
    cum /= cum[-1]
    idx = np.searchsorted(cum, np.asarray(quantiles, dtype=float) - 1e-12, side="left")
    return vals[order][np.minimum(idx, vals.size - 1)]


def binned_time_average(
    times_s: np.ndarray, values: np.ndarray, end_s: float, bins: int
) -> pd.DataFrame:
    """Return the exact time average of a step function over ``bins`` equal windows of [0, end].

    The running integral of a step function is piecewise linear between change points, so
    interpolating it at the window edges gives each window's integral without error.
    Columns: ``start_s``, ``end_s``, ``mean``.
    """
    times = np.asarray(times_s, dtype=float)
    vals = np.asarray(values, dtype=float)
    durations = hold_durations_s(times, end_s)
    knots_s = np.append(times, end_s) if times.size else np.array([0.0, end_s])
    area = np.concatenate([[0.0], np.cumsum(durations * vals)]) if times.size else np.zeros(2)
    edges_s = np.linspace(0.0, end_s, bins + 1)
    area_at_edges = np.interp(edges_s, knots_s, area, left=0.0)
    widths_s = np.diff(edges_s)
    means = np.divide(np.diff(area_at_edges), widths_s, where=widths_s > 0, out=np.zeros(bins))
    return pd.DataFrame({"start_s": edges_s[:-1], "end_s": edges_s[1:], "mean": means})
