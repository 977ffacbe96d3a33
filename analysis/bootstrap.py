"""Confidence intervals across seeds and the comparison table built from them.

The interval is a percentile bootstrap of the mean: resample the per-seed values with
replacement, take the mean of each resample, and read the interval off the resampled means'
percentiles. The generator is seeded, so a table is the same every time it is built.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
KEY_COLUMNS = ("setting", "policy", "seed")


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Return ``(mean, ci_low, ci_high)`` of the values' mean by percentile bootstrap.

    NaN values are ignored. One value gives a zero-width interval; none gives three NaNs.
    """
    sample = np.asarray(values, dtype=float)
    sample = sample[~np.isnan(sample)]
    if sample.size == 0:
        return (float("nan"),) * 3
    mean = float(sample.mean())
    if sample.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, sample.size, size=(resamples, sample.size))
    means = sample[picks].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, (tail, 100 - tail))
    return mean, float(low), float(high)


def bootstrap_band(
    matrix: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap the mean of each column of a (seeds x points) matrix, resampling whole rows.

    Returns arrays ``(mean, ci_low, ci_high)`` of one value per column; NaNs are ignored.
    """
    data = np.asarray(matrix, dtype=float)
    # Points where no run has a value are all-NaN columns: their NaN result is expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(data, axis=0)
        if data.shape[0] < 2:
            return mean, mean.copy(), mean.copy()
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, data.shape[0], size=(resamples, data.shape[0]))
        means = np.nanmean(data[picks], axis=1)
        tail = 100 * (1 - confidence) / 2
        low, high = np.nanpercentile(means, (tail, 100 - tail), axis=0)
    return mean, low, high


def statistic_columns(cells: pd.DataFrame, group_by: Sequence[str]) -> list[str]:
    """Return the numeric columns of a cell table that are statistics (not keys or settings)."""
    skip = set(KEY_COLUMNS) | set(group_by)
    numeric = cells.select_dtypes(include="number").columns
    return [c for c in numeric if c not in skip]


def summarise_cells(
    cells: pd.DataFrame,
    group_by: Sequence[str] = ("policy",),
    statistics: Sequence[str] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Return a long table: one row per group and statistic with ``n``, mean, ci_low, ci_high.

    ``cells`` has one row per run (e.g. from :func:`analysis.stats.cell_statistics`); groups
    keep their first-appearance order.
    """
    names = list(statistics) if statistics is not None else statistic_columns(cells, group_by)
    rows = []
    for key, group in cells.groupby(list(group_by), sort=False, dropna=False):
        labels = key if isinstance(key, tuple) else (key,)
        for name in names:
            mean, low, high = bootstrap_ci(group[name], confidence, resamples, seed)
            count = int(group[name].notna().sum())
            rows.append((*labels, name, count, mean, low, high))
    columns = [*group_by, "statistic", "n", "mean", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)


def comparison_table(
    cells: pd.DataFrame,
    group_by: Sequence[str] = ("policy",),
    statistics: Sequence[str] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Return one row per group with ``<stat>_mean``, ``<stat>_ci_low``, ``<stat>_ci_high``.

    Group by ``("policy",)`` for a compare folder and ``("setting", "policy")`` (plus any
    varied keys, which are constant within a setting) for a sweep. ``seeds`` counts the rows.
    """
    long = summarise_cells(cells, group_by, statistics, confidence, resamples, seed)
    keys = list(group_by)
    sizes = cells.groupby(keys, sort=False, dropna=False).size()
    rows = []
    for key, group in long.groupby(keys, sort=False, dropna=False):
        labels = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, labels, strict=True))
        row["seeds"] = int(sizes.loc[key])
        for record in group.itertuples(index=False):
            for part in ("mean", "ci_low", "ci_high"):
                row[f"{record.statistic}_{part}"] = getattr(record, part)
        rows.append(row)
    return pd.DataFrame(rows)
