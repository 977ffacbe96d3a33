"""Utilisation, queue statistics, waiting times and Little's law on hand-built servers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import servers
from analysis.runs import Run, load_run
from analysis.stats import run_statistics
from analysis.synthetic import default_scenario, write_random_run

SMALL = Path(__file__).resolve().parents[1] / "scenarios" / "small.yaml"
COLUMNS = ["time_s", "server", "in_system", "cpu_queue", "gpu_queue", "cpu_busy", "gpu_busy"]


def series(rows: list[tuple]) -> pd.DataFrame:
    """Build a server table from (time_s, server, in_system, cpu_q, gpu_q, cpu_busy, gpu_busy)."""
    return pd.DataFrame(rows, columns=COLUMNS)


def two_request_server() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Server 0 over 100 s: request A at 10 s served 10-40 s; B at 20 s waits, served 40-50 s."""
    table = series(
        [
            (0.0, 0, 0, 0, 0, 0, 0),
            (10.0, 0, 1, 0, 1, 0, 0),
            (10.0, 0, 1, 0, 0, 0, 1),
            (20.0, 0, 2, 0, 1, 0, 1),
            (40.0, 0, 1, 0, 0, 0, 1),
            (50.0, 0, 0, 0, 0, 0, 0),
        ]
    )
    requests = pd.DataFrame(
        {
            "request_id": [0, 1],
            "server": [0, 0],
            "outcome": ["completed", "completed"],
            "upload_end": [10.0, 20.0],
            "compute_start": [10.0, 40.0],
            "compute_end": [40.0, 50.0],
            "finish": [40.5, 50.5],
            "deadline": [60.0, 60.0],
        }
    )
    return table, requests


def test_utilisation_is_busy_time_over_simulated_time():
    table, _ = two_request_server()
    usage = servers.utilisation(table, 100.0)
    assert usage.loc[0, "gpu_busy_s"] == pytest.approx(40.0)
    assert usage.loc[0, "gpu_utilisation"] == pytest.approx(0.4)
    assert usage.loc[0, "cpu_utilisation"] == 0.0


def test_gpu_busy_30_of_100_seconds_gives_utilisation_point_three():
    table = series([(0.0, 0, 0, 0, 0, 0, 0), (50.0, 0, 1, 0, 0, 0, 1), (80.0, 0, 0, 0, 0, 0, 0)])
    assert servers.utilisation(table, 100.0).loc[0, "gpu_utilisation"] == pytest.approx(0.3)


def test_utilisation_lists_servers_absent_from_the_series_as_idle():
    table, _ = two_request_server()
    usage = servers.utilisation(table, 100.0, server_count=3)
    assert list(usage.index) == [0, 1, 2]
    assert usage.loc[2, "gpu_utilisation"] == 0.0


def test_queue_stats_are_time_weighted():
    table, _ = two_request_server()
    found = servers.queue_stats(table, 100.0).set_index("queue")
    # in_system: 1 for 10 s, 2 for 20 s, 1 for 10 s -> 60 / 100.
    assert found.loc["in_system", "time_average"] == pytest.approx(0.6)
    assert found.loc["in_system", "max"] == 2
    # gpu_queue: 1 only on [20, 40) -> 0.2; it is 0 for 80% of the time.
    assert found.loc["gpu_queue", "time_average"] == pytest.approx(0.2)
    assert found.loc["gpu_queue", "p50"] == 0
    assert found.loc["gpu_queue", "p95"] == 1


def test_waiting_time_is_compute_start_minus_upload_end():
    _, requests = two_request_server()
    assert list(servers.waiting_times_s(requests)) == [0.0, 20.0]
    summary = servers.waiting_time_stats(requests)
    assert summary.loc["all", "mean_s"] == pytest.approx(10.0)
    assert summary.loc["all", "max_s"] == pytest.approx(20.0)


def test_waiting_time_leaves_out_requests_that_never_started():
    _, requests = two_request_server()
    requests.loc[1, ["compute_start", "compute_end", "finish"]] = np.nan
    requests.loc[1, "outcome"] = "dropped"
    assert list(servers.waiting_times_s(requests)) == [0.0]


