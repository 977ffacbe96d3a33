"""Behaviour of a simulation run: outcomes, timing, energy, DVFS, drops and determinism."""

from __future__ import annotations

import gc
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from conftest import make_scenario

from edgesim import Simulation
from edgesim.model.radio import RadioParams, rate_bps
from edgesim.policies.reference import RoundRobinPolicy

OUTCOMES = {"completed", "missed", "dropped", "rejected", "pending"}


def run(policy="greedy", seed=1, **sections):
    sections.setdefault("duration_s", 600)
    return Simulation(make_scenario(**sections), policy=policy, seed=seed).run()


def test_same_seed_gives_the_same_trace_row_for_row():
    first = run(seed=7).requests
    second = run(seed=7).requests
    pd.testing.assert_frame_equal(first, second)
    assert not first.equals(run(seed=8).requests)


def test_two_simulations_in_one_process_share_nothing():
    scenario = make_scenario(duration_s=300)
    alone = Simulation(scenario, "random", seed=2).run().requests
    first = Simulation(scenario, "random", seed=2)
    second = Simulation(scenario, "random", seed=3)
    second.advance(150.0)
    first.advance(150.0)
    second.advance(300.0)
    first.advance(300.0)
    interleaved = first.finish(0.0).requests
    pd.testing.assert_frame_equal(alone, interleaved)


def test_arrivals_and_attributes_do_not_depend_on_the_policy():
    columns = ["request_id", "device", "arrival", "deadline", "images", "input_bits"]
    greedy = run("greedy", seed=4).requests[columns]
    random = run("random", seed=4).requests[columns]
    pd.testing.assert_frame_equal(greedy, random)


def test_summary_counts_match_the_request_table():
    result = run("random")
    table = result.requests
    summary = result.summary
    counts = table["outcome"].value_counts()
    assert set(counts.index) <= OUTCOMES
    for outcome in OUTCOMES:
        assert summary[outcome] == counts.get(outcome, 0)
    ended = table[table.outcome != "pending"]
    assert summary["requests"] == len(table)
    assert summary["deadline_hit_ratio"] == pytest.approx(
        (table.outcome == "completed").sum() / len(ended)
    )
    assert summary["mean_utility"] == pytest.approx(ended["utility"].mean())
    completed = table[table.outcome == "completed"]
    assert summary["mean_latency_s"] == pytest.approx(completed["latency"].mean())
    assert summary["p95_latency_s"] == pytest.approx(completed["latency"].quantile(0.95))


def test_completed_requests_meet_deadline_and_quality_floor():
    table = run("random").requests
    completed = table[table.outcome == "completed"]
    assert len(completed) > 10
    assert (completed.finish <= completed.deadline).all()
    assert (completed.quality >= completed.min_quality).all()
    failed = table[table.outcome.isin(["missed", "dropped", "rejected"])]
    assert (failed.utility == -1.0).all()


def test_times_follow_the_request_path_in_order():
    table = run("random").requests
    done = table[table.outcome.isin(["completed", "missed"])]
    order = [
        "arrival",
        "decided",
        "upload_start",
        "upload_end",
        "server_arrival",
        "compute_start",
        "compute_end",
        "finish",
    ]
    for earlier, later in itertools.pairwise(order):
        assert (done[earlier] <= done[later] + 1e-9).all(), (earlier, later)
    assert np.allclose(done.latency, done.finish - done.arrival)


def test_upload_time_and_energy_follow_the_shannon_rate():
    result = run("greedy")
    table = result.requests
    uploaded = table[table.upload_end > table.upload_start]
    radio = RadioParams.from_scenario(make_scenario().radio)
    upload_s = uploaded.upload_end - uploaded.upload_start
    assert np.allclose(uploaded.energy_tx_j, uploaded.tx_power_w * upload_s)
    assert (uploaded.tx_power_w <= radio.max_power_w * (1 + 1e-12)).all()
    assert (uploaded.tx_power_w >= radio.min_power_w * (1 - 1e-12)).all()
    assert rate_bps(radio.max_power_w, 1e-10, radio) > 0


def test_forwarding_to_a_remote_server_takes_backhaul_time():
    result = run("round-robin", backhaul={"hop_latency_s": 0.5, "rate_mbit_per_s": 100})
    table = result.requests
    arrived = table[table.server_arrival.notna()]
    forward_s = arrived.server_arrival - arrived.upload_end
    local = arrived.server == arrived.base_station
    assert np.allclose(forward_s[local], 0.0)
    expected = arrived.input_bits[~local] / 100e6 + 0.5
    assert np.allclose(forward_s[~local], expected)


