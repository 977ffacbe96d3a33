"""Request sources: Poisson devices and the replay of an arrival trace."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import simpy

from edgesim.scenario import ScenarioError, TraceArrivals
from edgesim.sim.random import BufferedStream

__all__ = ["PoissonDevice", "TraceArrivalTimes", "load_trace", "trace_source"]

logger = logging.getLogger(__name__)

NewRequest = Callable[[int, float | None], None]


class PoissonDevice:
    """A device that makes requests with exponential gaps of mean ``1 / rate_per_s``.

    Each arrival is a SimPy timeout whose callback makes the request and schedules the next,
    so a device costs one event per request and no process.
    """

    def __init__(
        self,
        env: simpy.Environment,
        device: int,
        rate_per_s: float,
        rng: BufferedStream,
        new_request: NewRequest,
    ) -> None:
        self.env = env
        self.device = device
        self.mean_gap_s = 1.0 / rate_per_s
        self.rng = rng
        self.new_request = new_request
        self._schedule_next()

    def _schedule_next(self) -> None:
        gap_s = self.rng.exponential(self.mean_gap_s)
        self.env.timeout(gap_s).callbacks.append(self._arrive)

    def _arrive(self, _event: simpy.Event) -> None:
        self.new_request(self.device, None)
        self._schedule_next()


class TraceArrivalTimes:
    """Arrival times (seconds from the first arrival) and optional sizes (bits) of a trace."""

    def __init__(self, times_s: np.ndarray, sizes_bits: np.ndarray | None) -> None:
        self.times_s = times_s
        self.sizes_bits = sizes_bits


def _times_in_seconds(column: pd.Series, name: str) -> np.ndarray:
    """A time column in seconds from its earliest entry, in the rows' order (not sorted)."""
    if pd.api.types.is_numeric_dtype(column):
        seconds = column.to_numpy(dtype=float)
    else:
        try:
            stamps = pd.to_datetime(column, format="mixed")
        except (ValueError, TypeError):
            raise ScenarioError(
                f"devices.arrival.trace.time_column: column {name!r} holds neither seconds "
                "nor date-times"
            ) from None
        seconds = (stamps - stamps.min()).dt.total_seconds().to_numpy()
    if np.isnan(seconds).any():
        raise ScenarioError(f"devices.arrival.trace.time_column: column {name!r} has gaps")
    return seconds


def _sizes_in_bits(column: pd.Series, trace: TraceArrivals) -> np.ndarray:
    """A size column in bits, in the rows' order."""
    sizes = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float) * trace.bits_per_unit
    if (sizes < 0).any() or np.isnan(sizes).any():
        raise ScenarioError(
            f"devices.arrival.trace.size_column: column {trace.size_column!r} must hold sizes >= 0"
        )
    return sizes


def _read_columns(path: Path, trace: TraceArrivals) -> pd.DataFrame:
    """The trace's time (and size) columns; a missing column is named by its key path."""
    keys = {"time_column": trace.time_column, "size_column": trace.size_column}
    wanted = {column for column in keys.values() if column is not None}
    try:
        table = pd.read_csv(path, usecols=lambda name: name in wanted)
    except (OSError, ValueError) as error:
        raise ScenarioError(f"devices.arrival.trace.path: cannot read {path} ({error})") from None
    for key, column in keys.items():
        if column is not None and column not in table.columns:
            raise ScenarioError(f"devices.arrival.trace.{key}: {path} has no column {column!r}")
    if table.empty:
        raise ScenarioError(f"devices.arrival.trace.path: {path} holds no arrivals")
    return table


def load_trace(path: Path, trace: TraceArrivals) -> TraceArrivalTimes:
    """Read a trace CSV; times keep their gaps exactly, multiplied by ``time_scale``.

    Rows may come in any order: they are sorted by their time in seconds (not by the column's
    text), stably, and each size stays with its own arrival.
    """
    table = _read_columns(path, trace)
    seconds = _times_in_seconds(table[trace.time_column], trace.time_column)
    order = np.argsort(seconds, kind="stable")
    seconds = seconds[order]
    times_s = (seconds - seconds[0]) * trace.time_scale
    sizes = None
    if trace.size_column:
        sizes = _sizes_in_bits(table[trace.size_column], trace)[order]
    return TraceArrivalTimes(times_s, sizes)


def trace_source(
    env: simpy.Environment,
    arrivals: TraceArrivalTimes,
    devices: int,
    rng: BufferedStream,
    new_request: NewRequest,
):
    """Replay a trace: each arrival goes to a device drawn uniformly at random."""
    sizes = arrivals.sizes_bits
    for index, time_s in enumerate(arrivals.times_s.tolist()):
        if time_s > env.now:
            yield env.timeout(time_s - env.now)
        device = min(int(rng.uniform() * devices), devices - 1)
        new_request(device, None if sizes is None else float(sizes[index]))
    logger.info("arrival trace exhausted at %.1f s", env.now)
