"""The percentile bootstrap and the comparison table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.bootstrap import bootstrap_band, bootstrap_ci, comparison_table, summarise_cells


def test_ci_contains_the_mean_and_is_reproducible():
    values = np.random.default_rng(1).normal(10.0, 2.0, 8)
    mean, low, high = bootstrap_ci(values, seed=4)
    assert mean == pytest.approx(values.mean())
    assert low < mean < high
    assert bootstrap_ci(values, seed=4) == (mean, low, high)


def test_ci_narrows_with_more_seeds():
    rng = np.random.default_rng(2)
    few = rng.normal(0.0, 1.0, 5)
    many = rng.normal(0.0, 1.0, 200)
    _, few_low, few_high = bootstrap_ci(few)
    _, many_low, many_high = bootstrap_ci(many)
    assert many_high - many_low < (few_high - few_low) / 3


def test_ci_of_one_value_has_zero_width_and_of_none_is_nan():
    assert bootstrap_ci([3.5]) == (3.5, 3.5, 3.5)
    assert all(math.isnan(v) for v in bootstrap_ci([np.nan]))


def test_ci_ignores_nan_values():
    assert bootstrap_ci([1.0, np.nan, 3.0])[0] == pytest.approx(2.0)


def test_ci_of_constant_values_is_the_value():
    assert bootstrap_ci([2.0, 2.0, 2.0]) == pytest.approx((2.0, 2.0, 2.0))


def test_band_resamples_whole_runs():
    matrix = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    mean, low, high = bootstrap_band(matrix)
    assert list(mean) == [2.0, 3.0]
    assert np.all(low <= mean) and np.all(mean <= high)
    assert high[0] - low[0] == pytest.approx(high[1] - low[1])


def cells() -> pd.DataFrame:
    """Two policies over seeds with known means."""
    return pd.DataFrame(
        {
            "setting": ["", "", "", "", ""],
            "policy": ["b", "b", "a", "a", "a"],
            "seed": [0, 1, 0, 1, 2],
            "utility": [1.0, 3.0, 4.0, 5.0, 6.0],
            "energy_j": [10.0, 10.0, 20.0, 30.0, 40.0],
        }
    )


def test_comparison_table_has_one_row_per_policy_with_mean_and_ci():
    table = comparison_table(cells())
    assert list(table["policy"]) == ["b", "a"]
    assert list(table["seeds"]) == [2, 3]
    assert list(table["utility_mean"]) == [2.0, 5.0]
    assert list(table.columns[2:5]) == ["utility_mean", "utility_ci_low", "utility_ci_high"]
    assert (table["energy_j_ci_low"] <= table["energy_j_mean"]).all()
    assert table.loc[0, "energy_j_ci_high"] == pytest.approx(10.0)


def test_summary_is_long_with_one_row_per_group_and_statistic():
    summary = summarise_cells(cells(), ("setting", "policy"), ["utility"])
    assert len(summary) == 2
    assert list(summary["n"]) == [2, 3]
    assert list(summary.columns) == [
        "setting", "policy", "statistic", "n", "mean", "ci_low", "ci_high"
    ]  # fmt: skip