def test_one_subchannel_serialises_uploads_of_a_base_station():
    table = run("greedy", radio={"subchannels": 1}, devices={"count": 12}).requests
    uploads = table[table.upload_end > table.upload_start].sort_values("upload_start")
    for _, group in uploads.groupby("base_station"):
        assert (group.upload_start.to_numpy()[1:] >= group.upload_end.to_numpy()[:-1] - 1e-9).all()


def test_max_dvfs_runs_every_unit_at_its_maximum():
    table = run("random", scheduler={"dvfs": "max"}).requests
    started = table[table.compute_start.notna()]
    gpu = started.gpu_ghz.dropna()
    cpu = started.cpu_ghz.dropna()
    assert np.allclose(gpu, 1.41) and np.allclose(cpu, 3.5)


def test_energy_dvfs_slows_down_a_request_alone_on_its_server():
    table = run(
        "greedy",
        scheduler={"dvfs": "energy"},
        devices={"count": 2, "arrival": {"rate_per_s": 0.005}},
    ).requests
    started = table[table.compute_start.notna()]
    assert len(started) > 2
    assert (started.gpu_ghz < 1.41 - 1e-6).mean() > 0.9


def test_deadline_dvfs_spends_less_compute_energy_than_max():
    common = {"devices": {"count": 2, "arrival": {"rate_per_s": 0.005}}}
    slow = run("round-robin", scheduler={"dvfs": "deadline"}, **common).requests
    fast = run("round-robin", scheduler={"dvfs": "max"}, **common).requests
    energy = [(t.energy_cpu_j + t.energy_gpu_j).sum() for t in (slow, fast)]
    assert energy[0] < 0.5 * energy[1]


def test_request_dropped_when_deadline_passes_in_queue():
    overload = {
        "servers": {"count": 1},
        "devices": {"count": 20, "arrival": {"rate_per_s": 0.2}, "deadline_s": [5, 6]},
    }
    dropped = run("gpu-max", scheduler={"drop_late": True}, **overload).requests
    kept = run("gpu-max", scheduler={"drop_late": False}, **overload).requests
    assert (dropped.outcome == "dropped").sum() > 10
    assert (kept.outcome == "dropped").sum() == 0
    lost = dropped[dropped.outcome == "dropped"]
    assert lost.finish.isna().all()
    assert (lost.server_departure.dropna() > lost.deadline.loc[lost.server_departure.notna()]).all()


def test_greedy_rejects_only_what_no_level_can_serve_in_time():
    table = run("greedy").requests
    assert set(table.loc[table.outcome == "rejected", "server"]) <= {-1}
    served = table[table.server >= 0]
    assert (served.quality >= served.min_quality).all()


def test_gpu_max_never_uses_the_cpu():
    table = run("gpu-max").requests
    started = table[table.compute_start.notna()]
    assert (started.cpu_share == 0).all()
    assert (started.energy_cpu_j == 0).all()
    assert (started.level == 4).all()


def test_epoch_zero_decides_at_arrival_and_epochs_wait_for_the_boundary():
    instant = run("random", scheduler={"epoch_s": 0.0}).requests
    assert np.allclose(instant.decided, instant.arrival)
    epochs = run("random", scheduler={"epoch_s": 2.0}).requests
    decided = epochs.decided.dropna()
    assert np.allclose(decided / 2.0, np.round(decided / 2.0))
    assert ((epochs.decided - epochs.arrival).dropna() < 2.0 + 1e-9).all()


def test_trace_replay_keeps_inter_arrival_times_scaled(scenarios_dir):
    trace = pd.read_csv(scenarios_dir / "data" / "azure-llm-conv-2023.csv", nrows=400)
    stamps = pd.to_datetime(trace.TIMESTAMP)
    expected = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy() * 5.0
    scenario = make_scenario(
        duration_s=float(expected[-1]) + 1e-6,
        devices={
            "arrival": {
                "process": "trace",
                "trace": {
                    "path": "data/azure-llm-conv-2023.csv",
                    "size_column": "ContextTokens",
                    "bits_per_unit": 1000,
                    "time_scale": 5.0,
                },
            }
        },
    )
    table = Simulation(scenario, "greedy").run().requests
    assert np.allclose(table.arrival.to_numpy(), expected, atol=1e-9)
    assert np.allclose(table.input_bits.to_numpy(), trace.ContextTokens.to_numpy() * 1000)


