"""Small synthetic output folders with the layout the simulator writes.

They exist to test and demonstrate :mod:`analysis` without running a simulation. A synthetic
run is a toy system: each server is one first-come-first-served queue whose requests hold the
GPU (and the CPU too when their ``cpu_share`` is positive) for their whole service. A request
reaches its server when its upload ends (``server_arrival``) and leaves it when its compute ends
(``server_departure``). Its server
time series is derived from the requests table, so the two agree exactly (Little's law holds).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SERVER_COLUMNS = ["time_s", "server", "in_system", "cpu_queue", "gpu_queue", "cpu_busy", "gpu_busy"]
EPISODE_COLUMNS = ("episode_return", "mean_utility", "deadline_hit_ratio")


def default_scenario(server_count: int = 2, duration_s: float = 200.0) -> dict[str, Any]:
    """Return the few scenario keys the analysis reads, at the system model's defaults."""
    return {
        "duration_s": duration_s,
        "servers": {
            "count": server_count,
            "gpu": {"static_w": 50.0, "idle_w": 15.0},
            "cpu": {"static_w": 30.0, "idle_w": 10.0},
        },
        "cost": {"price_per_kwh": 0.0, "price_per_gpu_s": 0.0},
    }


def write_run(
    folder: str | Path,
    requests: pd.DataFrame,
    servers: pd.DataFrame,
    summary: Mapping[str, Any],
    manifest: Mapping[str, Any],
) -> Path:
    """Write the four files of a run folder and return the folder."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    requests.to_parquet(path / "requests.parquet", index=False)
    servers.to_parquet(path / "servers.parquet", index=False)
    (path / "summary.json").write_text(json.dumps(dict(summary), indent=2), encoding="utf-8")
    (path / "manifest.json").write_text(json.dumps(dict(manifest), indent=2), encoding="utf-8")
    return path


def _policy_speed(policy: str) -> float:
    """A stable service-time factor per policy name, so policies differ in a synthetic compare."""
    return 0.6 + (zlib.crc32(policy.encode()) % 100) / 100


def random_requests(
    rng: np.random.Generator,
    duration_s: float,
    server_count: int,
    rate_per_s: float,
    service_s: float,
) -> pd.DataFrame:
    """Draw requests of the toy system: Poisson arrivals, FCFS service on a random server."""
    count = rng.poisson(rate_per_s * duration_s)
    arrival = np.sort(rng.uniform(0.0, duration_s, count))
    frame = pd.DataFrame(
        {
            "request_id": np.arange(count),
            "device": rng.integers(0, 20, count),
            "arrival": arrival,
            "deadline": arrival + rng.uniform(5.0, 20.0, count),
            "images": rng.choice([1, 2, 4], count),
            "input_bits": rng.uniform(0.5e6, 2.0e6, count),
            "min_quality": rng.uniform(0.4, 0.8, count),
            "server": np.where(rng.random(count) < 0.05, -1, rng.integers(0, server_count, count)),
            "level": rng.integers(0, 5, count),
            "cpu_share": np.where(rng.random(count) < 0.5, 0.0, rng.uniform(0.05, 0.3, count)),
        }
    )
    frame["base_station"] = frame["device"] % server_count
    frame["decided"] = arrival + 0.25
    frame["upload_start"] = frame["decided"]
    frame["upload_end"] = frame["upload_start"] + rng.uniform(0.05, 0.3, count)
    frame["service_s"] = rng.exponential(service_s, count)
    return frame


def _serve(frame: pd.DataFrame, duration_s: float) -> pd.DataFrame:
    """Fill compute times, outcome, energies, quality and utility of the toy FCFS servers."""
    frame = frame.copy()
    start = np.full(len(frame), np.nan)
    free_at: dict[int, float] = {}
    for index in np.argsort(frame["upload_end"].to_numpy(), kind="stable"):
        server = int(frame["server"].iat[index])
        if server >= 0:
            start[index] = max(frame["upload_end"].iat[index], free_at.get(server, 0.0))
            free_at[server] = start[index] + frame["service_s"].iat[index]
    frame["server_arrival"] = frame["upload_end"]
    frame["compute_start"] = start
    frame["compute_end"] = start + frame["service_s"]
    frame["server_departure"] = frame["compute_end"]
    frame["finish"] = frame["compute_end"] + 0.1
    return _outcomes(frame, duration_s)


def _outcomes(frame: pd.DataFrame, duration_s: float) -> pd.DataFrame:
    """Classify requests and blank out everything that happened after the end of the run."""
    rejected = frame["server"] < 0
    pending = ~rejected & ~(frame["finish"] <= duration_s)
    late = frame["finish"] > frame["deadline"]
    frame["outcome"] = np.select(
        [rejected, pending, late], ["rejected", "pending", "missed"], "completed"
    )
    times = ("upload_start", "upload_end", "server_arrival", "compute_start", "compute_end")
    for column in (*times, "server_departure", "finish"):
        frame[column] = frame[column].where((frame[column] <= duration_s) & ~rejected)
    served = frame["compute_end"].notna()
    done = frame["outcome"].isin(["completed", "missed"])
    frame["steps"] = np.where(frame["server"] >= 0, 10 + 10 * frame["level"], 0)
    frame["latency"] = (frame["finish"] - frame["arrival"]).where(done)
    frame["tx_power_w"] = np.where(frame["upload_end"].notna(), 0.2, np.nan)
    frame["cpu_ghz"] = np.where(served, 3.0, np.nan)
    frame["gpu_ghz"] = np.where(served, 1.41, np.nan)
    frame["energy_tx_j"] = np.where(frame["upload_end"].notna(), 0.01, np.nan)
    frame["energy_cpu_j"] = np.where(served, 86.0 * frame["service_s"] * frame["cpu_share"], np.nan)
    frame["energy_gpu_j"] = np.where(served, 250.0 * frame["service_s"], np.nan)
    frame["quality"] = np.where(done, 0.45 + 0.12 * frame["level"], np.nan)
    utility = frame["quality"] - 0.3 * frame["latency"] / (frame["deadline"] - frame["arrival"])
    frame["utility"] = np.select(
        [frame["outcome"] == "completed", frame["outcome"] == "pending"], [utility, np.nan], -1.0
    )
    return frame.drop(columns="service_s")


def server_series(requests: pd.DataFrame, server_count: int, duration_s: float) -> pd.DataFrame:
    """Derive the step-function server table from the toy system's requests.

    A request is in the system from ``server_arrival`` to ``server_departure`` (which is its
    ``compute_end``, or the end of the run), waits until ``compute_start`` and then holds the
    GPU, and the CPU when its share is positive.
    """
    # Each event: (time_s, server, change of in_system, of gpu_queue, of gpu_busy, of cpu_busy).
    events = []
    reached = (requests["server"] >= 0) & requests["server_arrival"].notna()
    for row in requests[reached].itertuples():
        cpu = int(row.cpu_share > 0)
        events.append((row.server_arrival, row.server, 1, 1, 0, 0))
        if not np.isnan(row.compute_start):
            events.append((row.compute_start, row.server, 0, -1, 1, cpu))
        if not np.isnan(row.compute_end):
            events.append((row.compute_end, row.server, -1, 0, -1, -cpu))
    rows = [(0.0, s, 0, 0, 0, 0, 0) for s in range(server_count)]
    state = {s: np.zeros(4, dtype=int) for s in range(server_count)}
    for time_s, server, *changes in sorted(events, key=lambda e: e[0]):
        state[server] += changes
        in_system, gpu_queue, gpu_busy, cpu_busy = state[server]
        rows.append((time_s, server, in_system, 0, gpu_queue, cpu_busy, gpu_busy))
    frame = pd.DataFrame(rows, columns=SERVER_COLUMNS)
    return frame.sort_values(["time_s", "server"], kind="stable").reset_index(drop=True)


def write_random_run(
    folder: str | Path,
    seed: int = 0,
    policy: str = "greedy",
    duration_s: float = 200.0,
    server_count: int = 2,
    rate_per_s: float = 0.4,
    scenario: Mapping[str, Any] | None = None,
) -> Path:
    """Write a random run folder of the toy system and return it."""
    rng = np.random.default_rng(seed)
    drawn = random_requests(rng, duration_s, server_count, rate_per_s, 2.0 * _policy_speed(policy))
    requests = _serve(drawn, duration_s)
    servers = server_series(requests, server_count, duration_s)
    resolved = dict(scenario or default_scenario(server_count, duration_s))
    counts = requests["outcome"].value_counts()
    summary: dict[str, Any] = {"requests": len(requests), "simulated_s": duration_s, "wall_s": 0.0}
    for outcome in ("completed", "missed", "dropped", "rejected", "pending"):
        summary[outcome] = int(counts.get(outcome, 0))
    manifest = {"scenario": resolved, "seed": seed, "policy": policy, "versions": {}}
    shuffled = requests.sample(frac=1.0, random_state=seed)
    return write_run(folder, shuffled, servers, summary, manifest)


def write_compare(
    folder: str | Path, policies: Sequence[str], seeds: Sequence[int], **run_options: Any
) -> Path:
    """Write a compare folder: ``cells/<policy>/seed-<n>/`` runs and ``compare.json``."""
    path = Path(folder)
    for policy in policies:
        for seed in seeds:
            write_random_run(path / "cells" / policy / f"seed-{seed}", seed, policy, **run_options)
    info = {"policies": list(policies), "seeds": list(seeds)}
    (path / "compare.json").write_text(json.dumps(info), encoding="utf-8")
    return path


def write_sweep(
    folder: str | Path,
    rates_per_s: Sequence[float],
    policies: Sequence[str],
    seeds: Sequence[int],
    **run_options: Any,
) -> Path:
    """Write a sweep folder varying ``devices.arrival.rate_per_s`` (scaled to the toy system).

    ``run_options`` go to :func:`write_random_run` (e.g. ``duration_s``).
    """
    path = Path(folder)
    key = "devices.arrival.rate_per_s"
    settings = []
    for rate in rates_per_s:
        slug = f"rate-{rate:g}"
        settings.append({"slug": slug, "overrides": {key: rate}})
        for policy in policies:
            for seed in seeds:
                cell = path / "cells" / slug / policy / f"seed-{seed}"
                write_random_run(cell, seed, policy, rate_per_s=rate, **run_options)
    info = {
        "vary": {key: list(rates_per_s)},
        "settings": settings,
        "policies": list(policies),
        "seeds": list(seeds),
    }
    (path / "sweep.json").write_text(json.dumps(info), encoding="utf-8")
    return path


def write_training(
    folder: str | Path, algo: str, seed: int, steps: int = 50, episode_every: int = 1
) -> Path:
    """Write a training folder with a noisy rising learning curve and ``train.json``.

    As in a real ``progress.csv``, the episode columns (:data:`EPISODE_COLUMNS`) have a value
    only on rows where an episode ended: every ``episode_every``-th row, counting from the
    first; the other rows leave them empty. ``episodes`` counts the episodes ended so far.
    """
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    step = np.arange(1, steps + 1) * 100
    progress_share = (1 - np.exp(-step / (step[-1] / 3))) / _policy_speed(algo)
    ended = np.arange(steps) % max(episode_every, 1) == 0
    frame = pd.DataFrame(
        {
            "step": step,
            "episodes": np.cumsum(ended).astype(float),
            "episode_return": 50 * progress_share + rng.normal(0, 3, steps),
            "mean_utility": progress_share - 0.5 + rng.normal(0, 0.05, steps),
            "deadline_hit_ratio": np.clip(0.5 + 0.4 * progress_share, 0, 1),
            "critic_loss": np.exp(-step / step[-1]) + rng.normal(0, 0.01, steps),
        }
    )
    frame.loc[~ended, list(EPISODE_COLUMNS)] = np.nan
    frame.to_csv(path / "progress.csv", index=False)
    info = {"algo": algo, "seed": seed, "scenario": default_scenario()}
    (path / "train.json").write_text(json.dumps(info), encoding="utf-8")
    return path
