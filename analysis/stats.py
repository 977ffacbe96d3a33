"""Per-run statistics computed from the requests table and the server time series.

Every function takes plain pandas objects so it can be used from a notebook on any subset of
a run. ``docs/analysis.md`` states which rows each statistic counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.runs import Cell, Run, list_cells, load_run
from analysis.servers import server_run_statistics, unit_busy_s

OUTCOMES = ("completed", "missed", "dropped", "rejected", "pending")
LATENCY_PERCENTILES = (50, 95, 99)
JOULES_PER_KWH = 3.6e6


def completed(requests: pd.DataFrame) -> pd.DataFrame:
    """Return the requests whose outcome is ``completed``."""
    return requests[requests["outcome"] == "completed"]


def ended(requests: pd.DataFrame) -> pd.DataFrame:
    """Return the requests that ended, i.e. every outcome except ``pending``."""
    return requests[requests["outcome"] != "pending"]


def latency_stats(requests: pd.DataFrame) -> dict[str, float]:
    """Return count, mean, p50, p95 and p99 of ``latency`` over completed requests (seconds).

    Percentiles use numpy's default linear interpolation; an empty set gives NaN.
    """
    latencies_s = completed(requests)["latency"].dropna().to_numpy(dtype=float)
    stats: dict[str, float] = {"count": float(latencies_s.size)}
    if latencies_s.size == 0:
        stats["mean_s"] = float("nan")
        stats.update({f"p{p}_s": float("nan") for p in LATENCY_PERCENTILES})
        return stats
    stats["mean_s"] = float(latencies_s.mean())
    values = np.percentile(latencies_s, LATENCY_PERCENTILES)
    stats.update({f"p{p}_s": float(v) for p, v in zip(LATENCY_PERCENTILES, values, strict=True)})
    return stats


def latency_cdf(requests: pd.DataFrame) -> pd.DataFrame:
    """Return the empirical CDF of completed requests' latency.

    Columns ``latency_s`` (sorted) and ``cdf`` = rank / count, so the last row has cdf 1.
    """
    return ecdf(completed(requests)["latency"], "latency_s")


def ecdf(values: pd.Series | np.ndarray, name: str = "value") -> pd.DataFrame:
    """Return the empirical CDF of a sample (NaNs dropped): columns ``name`` and ``cdf``."""
    sample = np.asarray(values, dtype=float)
    sample = np.sort(sample[~np.isnan(sample)])
    cdf = np.arange(1, sample.size + 1) / max(sample.size, 1)
    return pd.DataFrame({name: sample, "cdf": cdf})


def outcome_breakdown(requests: pd.DataFrame) -> pd.DataFrame:
    """Return the count and fraction of each outcome over all requests, indexed by outcome.

    The five known outcomes always appear (possibly with 0); unknown ones are appended.
    """
    counts = requests["outcome"].value_counts()
    names = list(OUTCOMES) + sorted(set(counts.index) - set(OUTCOMES))
    counts = counts.reindex(names, fill_value=0).astype(int)
    total = int(counts.sum())
    fractions = counts / total if total else counts * 0.0
    frame = pd.DataFrame({"count": counts, "fraction": fractions.astype(float)})
    frame.index.name = "outcome"
    return frame


def deadline_hit_ratio(requests: pd.DataFrame) -> float:
    """Return completed / (requests - pending); NaN when no request ended."""
    ended_count = len(ended(requests))
    if ended_count == 0:
        return float("nan")
    return len(completed(requests)) / ended_count


def server_power_energy_j(
    servers: pd.DataFrame, scenario: Mapping[str, Any], simulated_s: float
) -> dict[str, float]:
    """Return the servers' static and idle energy in joules over the run.

    Static energy is ``static_w`` times each unit's busy time; idle energy is ``idle_w`` times
    the rest of ``simulated_s``. Servers counted in ``scenario["servers"]["count"]`` but absent
    from the time series are idle the whole run.
    """
    spec = scenario.get("servers", {})
    busy = unit_busy_s(servers, simulated_s)
    count = max(int(spec.get("count", 0)), len(busy))
    static_j = idle_j = 0.0
    for unit in ("cpu", "gpu"):
        power = spec.get(unit, {})
        busy_s = float(busy[f"{unit}_busy_s"].sum())
        static_j += float(power.get("static_w", 0.0)) * busy_s
        idle_j += float(power.get("idle_w", 0.0)) * (count * simulated_s - busy_s)
    return {"static_j": static_j, "idle_j": idle_j}


def energy_per_request(run: Run) -> dict[str, float]:
    """Return the run's energy divided by its number of requests, split by source (joules).

    Keys ``tx_j``, ``cpu_j``, ``gpu_j`` (sums of the request columns, NaN counted as 0),
    ``static_j``, ``idle_j`` (servers' account, see :func:`server_power_energy_j`) and
    ``total_j``. Every request in the table is in the denominator, whatever its outcome.
    """
    requests = run.requests
    count = len(requests)
    totals = {
        "tx_j": float(requests["energy_tx_j"].sum()),
        "cpu_j": float(requests["energy_cpu_j"].sum()),
        "gpu_j": float(requests["energy_gpu_j"].sum()),
        **server_power_energy_j(run.servers, run.scenario, run.simulated_s),
    }
    totals["total_j"] = sum(totals.values())
    if count == 0:
        return {key: float("nan") for key in totals}
    return {key: value / count for key, value in totals.items()}


def service_cost(run: Run) -> dict[str, float]:
    """Return the service cost per request: energy in joules and, when priced, money.

    ``energy_j`` is the total of :func:`energy_per_request`. ``money`` is present only when
    ``scenario["cost"]`` sets a positive price: ``price_per_kwh`` times energy in kWh plus
    ``price_per_gpu_s`` times the GPUs' busy seconds, divided by the number of requests.
    """
    cost = {"energy_j": energy_per_request(run)["total_j"]}
    prices = run.scenario.get("cost", {}) or {}
    per_kwh = float(prices.get("price_per_kwh", 0.0) or 0.0)
    per_gpu_s = float(prices.get("price_per_gpu_s", 0.0) or 0.0)
    if per_kwh <= 0 and per_gpu_s <= 0:
        return cost
    gpu_busy_s = float(unit_busy_s(run.servers, run.simulated_s)["gpu_busy_s"].sum())
    energy_money = per_kwh * cost["energy_j"] / JOULES_PER_KWH
    gpu_money = per_gpu_s * gpu_busy_s / len(run.requests) if len(run.requests) else np.nan
    cost["money"] = float(energy_money + gpu_money)
    return cost


def mean_quality(requests: pd.DataFrame) -> float:
    """Return the mean ``quality`` over completed requests (NaN if none)."""
    return float(completed(requests)["quality"].mean())


def utility_stats(requests: pd.DataFrame) -> dict[str, float]:
    """Return the mean and total ``utility`` over the requests that ended (pending excluded)."""
    utility = ended(requests)["utility"]
    return {"mean": float(utility.mean()), "total": float(utility.sum())}


def throughput_per_s(requests: pd.DataFrame, simulated_s: float) -> float:
    """Return completed requests per simulated second."""
    if not simulated_s > 0:
        return float("nan")
    return len(completed(requests)) / simulated_s


def run_statistics(run: Run) -> dict[str, float]:
    """Return the headline statistics of one run as a flat dict of floats.

    These are the columns of comparison tables: the requests' statistics, then the servers'
    (:func:`analysis.servers.server_run_statistics`); ``cost_per_request`` appears only when
    the scenario sets a price.
    """
    requests = run.requests
    latency = latency_stats(requests)
    utility = utility_stats(requests)
    energy = energy_per_request(run)
    fractions = outcome_breakdown(requests)["fraction"]
    stats = {
        "requests": float(len(requests)),
        "deadline_hit_ratio": deadline_hit_ratio(requests),
        "mean_latency_s": latency["mean_s"],
        "p50_latency_s": latency["p50_s"],
        "p95_latency_s": latency["p95_s"],
        "p99_latency_s": latency["p99_s"],
        "mean_utility": utility["mean"],
        "total_utility": utility["total"],
        "mean_quality": mean_quality(requests),
        "throughput_per_s": throughput_per_s(requests, run.simulated_s),
        **{f"energy_{key[:-2]}_per_request_j": value for key, value in energy.items()},
        **{f"{name}_fraction": float(fractions[name]) for name in OUTCOMES},
        **server_run_statistics(run),
    }
    money = service_cost(run).get("money")
    if money is not None:
        stats["cost_per_request"] = money
    return stats


def hashable_value(value: Any) -> Any:
    """Return a setting's value as a table key: lists and dicts (ranges) become JSON text."""
    return json.dumps(value) if isinstance(value, list | tuple | dict) else value


def cell_row(cell: Cell, run: Run) -> dict[str, Any]:
    """Return the table row of one cell: its keys, its setting's overrides, its statistics.

    Keys are ``setting`` (empty for a comparison), ``policy`` and ``seed``; each overridden
    key of a sweep setting follows, its value passed through :func:`hashable_value`; then
    every statistic of :func:`run_statistics` of ``run`` (the cell's loaded run folder).
    """
    row: dict[str, Any] = {"setting": cell.setting, "policy": cell.policy, "seed": cell.seed}
    row.update({key: hashable_value(value) for key, value in cell.overrides.items()})
    row.update(run_statistics(run))
    return row


def cells_table(cells: Iterable[Cell]) -> pd.DataFrame:
    """Return one :func:`cell_row` per cell, loading each cell's run folder."""
    return pd.DataFrame([cell_row(cell, load_run(cell.path)) for cell in cells])


def cell_statistics(folder: str | Path) -> pd.DataFrame:
    """Return one :func:`cell_row` per current cell of a compare or sweep folder.

    The cells are those of :func:`analysis.runs.list_cells`, so a cell left over from an
    earlier run into the folder, or one whose last run failed, is not in the table.
    """
    return cells_table(list_cells(folder))