def test_littles_law_holds_exactly_on_the_hand_case():
    table, requests = two_request_server()
    check = servers.littles_law(requests, table, 100.0).loc[0]
    assert check["time_average_in_system"] == pytest.approx(0.6)
    assert check["arrival_rate_per_s"] == pytest.approx(0.02)
    assert check["mean_time_at_server_s"] == pytest.approx(30.0)
    assert check["rate_times_time"] == pytest.approx(0.6)
    assert abs(check["relative_gap"]) < 1e-12


def test_dropped_request_leaves_at_its_deadline():
    _, requests = two_request_server()
    requests.loc[1, ["compute_start", "compute_end", "finish"]] = np.nan
    requests.loc[1, "outcome"] = "dropped"
    stays = servers.time_at_server(requests, 100.0)
    assert list(stays["leave_s"]) == [40.0, 60.0]


def test_pending_request_stays_until_the_end_of_the_run():
    _, requests = two_request_server()
    requests.loc[1, ["compute_end", "finish"]] = np.nan
    requests.loc[1, "outcome"] = "pending"
    assert servers.time_at_server(requests, 100.0)["leave_s"].iloc[1] == 100.0


def test_littles_law_holds_on_a_random_synthetic_run(tmp_path):
    run = load_run(write_random_run(tmp_path / "run", seed=5, duration_s=150.0))
    check = servers.littles_law(run.requests, run.servers, run.simulated_s, 2)
    assert check["time_average_in_system"].min() > 0
    assert np.allclose(check["rate_times_time"], check["time_average_in_system"], rtol=1e-9)


def with_server_times(requests: pd.DataFrame) -> pd.DataFrame:
    """Add the simulator's columns: forwarding takes 0.5 s, the overhead 1 s after compute."""
    requests = requests.copy()
    requests["server_arrival"] = requests["upload_end"] + 0.5
    requests["server_departure"] = requests["compute_end"] + 1.0
    return requests


def test_waiting_time_starts_at_server_arrival_when_recorded():
    _, requests = two_request_server()
    assert list(servers.waiting_times_s(with_server_times(requests))) == [-0.5, 19.5]


def test_time_at_server_uses_server_arrival_and_departure_when_recorded():
    _, requests = two_request_server()
    stays = servers.time_at_server(with_server_times(requests), 100.0)
    assert list(stays["arrive_s"]) == [10.5, 20.5]
    assert list(stays["leave_s"]) == [41.0, 51.0]


def test_request_dropped_from_a_queue_leaves_at_its_recorded_departure():
    _, requests = two_request_server()
    requests = with_server_times(requests)
    requests.loc[1, ["compute_start", "compute_end", "finish"]] = np.nan
    requests.loc[1, ["outcome", "server_departure"]] = ["dropped", 45.0]
    assert servers.time_at_server(requests, 100.0)["leave_s"].iloc[1] == 45.0


def test_request_at_its_server_when_the_run_ends_is_censored_there():
    _, requests = two_request_server()
    requests = with_server_times(requests)
    requests.loc[1, ["compute_end", "server_departure", "finish"]] = np.nan
    requests.loc[1, "outcome"] = "pending"
    stays = servers.time_at_server(requests, 30.0)
    assert list(stays["leave_s"]) == [30.0, 30.0]


def test_request_not_yet_at_its_server_is_not_counted():
    _, requests = two_request_server()
    requests = with_server_times(requests)
    requests.loc[1, ["server_arrival", "compute_start", "compute_end"]] = np.nan
    requests.loc[1, ["server_departure", "finish"]] = np.nan
    assert list(servers.time_at_server(requests, 100.0).index) == [0]


