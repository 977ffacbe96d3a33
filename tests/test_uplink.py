"""The sub-channel pool against a SimPy resource, and pending uploads at the end of a run."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import simpy
from conftest import make_scenario

from edgesim import Simulation
from edgesim.sim.uplink import Uplink


def simpy_upload_starts(asks: list[tuple[float, float]], subchannels: int) -> list[float]:
    """Upload starts of requests asking at given times for given durations, with each upload a
    SimPy process holding one unit of a ``simpy.Resource`` (FIFO)."""
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=subchannels)
    starts = [math.nan] * len(asks)

    def upload(index: int, duration_s: float):
        with pool.request() as turn:
            yield turn
            starts[index] = env.now
            yield env.timeout(duration_s)

    def source():
        for index, (ask_s, duration_s) in enumerate(asks):
            yield env.timeout(ask_s - env.now)
            env.process(upload(index, duration_s))

    env.process(source())
    env.run()
    return starts


@pytest.mark.parametrize("subchannels", [1, 2, 5])
def test_upload_starts_match_a_fifo_simpy_resource(subchannels):
    rng = random.Random(subchannels)
    ask_s, asks = 0.0, []
    for _ in range(400):
        ask_s += rng.expovariate(2.0)
        asks.append((ask_s, rng.expovariate(1.0 / subchannels)))
    uplink = Uplink(subchannels)
    starts = []
    for ask_s, duration_s in asks:
        start_s = uplink.start_s(ask_s)
        uplink.hold(start_s, duration_s)
        starts.append(start_s)
    expected = simpy_upload_starts(asks, subchannels)
    assert max(s - a for s, (a, _) in zip(starts, asks, strict=True)) > 0.5  # queues formed
    assert np.allclose(starts, expected, rtol=0, atol=1e-9)


def run_on_a_narrow_uplink(duration_s: float, deadline_s: list[float], drop_late: bool):
    """Round-robin on one slow sub-channel per base station: uploads of several seconds queue."""
    scenario = make_scenario(
        duration_s=duration_s,
        radio={"subchannels": 1, "subchannel_hz": 5e3},
        devices={"count": 6, "input_mbit": [0.5, 1.0], "deadline_s": deadline_s},
        scheduler={"drop_late": drop_late},
    )
    return Simulation(scenario, policy="round-robin", seed=2).run()


def test_requests_waiting_past_their_deadline_never_take_a_subchannel():
    table = run_on_a_narrow_uplink(400, [5, 8], drop_late=True).requests
    dropped_waiting = table[(table.outcome == "dropped") & table.upload_start.isna()]
    assert len(dropped_waiting) > 5
    assert (dropped_waiting.energy_tx_j == 0.0).all()
    uploads = table[table.upload_start.notna()].sort_values("upload_start")
    for _, group in uploads.groupby("base_station"):
        assert (group.upload_start.to_numpy()[1:] >= group.upload_end.to_numpy()[:-1] - 1e-9).all()
        assert (group.upload_start <= group.deadline).all()


def test_pending_requests_carry_no_upload_time_after_the_end_of_the_run():
    result = run_on_a_narrow_uplink(120, [60, 90], drop_late=False)
    pending = result.requests[result.requests.outcome == "pending"]
    end_s = result.summary["simulated_s"]
    waiting = pending[pending.decided.notna() & pending.upload_start.isna()]
    uploading = pending[pending.upload_start.notna() & pending.upload_end.isna()]
    assert len(waiting) > 0 and len(uploading) > 0
    assert (waiting.energy_tx_j == 0.0).all()
    assert (uploading.upload_start <= end_s).all() and (uploading.energy_tx_j > 0.0).all()
    assert (pending.upload_end.dropna() <= end_s).all()
