"""Per-server statistics: utilisation, queue lengths, waiting times and Little's law.

Statistics of ``servers.parquet`` are time averages of step functions (see
:mod:`analysis.timeseries`). Statistics of the requests table use these columns:

- arrival at a server: ``server_arrival`` (after upload and backhaul forwarding);
- waiting time: ``compute_start - server_arrival``, for requests that started computing;
- departure from a server: ``server_departure`` (when both parts are computed, or when
  the request was dropped from a queue); a request still there when the run ended is censored
  at the end of the run.

Tables written before the simulator recorded ``server_arrival`` and ``server_departure`` are
read with an approximation: arrival at ``upload_end`` (forwarding counts as time at the server),
departure at ``compute_end``, else ``finish``, else ``deadline`` for a dropped request, else the
end of the run.

:func:`server_run_statistics` condenses all of this into the few numbers per run
(:data:`SERVER_STATISTICS`) that comparison tables carry across seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.runs import Run
from analysis.timeseries import (
    hold_durations_s,
    time_above_zero_s,
    time_average,
    time_weighted_quantiles,
)

QUEUE_COLUMNS = ("in_system", "cpu_queue", "gpu_queue")
QUEUE_QUANTILES = (0.5, 0.95, 0.99)
WAITING_COLUMNS = ("count", "mean_s", "p50_s", "p95_s", "p99_s", "max_s")
SERVER_STATISTICS = (
    "mean_cpu_utilisation",
    "mean_gpu_utilisation",
    "mean_cpu_queue_length",
    "max_cpu_queue_length",
    "mean_gpu_queue_length",
    "max_gpu_queue_length",
    "mean_waiting_s",
    "p95_waiting_s",
    "littles_law_relative_gap",
)


def scenario_server_count(run: Run) -> int | None:
    """Return ``servers.count`` of the run's scenario, or None when the manifest lacks it."""
    return int(run.scenario.get("servers", {}).get("count", 0)) or None


def unit_busy_s(servers: pd.DataFrame, simulated_s: float) -> pd.DataFrame:
    """Return each server's CPU and GPU busy seconds (indexed by server).

    Busy time is the time ``cpu_busy``/``gpu_busy`` is positive, up to ``simulated_s``.
    """
    rows = {}
    for server, series in servers.groupby("server", sort=True):
        times_s = series["time_s"].to_numpy(dtype=float)
        rows[server] = {
            unit: time_above_zero_s(times_s, series[f"{unit}_busy"].to_numpy(), simulated_s)
            for unit in ("cpu", "gpu")
        }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["cpu", "gpu"], dtype=float)
    frame.index.name = "server"
    return frame.rename(columns={"cpu": "cpu_busy_s", "gpu": "gpu_busy_s"})


def server_ids(servers: pd.DataFrame, server_count: int | None = None) -> list[int]:
    """Return the servers to report: ``0..server_count-1`` plus any in the time series."""
    found = {int(s) for s in servers["server"].unique()}
    return sorted(found | set(range(server_count or 0)))


def utilisation(
    servers: pd.DataFrame, simulated_s: float, server_count: int | None = None
) -> pd.DataFrame:
    """Return each server's CPU and GPU busy seconds and utilisation (busy / simulated time).

    Indexed by server; a server absent from the time series has utilisation 0.
    """
    busy = unit_busy_s(servers, simulated_s).reindex(server_ids(servers, server_count))
    busy = busy.fillna(0.0)
    busy.index.name = "server"
    for unit in ("cpu", "gpu"):
        busy[f"{unit}_utilisation"] = busy[f"{unit}_busy_s"] / simulated_s
    return busy


def queue_stats(
    servers: pd.DataFrame,
    simulated_s: float,
    columns: Sequence[str] = QUEUE_COLUMNS,
    quantiles: Sequence[float] = QUEUE_QUANTILES,
) -> pd.DataFrame:
    """Return time-weighted statistics of each queue column, one row per (server, queue).

    Columns: ``time_average``, ``max`` (the largest value held for a positive time: a row
    followed by another at the same instant does not count) and ``p<q>`` for each quantile
    of the fraction-of-time distribution.
    """
    rows = []
    for server, series in servers.groupby("server", sort=True):
        times_s = series["time_s"].to_numpy(dtype=float)
        for column in columns:
            values = series[column].to_numpy(dtype=float)
            row = {"server": int(server), "queue": column}
            row["time_average"] = time_average(times_s, values, simulated_s)
            row["max"] = _held_max(times_s, values, simulated_s)
            found = time_weighted_quantiles(times_s, values, simulated_s, quantiles)
            row.update({_quantile_name(q): float(v) for q, v in zip(quantiles, found, strict=True)})
            rows.append(row)
    return pd.DataFrame(rows)


