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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.stats import unit_busy_s
from analysis.timeseries import time_average, time_weighted_quantiles

QUEUE_COLUMNS = ("in_system", "cpu_queue", "gpu_queue")
QUEUE_QUANTILES = (0.5, 0.95, 0.99)


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

    Columns: ``time_average``, ``max`` (largest value held for a positive time, or the only
    value) and ``p<q>`` for each quantile of the fraction-of-time distribution.
    """
    rows = []
    for server, series in servers.groupby("server", sort=True):
        times_s = series["time_s"].to_numpy(dtype=float)
        for column in columns:
            values = series[column].to_numpy(dtype=float)
            row = {"server": int(server), "queue": column}
            row["time_average"] = time_average(times_s, values, simulated_s)
            row["max"] = float(values.max()) if values.size else float("nan")
            found = time_weighted_quantiles(times_s, values, simulated_s, quantiles)
            row.update({_quantile_name(q): float(v) for q, v in zip(quantiles, found, strict=True)})
            rows.append(row)
    return pd.DataFrame(rows)


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
    waits_s = waiting_times_s(requests)
    if not by_server:
        return pd.DataFrame([_describe_s(waits_s.to_numpy())], index=pd.Index(["all"]))
    servers = reached_server(requests).loc[waits_s.index, "server"]
    rows = {int(s): _describe_s(w.to_numpy()) for s, w in waits_s.groupby(servers)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("server")


def _describe_s(values_s: np.ndarray) -> dict[str, float]:
    """Summarise a sample of durations: count, mean, p50, p95, p99 and max."""
    if values_s.size == 0:
        nan = float("nan")
        return {"count": 0.0, "mean_s": nan, "p50_s": nan, "p95_s": nan, "p99_s": nan, "max_s": nan}
    p50, p95, p99 = np.percentile(values_s, (50, 95, 99))
    return {
        "count": float(values_s.size),
        "mean_s": float(values_s.mean()),
        "p50_s": float(p50),
        "p95_s": float(p95),
        "p99_s": float(p99),
        "max_s": float(values_s.max()),
    }


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
