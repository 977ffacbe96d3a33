"""The trace recorder: request rows and server time series, streamed to parquet.

Rows are buffered as tuples and written in row groups, so a run of millions of requests keeps
only one row group in memory. Files are written inside a staging folder; :func:`publish`
moves the finished folder into place in one rename, so no half-written run folder survives a
crash or Ctrl-C. :func:`check_target` tells beforehand whether a location can take a run
folder, so a command can refuse a bad ``--out`` before it simulates.
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
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from edgesim.sim.request import COLUMNS, Request

__all__ = [
    "REQUEST_SCHEMA",
    "SERVER_SCHEMA",
    "OutputFolderError",
    "Recorder",
    "ServerSeries",
    "check_target",
    "is_run_folder",
    "publish",
    "write_json",
]

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
# Rows converted to numbers at a time: few enough to be still in the processor's cache.
_CONVERT_ROWS = 128
SERVER_COLUMNS = ("time_s", "server", "in_system", "cpu_queue", "gpu_queue", "cpu_busy", "gpu_busy")
SERVER_SCHEMA = pa.schema(
    [("time_s", pa.float64())] + [(name, pa.int32()) for name in SERVER_COLUMNS[1:]]
)


class OutputFolderError(ValueError):
    """A location that cannot take a run folder; the message is one line naming it."""


class _ParquetStream:
    """Rows appended as tuples, written to one parquet file in row groups.

    A row is a tuple of the schema's numeric fields, in order, plus the values of its text
    fields apart. Every ``_CONVERT_ROWS`` rows the numbers are converted into one float matrix
    (a C loop over tuples still in the processor's cache; converting a whole row group at
    once, long after its rows were made, cost about twice as much per row); a row group's
    matrices are then cast column by column to the fields' types. ``zero_as_nan`` names float
    columns where 0 stands for "not used" and is written as NaN.
    """

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        row_group_rows: int,
        zero_as_nan: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.zero_as_nan = zero_as_nan
        self.rows: list[tuple] = []
        self.texts: list[tuple[str, ...]] = []
        self.blocks: list[np.ndarray] = []
        self.block_rows = 0
        # Dictionary encoding pays only for the few-valued integer and text columns.
        few_valued = [f.name for f in schema if not pa.types.is_floating(f.type)]
        self.writer = pq.ParquetWriter(path, schema, use_dictionary=few_valued)

    def append(self, numbers: tuple, *texts: str) -> None:
        rows = self.rows
        rows.append(numbers)
        if texts:
            self.texts.append(texts)
        if len(rows) >= _CONVERT_ROWS:
            self._convert()
            if self.block_rows >= self.row_group_rows:
                self.flush()

    def _convert(self) -> None:
        self.blocks.append(np.array(self.rows, dtype=np.float64))
        self.block_rows += len(self.rows)
        self.rows = []

    def flush(self) -> None:
        if self.rows:
            self._convert()
        if not self.blocks:
            return
        numbers = iter(np.concatenate(self.blocks).T)
        texts = iter(zip(*self.texts))  # noqa: B905 (every row has the same text fields)
        arrays = []
        for field in self.schema:
            if pa.types.is_string(field.type):
                arrays.append(pa.array(next(texts), type=field.type))
                continue
            column = next(numbers)
            if field.name in self.zero_as_nan:
                column = np.where(column == 0.0, np.nan, column)
            arrays.append(pa.array(column.astype(field.type.to_pandas_dtype())))
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.texts = []
        self.blocks = []
        self.block_rows = 0

    def close(self) -> None:
        self.flush()
        self.writer.close()


class ServerSeries:
    """One server's states, written as rows of :data:`SERVER_COLUMNS` (time, server, in
    system, CPU queue, GPU queue, CPU busy, GPU busy).

    A row is held back until the state changes at a later time: a state that lasted zero
    seconds is replaced, not written.
    """

    __slots__ = ("_held", "_stream")

    def __init__(self, stream: _ParquetStream) -> None:
        self._stream = stream
        self._held: tuple | None = None

    def record(self, row: tuple) -> None:
        """The server's state changed: ``row`` holds the new state and its time."""
        held = self._held
        if held is not None and held[0] != row[0]:
            self._stream.append(held)
        self._held = row

    def release(self) -> None:
        """Write the row held back (at the end of the run)."""
        if self._held is not None:
            self._stream.append(self._held)
            self._held = None


