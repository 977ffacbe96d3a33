"""The trace recorder: request rows and server time series, streamed to parquet.

Rows are buffered as tuples and written in row groups, so a run of millions of requests keeps
only one row group in memory. Files are written inside a staging folder; :func:`publish`
moves the finished folder into place in one rename, so no half-written run folder survives a
crash or Ctrl-C.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import weakref
from array import array
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from edgesim.sim.request import COLUMNS, Request

__all__ = ["REQUEST_SCHEMA", "SERVER_SCHEMA", "Recorder", "publish"]

_INT_COLUMNS = {"request_id", "device", "base_station", "images", "server", "level", "steps"}
REQUEST_SCHEMA = pa.schema(
    [
        (
            name,
            pa.int64()
            if name in _INT_COLUMNS
            else pa.string()
            if name == "outcome"
            else pa.float64(),
        )
        for name in COLUMNS
    ]
)
SERVER_COLUMNS = ("time_s", "server", "in_system", "cpu_queue", "gpu_queue", "cpu_busy", "gpu_busy")
SERVER_SCHEMA = pa.schema(
    [("time_s", pa.float64())] + [(name, pa.int32()) for name in SERVER_COLUMNS[1:]]
)
_FREQUENCY_COLUMNS = (COLUMNS.index("cpu_ghz"), COLUMNS.index("gpu_ghz"))


def _column_array(values: tuple, kind: pa.DataType) -> pa.Array:
    """One column as an arrow array; numbers go through numpy, many times faster than
    arrow's conversion of Python floats."""
    if kind == pa.string():
        return pa.array(values, type=kind)
    return pa.array(np.array(values, dtype=kind.to_pandas_dtype()))


class _ParquetStream:
    """Rows appended as tuples, written to one parquet file in row groups."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int) -> None:
        self.path = path
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.rows: list[tuple] = []
        # Dictionary encoding pays only for the few-valued integer and text columns.
        few_valued = [f.name for f in schema if not pa.types.is_floating(f.type)]
        self.writer = pq.ParquetWriter(path, schema, use_dictionary=few_valued)

    def append(self, row: tuple) -> None:
        rows = self.rows
        rows.append(row)
        if len(rows) >= self.row_group_rows:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        columns = list(zip(*self.rows))  # noqa: B905 (every row has the schema's length)
        arrays = [_column_array(col, f.type) for col, f in zip(columns, self.schema, strict=True)]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


class Recorder:
    """Collects a run's trace in a staging folder and keeps running totals for the summary.

    The staging folder is removed when the recorder is released (or by :meth:`discard`), so
    a simulation that is dropped unfinished leaves nothing behind.
    """

    def __init__(self, row_group_rows: int = 65536, servers_timeseries: bool = True) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="edgesim-run-"))
        self._remove_folder = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)
        self.requests = _ParquetStream(
            self.folder / "requests.parquet", REQUEST_SCHEMA, row_group_rows
        )
        self.servers = (
            _ParquetStream(self.folder / "servers.parquet", SERVER_SCHEMA, row_group_rows)
            if servers_timeseries
            else None
        )
        self._held_rows: dict[int, tuple] = {}
        self.outcomes = dict.fromkeys(("completed", "missed", "dropped", "rejected", "pending"), 0)
        self.latencies_s = array("d")
        self.total_utility = 0.0
        self.total_quality = 0.0
        self.energy_tx_j = self.energy_cpu_j = self.energy_gpu_j = 0.0

    def record_request(self, request: Request) -> None:
        """Write one ended (or, at the end of the run, pending) request."""
        self.outcomes[request.outcome] += 1
        if request.outcome == "completed":
            self.latencies_s.append(request.latency)
            self.total_quality += request.quality
        if request.outcome != "pending":
            self.total_utility += request.utility
        self.energy_tx_j += request.energy_tx_j
        self.energy_cpu_j += request.energy_cpu_j
        self.energy_gpu_j += request.energy_gpu_j
        row = request.row
        if row[_FREQUENCY_COLUMNS[0]] == 0.0 or row[_FREQUENCY_COLUMNS[1]] == 0.0:
            row = _unused_frequencies_as_nan(row)
        self.requests.append(row)

    def record_server(self, time_s: float, server: int, state: tuple[int, ...]) -> None:
        """Write a server's state (in system, CPU queue, GPU queue, CPU busy, GPU busy).

        A server's row is held back until its state changes at a later time: a state that
        lasted zero seconds is replaced, not written.
        """
        if self.servers is None:
            return
        held = self._held_rows.get(server)
        if held is not None and held[0] != time_s:
            self.servers.append(held)
        self._held_rows[server] = (time_s, server, *state)

    def close(self) -> None:
        """Flush and close the parquet files."""
        self.requests.close()
        if self.servers is not None:
            for row in self._held_rows.values():
                self.servers.append(row)
            self._held_rows.clear()
            self.servers.close()

    def discard(self) -> None:
        """Remove the staging folder."""
        self._remove_folder()


def _unused_frequencies_as_nan(row: tuple) -> tuple:
    values = list(row)
    for index in _FREQUENCY_COLUMNS:
        if values[index] == 0.0:
            values[index] = math.nan
    return tuple(values)


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON."""
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def publish(staging: Path, target: Path) -> Path:
    """Move a finished staging folder to ``target``, replacing an older run there atomically.

    The staging folder is first copied next to ``target`` (same file system), then renamed
    into place; an existing ``target`` is renamed away first and removed afterwards.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    beside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    shutil.copytree(staging, beside, dirs_exist_ok=True)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(beside, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target