def _held_max(times_s: np.ndarray, values: np.ndarray, end_s: float) -> float:
    """Return the largest value held for a positive time (else the largest one; NaN if none).

    Rows sharing an instant hold for zero seconds, so a queue that grows and shrinks within
    one event does not count as having reached the larger length.
    """
    if values.size == 0:
        return float("nan")
    held = hold_durations_s(times_s, end_s) > 0
    return float(values[held].max() if held.any() else values.max())


def _quantile_name(quantile: float) -> str:
    """Name a quantile column, e.g. 0.95 -> ``p95``, 0.999 -> ``p99.9``."""
    return f"p{100 * quantile:g}"


def has_server_times(requests: pd.DataFrame) -> bool:
    """Tell whether the table records ``server_arrival`` and ``server_departure``."""
    return {"server_arrival", "server_departure"} <= set(requests.columns)


def server_arrival_s(requests: pd.DataFrame) -> pd.Series:
    """Return when each request reached its server (``upload_end`` in older tables)."""
    column = "server_arrival" if "server_arrival" in requests else "upload_end"
    return requests[column]


def reached_server(requests: pd.DataFrame) -> pd.DataFrame:
    """Return the requests that were assigned a server and reached it."""
    return requests[(requests["server"] >= 0) & server_arrival_s(requests).notna()]


def waiting_times_s(requests: pd.DataFrame) -> pd.Series:
    """Return ``compute_start - server_arrival`` for requests that reached a server and started
    computing (requests dropped while queued have no compute start and are left out)."""
    at_server = reached_server(requests)
    waits_s = at_server["compute_start"] - server_arrival_s(at_server)
    return waits_s.dropna().rename("waiting_s")


def waiting_time_stats(requests: pd.DataFrame, by_server: bool = False) -> pd.DataFrame:
    """Return count, mean, p50, p95, p99 and max of the waiting time (seconds).

    One row for all servers (index ``all``), or one per server when ``by_server``.
    """
    if not by_server:
        waits_s = waiting_times_s(requests).to_numpy()
        return pd.DataFrame([_describe_s(waits_s)], index=pd.Index(["all"]))
    rows = {s: _describe_s(w.to_numpy()) for s, w in waiting_times_by_server(requests).items()}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(WAITING_COLUMNS))
    return frame.rename_axis("server")


def waiting_times_by_server(requests: pd.DataFrame) -> dict[int, pd.Series]:
    """Return the waiting times (seconds) of :func:`waiting_times_s`, split by server.

    Only servers that served at least one request appear, in server order.
    """
    waits_s = waiting_times_s(requests)
    servers = reached_server(requests).loc[waits_s.index, "server"].astype(int)
    return {int(server): waits for server, waits in waits_s.groupby(servers, sort=True)}


def _describe_s(values_s: np.ndarray) -> dict[str, float]:
    """Summarise a sample of durations: the :data:`WAITING_COLUMNS` (NaN but count if empty)."""
    if values_s.size == 0:
        return {"count": 0.0, **dict.fromkeys(WAITING_COLUMNS[1:], float("nan"))}
    p50, p95, p99 = np.percentile(values_s, (50, 95, 99))
    found = (values_s.size, values_s.mean(), p50, p95, p99, values_s.max())
    return {name: float(value) for name, value in zip(WAITING_COLUMNS, found, strict=True)}


def time_at_server(requests: pd.DataFrame, simulated_s: float) -> pd.DataFrame:
    """Return each request's stay at its server: ``server``, ``arrive_s``, ``leave_s``.

    Only requests that reached their server by ``simulated_s`` are kept; ``leave_s`` follows the
    rule in the module docstring and is clipped to ``[arrive_s, simulated_s]``, so a request
    still at its server when the run ended is censored there.
    """
    at_server = reached_server(requests)
    arrive_s = server_arrival_s(at_server)
    at_server = at_server[arrive_s <= simulated_s]
    arrive_s = arrive_s[arrive_s <= simulated_s]
    leave_s = _departure_s(at_server).fillna(simulated_s).clip(upper=simulated_s)
    return pd.DataFrame(
        {
            "server": at_server["server"].astype(int),
            "arrive_s": arrive_s,
            "leave_s": np.maximum(leave_s, arrive_s),
        }
    )


