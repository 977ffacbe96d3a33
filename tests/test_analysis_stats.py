"""Hand-computable checks of the per-run statistics and the step-function helpers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import stats
from analysis.runs import Run
from analysis.synthetic import default_scenario
from analysis.timeseries import (
    binned_time_average,
    hold_durations_s,
    time_average,
    time_weighted_quantiles,
)

REQUEST_COLUMNS = [
    "request_id", "outcome", "latency", "quality", "utility", "server", "upload_end",
    "compute_start", "compute_end", "finish", "deadline", "energy_tx_j", "energy_cpu_j",
    "energy_gpu_j",
]  # fmt: skip


def make_requests(rows: list[dict]) -> pd.DataFrame:
    """Build a requests table; columns a row does not give are NaN."""
    frame = pd.DataFrame(rows).reindex(columns=REQUEST_COLUMNS)
    frame["request_id"] = np.arange(len(frame))
    return frame


def four_requests() -> pd.DataFrame:
    """Two completed, one missed, one pending."""
    return make_requests(
        [
            {"outcome": "completed", "latency": 2.0, "quality": 0.5, "utility": 0.4,
             "energy_tx_j": 1.0, "energy_cpu_j": 10.0, "energy_gpu_j": 100.0},
            {"outcome": "completed", "latency": 4.0, "quality": 0.9, "utility": 0.6,
             "energy_tx_j": 1.0, "energy_gpu_j": 100.0},
            {"outcome": "missed", "latency": 30.0, "quality": 0.7, "utility": -1.0,
             "energy_tx_j": 2.0, "energy_gpu_j": 200.0},
            {"outcome": "pending", "utility": np.nan},
        ]
    )  # fmt: skip


def busy_series(busy_from_s: float, busy_to_s: float) -> pd.DataFrame:
    """One server whose GPU is busy on [from, to) and whose CPU is never busy."""
    return pd.DataFrame(
        {
            "time_s": [0.0, busy_from_s, busy_to_s],
            "server": [0, 0, 0],
            "in_system": [0, 1, 0],
            "cpu_queue": [0, 0, 0],
            "gpu_queue": [0, 0, 0],
            "cpu_busy": [0, 0, 0],
            "gpu_busy": [0, 1, 0],
        }
    )


def make_run(requests: pd.DataFrame, servers: pd.DataFrame, simulated_s: float, **cost) -> Run:
    """Wrap tables in a Run with a one-server scenario."""
    scenario = default_scenario(server_count=1, duration_s=simulated_s)
    scenario["cost"].update(cost)
    manifest = {"scenario": scenario, "seed": 0, "policy": "test"}
    return Run(None, requests, servers, {"simulated_s": simulated_s}, manifest)


def test_latency_stats_use_completed_requests_only():
    latency = stats.latency_stats(four_requests())
    assert latency["count"] == 2
    assert latency["mean_s"] == pytest.approx(3.0)
    assert latency["p50_s"] == pytest.approx(3.0)
    assert latency["p95_s"] == pytest.approx(np.percentile([2.0, 4.0], 95))


def test_latency_percentiles_match_numpy_on_random_sample():
    rng = np.random.default_rng(3)
    values = rng.exponential(2.0, 501)
    requests = make_requests([{"outcome": "completed", "latency": v} for v in values])
    latency = stats.latency_stats(requests)
    for p in (50, 95, 99):
        assert latency[f"p{p}_s"] == pytest.approx(np.percentile(values, p))


def test_latency_cdf_is_sorted_and_ends_at_one():
    cdf = stats.latency_cdf(four_requests())
    assert list(cdf["latency_s"]) == [2.0, 4.0]
    assert list(cdf["cdf"]) == [0.5, 1.0]


def test_outcome_breakdown_lists_all_outcomes_with_fractions():
    breakdown = stats.outcome_breakdown(four_requests())
    assert list(breakdown.index) == list(stats.OUTCOMES)
    assert breakdown.loc["completed", "count"] == 2
    assert breakdown.loc["dropped", "count"] == 0
    assert breakdown.loc["missed", "fraction"] == pytest.approx(0.25)
    assert breakdown["fraction"].sum() == pytest.approx(1.0)


def test_deadline_hit_ratio_leaves_out_pending_requests():
    assert stats.deadline_hit_ratio(four_requests()) == pytest.approx(2 / 3)


def test_deadline_hit_ratio_is_nan_when_nothing_ended():
    assert math.isnan(stats.deadline_hit_ratio(make_requests([{"outcome": "pending"}])))


def test_quality_over_completed_and_utility_over_ended():
    requests = four_requests()
    assert stats.mean_quality(requests) == pytest.approx(0.7)
    utility = stats.utility_stats(requests)
    assert utility["total"] == pytest.approx(0.0)
    assert utility["mean"] == pytest.approx(0.0)


def test_throughput_counts_completed_per_simulated_second():
    assert stats.throughput_per_s(four_requests(), 40.0) == pytest.approx(0.05)


def test_static_and_idle_energy_follow_busy_time():
    # GPU busy 30 of 100 s, CPU never: static 50 W x 30 s; idle 15 W x 70 s + 10 W x 100 s.
    energy = stats.server_power_energy_j(busy_series(20.0, 50.0), default_scenario(1), 100.0)
    assert energy["static_j"] == pytest.approx(1500.0)
    assert energy["idle_j"] == pytest.approx(1050.0 + 1000.0)


def test_server_missing_from_series_is_idle_all_run():
    energy = stats.server_power_energy_j(busy_series(20.0, 50.0), default_scenario(2), 100.0)
    assert energy["idle_j"] == pytest.approx(2050.0 + 2500.0)


def test_energy_per_request_splits_sources_over_all_requests():
    run = make_run(four_requests(), busy_series(20.0, 50.0), 100.0)
    energy = stats.energy_per_request(run)
    assert energy["tx_j"] == pytest.approx(4.0 / 4)
    assert energy["cpu_j"] == pytest.approx(10.0 / 4)
    assert energy["gpu_j"] == pytest.approx(400.0 / 4)
    assert energy["static_j"] == pytest.approx(1500.0 / 4)
    assert energy["total_j"] == pytest.approx((414.0 + 1500.0 + 2050.0) / 4)


def test_service_cost_has_no_money_without_prices():
    assert "money" not in stats.service_cost(make_run(four_requests(), busy_series(0, 1), 10.0))


def test_service_cost_prices_energy_and_gpu_seconds():
    run = make_run(
        four_requests(), busy_series(20.0, 50.0), 100.0, price_per_kwh=0.36, price_per_gpu_s=0.01
    )
    energy_j = stats.energy_per_request(run)["total_j"]
    expected = 0.36 * energy_j / 3.6e6 + 0.01 * 30.0 / 4
    assert stats.service_cost(run)["money"] == pytest.approx(expected)
    assert stats.run_statistics(run)["cost_per_request"] == pytest.approx(expected)


def test_hold_durations_give_zero_to_all_but_last_row_at_one_instant():
    durations = hold_durations_s(np.array([0.0, 5.0, 5.0, 8.0]), 10.0)
    assert list(durations) == [5.0, 0.0, 3.0, 2.0]


def test_time_average_weights_values_by_holding_time():
    # 2 for 10 s, 0 for 30 s, 4 for 60 s over 100 s: (20 + 0 + 240) / 100.
    value = time_average(np.array([0.0, 10.0, 40.0]), np.array([2, 0, 4]), 100.0)
    assert value == pytest.approx(2.6)


def test_time_weighted_quantiles_read_the_fraction_of_time():
    times_s = np.array([0.0, 10.0, 40.0])
    values = np.array([2, 0, 4])
    found = time_weighted_quantiles(times_s, values, 100.0, [0.2, 0.3, 0.5, 1.0])
    assert list(found) == [0.0, 0.0, 4.0, 4.0]


def test_binned_time_average_integrates_exactly():
    binned = binned_time_average(np.array([0.0, 10.0, 40.0]), np.array([2, 0, 4]), 100.0, 4)
    assert list(binned["mean"]) == pytest.approx([0.8, 1.6, 4.0, 4.0])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.01, 10.0), st.integers(0, 9)), min_size=1, max_size=30),
    st.integers(1, 7),
)
def test_binned_means_average_back_to_the_time_average(steps, bins):
    times_s = np.concatenate([[0.0], np.cumsum([d for d, _ in steps])[:-1]])
    values = np.array([v for _, v in steps])
    end_s = float(sum(d for d, _ in steps))
    binned = binned_time_average(times_s, values, end_s, bins)
    assert binned["mean"].mean() == pytest.approx(time_average(times_s, values, end_s))
