"""The simulator against queueing theory on the single-server scenario.

With decisions at arrival, maximum frequencies, nothing to upload and deadlines nobody
reaches, each request's CPU and GPU parts take the same service time, so the server is a single
FCFS queue: M/D/1 with a fixed number of images per request, M/G/1 with a random number. The
mean wait in queue must match the Pollaczek-Khinchine formula
``Wq = lambda E[S^2] / (2 (1 - rho))``.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgesim import Simulation, load_scenario
from edgesim.model.compute import ComputeParams, latency_optimal_allocation, work_cycles

SEEDS = (1, 2, 3)


def service_time_s(scenario, images: int) -> float:
    """Service time of one request at the middle level with both units at full speed."""
    level = scenario.quality.levels[len(scenario.quality.levels) // 2]
    params = ComputeParams.from_scenario(scenario.servers)
    work_gpu, work_cpu = work_cycles(level.steps, level.resolution, images, params)
    return latency_optimal_allocation(work_gpu, work_cpu, params).gpu_time_s


def measured_wait_s(scenario) -> tuple[float, int]:
    waits = []
    for seed in SEEDS:
        table = Simulation(scenario, seed=seed).run().requests
        served = table[table.compute_start.notna()]
        waits.append((served.compute_start - served.server_arrival).to_numpy())
    joined = np.concatenate(waits)
    return float(joined.mean()), len(joined)


def pollaczek_khinchine_wait_s(rate_per_s: float, mean_s: float, second_moment_s2: float):
    load = rate_per_s * mean_s
    assert load < 0.95
    return rate_per_s * second_moment_s2 / (2.0 * (1.0 - load))


@pytest.mark.parametrize(
    ("images", "rate_per_s"), [([2], 0.03), ([1, 2, 4], 0.02)], ids=["M/D/1", "M/G/1"]
)
def test_mean_wait_matches_pollaczek_khinchine(scenarios_dir, images, rate_per_s):
    scenario = load_scenario(
        scenarios_dir / "single-server.yaml",
        overrides={
            "devices.images": images,
            "devices.arrival.rate_per_s": rate_per_s,
            "duration_s": 60000,
        },
    )
    rate = scenario.devices.count * scenario.devices.arrival.rate_per_s
    services = np.array([service_time_s(scenario, n) for n in images])
    expected = pollaczek_khinchine_wait_s(rate, services.mean(), (services**2).mean())
    measured, count = measured_wait_s(scenario)
    assert count > 30000
    assert measured == pytest.approx(expected, rel=0.05)


def test_littles_law_holds_on_the_server_time_series(scenarios_dir):
    scenario = load_scenario(scenarios_dir / "default.yaml", overrides={"duration_s": 1800})
    result = Simulation(scenario, policy="random", seed=5).run()
    table, series = result.requests, result.servers
    end_s = result.summary["simulated_s"]
    for server, rows in series.groupby("server"):
        times = np.append(rows.time_s.to_numpy(), end_s)
        area = (np.diff(times) * rows.in_system.to_numpy()).sum()
        visits = table[(table.server == server) & table.server_arrival.notna()]
        departures = visits.server_departure.fillna(end_s).clip(upper=end_s)
        time_in_system = (departures - visits.server_arrival).sum()
        mean_in_system = area / end_s
        arrival_rate = len(visits) / end_s
        mean_time_s = time_in_system / len(visits)
        assert mean_in_system == pytest.approx(arrival_rate * mean_time_s, rel=1e-9)
        assert mean_in_system > 0.1