def _departure_s(at_server: pd.DataFrame) -> pd.Series:
    """When each request left its server; NaN for those still there at the end of the run."""
    if has_server_times(at_server):
        return at_server["server_departure"]
    dropped_at_s = at_server["deadline"].where(at_server["outcome"] == "dropped")
    return at_server["compute_end"].fillna(at_server["finish"]).fillna(dropped_at_s)


def littles_law(
    requests: pd.DataFrame,
    servers: pd.DataFrame,
    simulated_s: float,
    server_count: int | None = None,
) -> pd.DataFrame:
    """Compare each server's time-average ``in_system`` with arrival rate x mean time there.

    Columns: ``time_average_in_system`` (L, from the time series), ``arrival_rate_per_s``
    (lambda, arrivals by ``simulated_s`` over ``simulated_s``), ``mean_time_at_server_s`` (W,
    stays clipped at the end of the run), ``rate_times_time`` (lambda W) and ``relative_gap``
    ((lambda W - L) / L). With stays censored at the end of the run, lambda W equals L up to
    rounding when the time series and the requests table agree.
    """
    stays = time_at_server(requests, simulated_s)
    stays["stay_s"] = stays["leave_s"] - stays["arrive_s"]
    rows = []
    for server in server_ids(servers, server_count):
        series = servers[servers["server"] == server]
        mine = stays.loc[stays["server"] == server, "stay_s"]
        times_s = series["time_s"].to_numpy(dtype=float)
        level = time_average(times_s, series["in_system"].to_numpy(), simulated_s)
        level = level if len(series) else 0.0
        rate_per_s = len(mine) / simulated_s
        mean_s = float(mine.mean()) if len(mine) else 0.0
        product = rate_per_s * mean_s
        gap = (product - level) / level if level and level > 0 else float("nan")
        rows.append((server, level, rate_per_s, mean_s, product, gap))
    columns = [
        "server",
        "time_average_in_system",
        "arrival_rate_per_s",
        "mean_time_at_server_s",
        "rate_times_time",
        "relative_gap",
    ]
    return pd.DataFrame(rows, columns=columns).set_index("server")


def server_run_statistics(run: Run) -> dict[str, float]:
    """Return one run's server statistics, condensed over servers (:data:`SERVER_STATISTICS`).

    - ``mean_cpu_utilisation``, ``mean_gpu_utilisation``: utilisation averaged over the
      servers of :func:`utilisation` (those of the scenario and of the time series);
    - ``mean_<unit>_queue_length``: the time-average queue length averaged over those servers
      (a server absent from the series has an empty queue); ``max_<unit>_queue_length``: the
      longest queue any server held for a positive time;
    - ``mean_waiting_s``, ``p95_waiting_s``: of every served request's waiting time;
    - ``littles_law_relative_gap``: (sum of lambda W - sum of L) / sum of L over servers,
      from :func:`littles_law`.

    A run without a server time series gives NaN for all but the waiting times.
    """
    waits = waiting_time_stats(run.requests).loc["all"]
    found = {"mean_waiting_s": float(waits["mean_s"]), "p95_waiting_s": float(waits["p95_s"])}
    if run.servers.empty or not run.simulated_s > 0:
        return {**dict.fromkeys(SERVER_STATISTICS, float("nan")), **found}
    count = scenario_server_count(run)
    usage = utilisation(run.servers, run.simulated_s, count)
    queues = queue_stats(run.servers, run.simulated_s, ("cpu_queue", "gpu_queue"), ())
    for unit in ("cpu", "gpu"):
        mine = queues[queues["queue"] == f"{unit}_queue"].set_index("server")
        found[f"mean_{unit}_utilisation"] = float(usage[f"{unit}_utilisation"].mean())
        levels = mine["time_average"].reindex(usage.index, fill_value=0.0)
        found[f"mean_{unit}_queue_length"] = float(levels.mean())
        found[f"max_{unit}_queue_length"] = float(mine["max"].max())
    found["littles_law_relative_gap"] = _overall_gap(
        littles_law(run.requests, run.servers, run.simulated_s, count)
    )
    return {name: found[name] for name in SERVER_STATISTICS}


def _overall_gap(check: pd.DataFrame) -> float:
    """Return Little's-law relative gap of all servers together; NaN when nothing was there."""
    level = float(check["time_average_in_system"].sum())
    if not level > 0:
        return float("nan")
    return (float(check["rate_times_time"].sum()) - level) / level
