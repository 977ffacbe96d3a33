"""Trace replay: times sorted by their value, sizes kept with their own arrivals."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import make_scenario

from edgesim import Simulation
from edgesim.scenario import ScenarioError, TraceArrivals
from edgesim.sim.devices import load_trace


def _csv(tmp_path, text: str, name: str = "trace.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_clock_times_whose_text_order_differs_keep_their_sizes(tmp_path):
    # As text, "10:00:00" < "11:00:00" < "9:00:00": sorting the raw column shifts the sizes.
    path = _csv(tmp_path, "when,tokens\n9:00:00,9\n10:00:00,10\n11:00:00,11\n")
    trace = TraceArrivals(path=str(path), time_column="when", size_column="tokens")
    arrivals = load_trace(path, trace)
    np.testing.assert_array_equal(arrivals.times_s, [0.0, 3600.0, 7200.0])
    np.testing.assert_array_equal(arrivals.sizes_bits, [9.0, 10.0, 11.0])


def test_shuffled_seconds_are_sorted_with_exact_scaled_gaps(tmp_path):
    path = _csv(tmp_path, "t,size\n5,50\n1,10\n3,30\n10,100\n")
    trace = TraceArrivals(
        path=str(path), time_column="t", size_column="size", bits_per_unit=8.0, time_scale=2.0
    )
    arrivals = load_trace(path, trace)
    assert arrivals.times_s.tolist() == [0.0, 4.0, 8.0, 18.0]
    assert arrivals.sizes_bits.tolist() == [80.0, 240.0, 400.0, 800.0]


def test_equal_times_keep_the_file_order_of_their_sizes(tmp_path):
    path = _csv(tmp_path, "t,size\n2,7\n1,5\n2,3\n")
    trace = TraceArrivals(path=str(path), time_column="t", size_column="size")
    arrivals = load_trace(path, trace)
    assert arrivals.times_s.tolist() == [0.0, 1.0, 1.0]
    assert arrivals.sizes_bits.tolist() == [5.0, 7.0, 3.0]


def test_trace_without_size_column_gives_sorted_times_only(tmp_path):
    path = _csv(tmp_path, "t,other\n30,x\n10,y\n20,z\n")
    arrivals = load_trace(path, TraceArrivals(path=str(path), time_column="t", time_scale=0.5))
    assert arrivals.sizes_bits is None
    assert arrivals.times_s.tolist() == [0.0, 5.0, 10.0]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"time_column": "stamp"}, "devices.arrival.trace.time_column: "),
        ({"time_column": "t", "size_column": "bytes"}, "devices.arrival.trace.size_column: "),
    ],
)
def test_missing_column_is_named_by_its_key_path(tmp_path, settings, message):
    path = _csv(tmp_path, "t,size\n1,2\n")
    with pytest.raises(ScenarioError, match=re.escape(message)) as error:
        load_trace(path, TraceArrivals(path=str(path), **settings))
    assert repr(settings.get("size_column") or settings["time_column"]) in str(error.value)


def test_sizes_that_are_not_numbers_are_an_error_naming_the_size_column(tmp_path):
    path = _csv(tmp_path, "t,size\n1,2\n2,many\n")
    trace = TraceArrivals(path=str(path), time_column="t", size_column="size")
    with pytest.raises(ScenarioError, match=r"devices\.arrival\.trace\.size_column: column 'size'"):
        load_trace(path, trace)


def test_simulated_requests_get_the_size_of_their_own_arrival(tmp_path):
    rows = ["when,tokens", "9:00:01,9", "10:00:01,10", "11:00:01,11", "8:00:01,8"]
    path = _csv(tmp_path, "\n".join(rows) + "\n")
    scenario = make_scenario(
        duration_s=4 * 3600.0,
        devices={
            "arrival": {
                "process": "trace",
                "trace": {
                    "path": str(path),
                    "time_column": "when",
                    "size_column": "tokens",
                    "bits_per_unit": 1000.0,
                },
            }
        },
    )
    table = Simulation(scenario, "greedy", seed=1).run().requests.sort_values("arrival")
    assert table.arrival.tolist() == [0.0, 3600.0, 7200.0, 10800.0]
    assert table.input_bits.tolist() == [8000.0, 9000.0, 10000.0, 11000.0]