def test_littles_law_holds_on_a_real_simulation_with_requests_pending_at_the_end(tmp_path):
    from edgesim import Simulation, load_scenario

    overrides = {"duration_s": 97.3, "devices.arrival.rate_per_s": 0.5}
    scenario = load_scenario(SMALL, overrides)
    Simulation(scenario, policy="gpu-max", seed=3).run(out=tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert (run.requests["outcome"] == "pending").sum() > 0
    check = servers.littles_law(run.requests, run.servers, run.simulated_s, 2)
    assert check["time_average_in_system"].min() > 1
    assert np.allclose(check["rate_times_time"], check["time_average_in_system"], rtol=1e-9)
    overall = servers.server_run_statistics(run)
    assert abs(overall["littles_law_relative_gap"]) < 1e-9
    assert 0 < overall["mean_gpu_utilisation"] <= 1


def hand_run(table: pd.DataFrame, requests: pd.DataFrame, server_count: int = 1) -> Run:
    """Wrap the hand-built tables in a 100-second run of ``server_count`` servers."""
    scenario = default_scenario(server_count=server_count, duration_s=100.0)
    manifest = {"scenario": scenario, "seed": 0, "policy": "test"}
    return Run(Path("hand"), requests, table, {"simulated_s": 100.0}, manifest)


def test_queue_max_ignores_a_length_held_for_no_time():
    table = series(
        [
            (0.0, 0, 0, 0, 0, 0, 0),
            (10.0, 0, 1, 0, 3, 0, 0),
            (10.0, 0, 1, 0, 0, 0, 1),
            (30.0, 0, 0, 0, 0, 0, 0),
        ]
    )
    found = servers.queue_stats(table, 100.0).set_index("queue")
    assert found.loc["gpu_queue", "max"] == 0
    assert found.loc["in_system", "max"] == 1


def test_server_run_statistics_condense_the_hand_case():
    table, requests = two_request_server()
    found = servers.server_run_statistics(hand_run(table, requests))
    assert list(found) == list(servers.SERVER_STATISTICS)
    assert found["mean_gpu_utilisation"] == pytest.approx(0.4)
    assert found["mean_cpu_utilisation"] == 0.0
    assert found["mean_gpu_queue_length"] == pytest.approx(0.2)
    assert found["max_gpu_queue_length"] == 1
    assert found["mean_cpu_queue_length"] == found["max_cpu_queue_length"] == 0
    # Waits are 0 s and 20 s: numpy's linear p95 is 19 s.
    assert found["mean_waiting_s"] == pytest.approx(10.0)
    assert found["p95_waiting_s"] == pytest.approx(19.0)
    assert abs(found["littles_law_relative_gap"]) < 1e-12


def test_server_run_statistics_average_over_idle_servers_too():
    table, requests = two_request_server()
    found = servers.server_run_statistics(hand_run(table, requests, server_count=2))
    assert found["mean_gpu_utilisation"] == pytest.approx(0.2)
    assert found["mean_gpu_queue_length"] == pytest.approx(0.1)
    assert found["max_gpu_queue_length"] == 1


def test_littles_law_gap_over_all_servers_weighs_each_by_its_level():
    table, requests = two_request_server()
    requests = requests.copy()
    # Request B leaves at 60 s instead of 50 s: lambda W = (30 + 40) / 100 against L = 0.6.
    requests.loc[1, "compute_end"] = 60.0
    found = servers.server_run_statistics(hand_run(table, requests))
    assert found["littles_law_relative_gap"] == pytest.approx((0.7 - 0.6) / 0.6)


def test_run_without_a_server_time_series_gives_nan_server_statistics(tmp_path):
    folder = write_random_run(tmp_path / "run", seed=2, duration_s=60.0)
    (folder / "servers.parquet").unlink()
    found = run_statistics(load_run(folder))
    for name in servers.SERVER_STATISTICS:
        if name.endswith("waiting_s"):
            assert found[name] > 0
        else:
            assert np.isnan(found[name]), name


def test_waiting_times_are_split_by_server():
    _, requests = two_request_server()
    requests = pd.concat([requests, requests.assign(server=1, compute_start=[12.0, 20.0])])
    split = servers.waiting_times_by_server(requests.reset_index(drop=True))
    assert list(split) == [0, 1]
    assert list(split[0]) == [0.0, 20.0]
    assert list(split[1]) == [2.0, 0.0]