class Recorder:
    """Collects a run's trace in a staging folder and keeps running totals for the summary.

    The staging folder is removed when the recorder is released (or by :meth:`discard`), so
    a simulation that is dropped unfinished leaves nothing behind.
    """

    def __init__(self, row_group_rows: int = 8192, servers_timeseries: bool = True) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="edgesim-run-"))
        self._remove_folder = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)
        self.requests = _ParquetStream(
            self.folder / "requests.parquet",
            REQUEST_SCHEMA,
            row_group_rows,
            zero_as_nan=("cpu_ghz", "gpu_ghz"),
        )
        self.servers = (
            _ParquetStream(self.folder / "servers.parquet", SERVER_SCHEMA, row_group_rows)
            if servers_timeseries
            else None
        )
        self._series: list[ServerSeries] = []
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
        self.requests.append(request.numbers, request.outcome)

    def server_series(self) -> ServerSeries:
        """The time series of one more server's states (requires ``servers_timeseries``)."""
        if self.servers is None:
            raise ValueError("this recorder keeps no server time series")
        series = ServerSeries(self.servers)
        self._series.append(series)
        return series

    def close(self) -> None:
        """Flush and close the parquet files."""
        self.requests.close()
        if self.servers is not None:
            for series in self._series:
                series.release()
            self.servers.close()

    def discard(self) -> None:
        """Remove the staging folder."""
        self._remove_folder()


def _finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    return value


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented, standard JSON: a NaN or infinite number becomes ``null``."""
    text = json.dumps(_finite_or_none(data), indent=2, sort_keys=False, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` is a run folder, finished or not: a folder holding ``requests.parquet``.

    This is the test :func:`analysis.runs.detect_kind` applies too. A run whose
    ``summary.json`` is missing is unfinished, and a rerun may replace it.
    """
    return path.is_dir() and (path / "requests.parquet").is_file()


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_target(target: str | Path) -> None:
    """Check that a run folder can be published at ``target``.

    ``target`` may be absent, an empty folder or an earlier run folder (which is replaced);
    anything else that exists there (a file, a folder of other things) is refused, as is a
    location whose nearest existing parent is a file or cannot be written.

    :raises OutputFolderError: naming ``target`` and the reason.
    """
    target = Path(target)
    if target.exists() or target.is_symlink():
        replaceable = target.is_dir() and (is_run_folder(target) or not any(target.iterdir()))
        if not replaceable:
            raise OutputFolderError(f"{target}: exists and is not a run folder; not replaced")
    parent = _nearest_existing(target.parent)
    if not parent.is_dir():
        raise OutputFolderError(f"{target}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputFolderError(f"{target}: no permission to write in {parent}")


def _folder_mode() -> int:
    """The mode a new folder gets under the process's umask (0755 under umask 022)."""
    # The umask can only be read by setting it; it is put back at once.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o777 & ~umask


def _swap_into_place(ready: Path, target: Path) -> None:
    """Rename ``ready`` to ``target``; an older ``target`` is renamed away, then removed."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old)
    try:
        os.replace(ready, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def publish(staging: Path, target: Path) -> Path:
    """Move a finished staging folder to ``target``, replacing an older run there atomically.

    The staging folder is first copied next to ``target`` (same file system), then renamed
    into place; the copy is removed if anything fails or interrupts it. The published folder
    gets the usual mode of a new folder (0755 under umask 022).

    :raises OutputFolderError: when ``target`` cannot take a run folder (:func:`check_target`).
    """
    target = Path(target)
    check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    beside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        shutil.copytree(staging, beside, dirs_exist_ok=True)
        beside.chmod(_folder_mode())
        _swap_into_place(beside, target)
    finally:
        shutil.rmtree(beside, ignore_errors=True)
    return target