def test_run_folder_has_the_contract_files(tmp_path):
    result = run("greedy")
    folder = result.save(tmp_path / "run")
    assert {p.name for p in folder.iterdir()} == {
        "requests.parquet",
        "servers.parquet",
        "summary.json",
        "manifest.json",
    }
    table = pd.read_parquet(folder / "requests.parquet")
    contract = [
        "request_id",
        "device",
        "arrival",
        "deadline",
        "images",
        "input_bits",
        "min_quality",
        "server",
        "level",
        "steps",
        "decided",
        "upload_start",
        "upload_end",
        "compute_start",
        "compute_end",
        "finish",
        "outcome",
        "latency",
        "tx_power_w",
        "cpu_share",
        "cpu_ghz",
        "gpu_ghz",
        "energy_tx_j",
        "energy_cpu_j",
        "energy_gpu_j",
        "quality",
        "utility",
    ]
    assert set(contract) <= set(table.columns)
    assert result.manifest["seed"] == 1 and result.manifest["policy"] == "greedy"
    assert result.manifest["scenario"]["devices"]["count"] == 20


def test_saving_twice_replaces_the_run_folder(tmp_path):
    target = tmp_path / "run"
    run("greedy", seed=1).save(target)
    run("random", seed=2).save(target)
    assert pd.read_parquet(target / "requests.parquet").shape[0] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_server_energy_counts_static_while_busy_and_idle_otherwise():
    result = run("greedy")
    summary = result.summary
    servers = result.servers
    busy_s = 0.0
    for _, series in servers.groupby("server"):
        times = np.append(series.time_s.to_numpy(), summary["simulated_s"])
        durations = np.diff(times)
        busy_s += (durations * series.gpu_busy.to_numpy()).sum()
    assert summary["energy_static_j"] >= 50.0 * busy_s - 1e-6
    total = sum(
        summary[k]
        for k in (
            "energy_tx_j",
            "energy_cpu_j",
            "energy_gpu_j",
            "energy_static_j",
            "energy_idle_j",
        )
    )
    assert summary["total_energy_j"] == pytest.approx(total)
    assert math.isfinite(summary["energy_idle_j"]) and summary["energy_idle_j"] > 0


def test_released_simulations_leave_no_staging_folder():
    import gc

    unfinished = Simulation(make_scenario(duration_s=60), "greedy")
    unfinished.advance(20.0)
    finished = run("greedy", duration_s=60)
    folders = [unfinished.recorder.folder, finished.folder]
    assert all(folder.is_dir() for folder in folders)
    del unfinished, finished
    gc.collect()
    assert not any(folder.exists() for folder in folders)


def _hop_counts(table: pd.DataFrame, hops) -> np.ndarray:
    """Hops from each request's base station to its server, by the topology's own formula."""
    pairs = zip(table.base_station, table.server, strict=True)
    return np.array([hops(station, server) for station, server in pairs])


@pytest.mark.parametrize(
    ("topology", "servers", "hops"),
    [
        ("line", 4, lambda a, b: abs(a - b)),
        ("ring", 6, lambda a, b: min(abs(a - b), 6 - abs(a - b))),
    ],
)
def test_multi_hop_backhaul_takes_hops_times_the_time_of_one_hop(topology, servers, hops):
    rate_bps, hop_latency_s = 100e6, 0.25
    table = run(
        "round-robin",
        servers={"count": servers},
        devices={"count": 30},
        backhaul={"topology": topology, "rate_mbit_per_s": 100, "hop_latency_s": hop_latency_s},
    ).requests
    arrived = table[table.server_arrival.notna()]
    path_hops = _hop_counts(arrived, hops)
    assert path_hops.max() == 3 and (path_hops >= 2).sum() > 10
    forward_s = arrived.server_arrival - arrived.upload_end
    expected_s = path_hops * (arrived.input_bits / rate_bps + hop_latency_s)
    np.testing.assert_allclose(forward_s, expected_s, rtol=1e-9, atol=1e-9)

    # The result returns over the same hops, then the downlink, after the fixed overhead.
    done = arrived[arrived.outcome.isin(["completed", "missed"])]
    assert len(done) > 10
    output_bits = done.images * 0.8e6
    back_s = _hop_counts(done, hops) * (output_bits / rate_bps + hop_latency_s)
    back_s += output_bits / 50e6
    np.testing.assert_allclose(done.finish - done.server_departure, 0.15 + back_s, rtol=1e-9)


def test_collector_thresholds_are_raised_during_a_run_and_restored_after():
    seen = []

    class Watching(RoundRobinPolicy):
        def decide(self, observation):
            seen.append(gc.get_threshold())
            return super().decide(observation)

    before = gc.get_threshold()
    run(Watching(), duration_s=60)
    assert gc.get_threshold() == before
    assert seen and all(during[0] > before[0] for during in seen)
    assert all(during[1:] == before[1:] for during in seen)
