"""Properties over random scenarios: every request ends in exactly one consistent outcome."""

from __future__ import annotations

import math

import numpy as np
from conftest import make_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesim import Simulation

scenarios = st.fixed_dictionaries(
    {
        "duration_s": st.floats(20, 200),
        "devices": st.fixed_dictionaries(
            {
                "count": st.integers(1, 8),
                "arrival": st.fixed_dictionaries({"rate_per_s": st.floats(0.01, 0.5)}),
                "input_mbit": st.sampled_from([[0, 0], [0.5, 2.0], [5, 20]]),
                "deadline_s": st.sampled_from([[1, 3], [5, 20], [30, 60]]),
            }
        ),
        "servers": st.fixed_dictionaries({"count": st.integers(1, 4)}),
        "radio": st.fixed_dictionaries({"subchannels": st.integers(1, 4)}),
        "backhaul": st.fixed_dictionaries(
            {"topology": st.sampled_from(["full_mesh", "ring", "line", "star"])}
        ),
        "scheduler": st.fixed_dictionaries(
            {
                "epoch_s": st.sampled_from([0.0, 0.5, 3.0]),
                "dvfs": st.sampled_from(["energy", "max", "deadline"]),
                "drop_late": st.booleans(),
            }
        ),
    }
)


def check_outcome(row) -> None:
    outcome = row.outcome
    if outcome == "pending":
        assert math.isnan(row.utility)
        return
    assert row.utility == -1.0 or outcome == "completed"
    if outcome == "rejected":
        assert row.server == -1 and math.isnan(row.upload_start)
    elif outcome == "completed":
        assert row.finish <= row.deadline + 1e-9
        assert row.quality >= row.min_quality
        assert math.isfinite(row.utility)
    elif outcome == "missed":
        assert row.finish > row.deadline or row.quality < row.min_quality
    elif outcome == "dropped":
        assert math.isnan(row.finish) and math.isnan(row.compute_end)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sections=scenarios, policy=st.sampled_from(["random", "round-robin", "greedy", "gpu-max"]))
def test_every_request_ends_in_exactly_one_outcome(sections, policy):
    scenario = make_scenario(**sections)
    result = Simulation(scenario, policy=policy, seed=11).run()
    table = result.requests
    assert table.request_id.is_unique
    assert np.array_equal(np.sort(table.request_id), np.arange(len(table)))
    assert sum(
        result.summary[k]
        for k in (
            "completed",
            "missed",
            "dropped",
            "rejected",
            "pending",
        )
    ) == len(table)
    if not scenario.scheduler.drop_late:
        assert (table.outcome != "dropped").all()
    for row in table.itertuples():
        check_outcome(row)
