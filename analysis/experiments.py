"""Comparisons and sweeps: many cells run at once, then one table with bootstrap intervals.

A comparison runs every (policy, seed) cell of one scenario; a sweep does the same for every
setting of a grid of overrides. Each cell is a run folder written by
:func:`edgesim.runner.run_cell`, in local worker processes or on an existing Dask cluster; both
give the same table, since a cell's output depends only on its scenario, policy and seed.

Layout of a comparison folder ``DIR``::

    DIR/compare.json                      {"policies", "seeds", "scenario"}
    DIR/cells/<policy-label>/seed-<n>/    one run folder per cell
    DIR/table.csv                         one row per policy
    DIR/failures.json                     only when some cells failed

and of a sweep folder::

    DIR/sweep.json                        {"vary", "settings": [{"slug", "overrides"}], ...}
    DIR/cells/<setting-slug>/<policy-label>/seed-<n>/
    DIR/table.csv                         one row per setting and policy

Seeds are ``scenario.seed + i`` for ``i`` in ``0..seeds-1`` (1 to N with the usual seed 1).
"""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from analysis import runs
from analysis.bootstrap import comparison_table
from analysis.files import write_atomic, write_json_atomic
from analysis.stats import cells_table
from edgesim.policies import REFERENCE_POLICIES
from edgesim.runner import Cell, cell_is_complete, resolve_cell_scenario, run_cell
from edgesim.scenario import Scenario, ScenarioError, parse_yaml

__all__ = [
    "CellsFailedError",
    "ExperimentInputError",
    "parse_vary",
    "policy_label",
    "run_compare",
    "run_sweep",
    "setting_slug",
]

logger = logging.getLogger(__name__)

_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ExperimentInputError(ValueError):
    """Bad input to a comparison or sweep (policies, seeds, workers); one line."""


class CellsFailedError(RuntimeError):
    """Some cells failed while running; the table of the others was written.

    ``failures`` lists one dict per failed cell with its ``cell`` path and ``error``.
    ``table_written`` is False when no cell succeeded: then there is no ``table.csv`` (an old
    one was removed), and the message says so.
    """

    def __init__(
        self, failures: list[dict[str, Any]], folder: Path, table_written: bool = True
    ) -> None:
        self.failures = failures
        self.folder = folder
        self.table_written = table_written
        names = ", ".join(f["cell"] for f in failures[:5])
        more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
        table = "" if table_written else "; no cell succeeded, so there is no table.csv"
        super().__init__(
            f"{len(failures)} cell(s) failed: {names}{more} "
            f"(errors in {folder / 'failures.json'}){table}"
        )


@dataclass(frozen=True)
class _Job:
    """A cell and where it sits in the table: its setting slug, policy label and seed."""

    cell: Cell
    setting: str
    label: str

    @property
    def name(self) -> str:
        """The cell's path below ``cells/``."""
        return runs.cell_name(self.setting, self.label, self.cell.seed)

    def table_cell(self) -> runs.Cell:
        """The cell as :mod:`analysis.runs` lists it, for its row of the table."""
        return runs.Cell(
            self.label, self.cell.seed, Path(self.cell.out), self.setting, self.cell.overrides
        )


def parse_vary(pairs: Sequence[str]) -> dict[str, list[Any]]:
    """Parse ``KEY=V1,V2,...`` strings into a grid; values are read as YAML.

    The value list is read as a YAML flow sequence, so ranges keep their brackets:
    ``devices.deadline_s=[2,5],[5,20]`` gives two values, ``[2, 5]`` and ``[5, 20]``.

    >>> parse_vary(["devices.count=10,20", "devices.deadline_s=[2,5],[5,20]"])
    {'devices.count': [10, 20], 'devices.deadline_s': [[2, 5], [5, 20]]}

    :raises ScenarioError: for a malformed pair, an empty or repeated key, or repeated values.
    """
    grid: dict[str, list[Any]] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise ScenarioError(f"--vary {pair}: expected KEY=V1,V2,...")
        if key in grid:
            raise ScenarioError(f"--vary {key}: given twice")
        grid[key] = _parse_values(pair, text)
    return grid


def _parse_values(pair: str, text: str) -> list[Any]:
    try:
        values = parse_yaml(f"[{text}]")
    except yaml.YAMLError:
        raise ScenarioError(f"--vary {pair}: values are not valid YAML") from None
    if any(value is None for value in values):
        raise ScenarioError(f"--vary {pair}: empty value")
    if len({json.dumps(value) for value in values}) < len(values):
        raise ScenarioError(f"--vary {pair}: a value is repeated")
    return values


def policy_label(policy: str) -> str:
    """The folder name of a policy: its name, or the folder holding a checkpoint."""
    path = Path(policy)
    if policy in REFERENCE_POLICIES:
        return policy
    if path.suffix == ".pt":
        return path.resolve().parent.name
    return path.resolve().name


def _check_policies(policies: Sequence[str]) -> list[str]:
    """Resolve checkpoint paths to absolute ones and check that labels are distinct."""
    if not policies:
        raise ExperimentInputError("--policies: name at least one policy")
    specs = []
    for policy in policies:
        path = Path(policy).expanduser()
        if policy in REFERENCE_POLICIES:
            specs.append(policy)
        elif path.is_file() or (path / "policy.pt").is_file():
            specs.append(str(path.resolve()))
        else:
            names = ", ".join(REFERENCE_POLICIES)
            raise ExperimentInputError(
                f"--policies: unknown policy {policy!r} (known: {names}, or a checkpoint path)"
            )
    labels = [policy_label(spec) for spec in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ExperimentInputError(f"--policies: two policies share the label {repeated[0]!r}")
    return specs


def _seeds(scenario: Scenario, seeds: int) -> list[int]:
    if seeds < 1:
        raise ExperimentInputError(f"--seeds: must be at least 1, got {seeds}")
    return [scenario.seed + index for index in range(seeds)]


def _format_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "-".join(_format_value(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def setting_slug(overrides: dict[str, Any]) -> str:
    """A folder name for a setting: the last part of each key and its value.

    >>> setting_slug({"devices.count": 10, "devices.deadline_s": [2.0, 5.0]})
    'count-10_deadline_s-2-5'
    """
    parts = [f"{key.rsplit('.', 1)[-1]}-{_format_value(value)}" for key, value in overrides.items()]
    return _SLUG_UNSAFE.sub("+", "_".join(parts)) or "base"


def _settings(vary: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid, in the order the keys and values were given."""
    if not vary or any(not values for values in vary.values()):
        raise ExperimentInputError("--vary: give at least one key with at least one value")
    keys = list(vary)
    settings = []
    for values in itertools.product(*vary.values()):
        overrides = dict(zip(keys, values, strict=True))
        settings.append({"slug": setting_slug(overrides), "overrides": overrides})
    slugs = [s["slug"] for s in settings]
    if len(set(slugs)) < len(slugs):
        for index, setting in enumerate(settings):
            setting["slug"] = f"{index:03d}-{setting['slug']}"
    return settings


def _jobs(
    scenario: Scenario,
    settings: Iterable[tuple[str, dict[str, Any]]],
    policies: Sequence[str],
    seeds: Sequence[int],
    folder: Path,
) -> list[_Job]:
    base = scenario.to_dict()
    jobs = []
    for slug, overrides in settings:
        for policy in policies:
            label = policy_label(policy)
            for seed in seeds:
                where = folder / "cells" / slug / label / f"seed-{seed}"
                cell = Cell(base, overrides, policy, seed, str(where), scenario.base_dir)
                jobs.append(_Job(cell, slug, label))
    return jobs


def run_compare(
    scenario: Scenario,
    policies: Sequence[str],
    seeds: int,
    out: str | Path,
    workers: int | None = None,
    cluster: str | None = None,
    progress: bool = False,
) -> Path:
    """Run every policy over ``seeds`` seeds and write ``table.csv``; return its path.

    :param scenario: the validated scenario (with any ``--set`` overrides applied).
    :param policies: reference policy names or trained checkpoint paths.
    :param seeds: the number of seeds; they are ``scenario.seed``, ``scenario.seed + 1``, ...
    :param out: the comparison folder.
    :param workers: local worker processes (default: the number of CPUs).
    :param cluster: a Dask scheduler address, ``tcp://HOST:PORT``; overrides ``workers``.
    :param progress: show a progress bar over cells.
    :raises ExperimentInputError: for bad policies, seeds or workers, before anything runs.
    :raises CellsFailedError: after writing the table, when some cells failed.
    """
    folder = Path(out).resolve()
    specs = _check_policies(policies)
    seed_list = _seeds(scenario, seeds)
    jobs = _jobs(scenario, [("", {})], specs, seed_list, folder)
    info = {"policies": [policy_label(p) for p in specs], "seeds": seed_list}
    write_json_atomic(folder / "compare.json", {**info, "scenario": scenario.to_dict()})
    done = _execute(jobs, folder, workers, cluster, progress)
    return _finish(folder, jobs, done, ("policy",))


def run_sweep(
    scenario: Scenario,
    vary: dict[str, list[Any]],
    policies: Sequence[str],
    seeds: int,
    out: str | Path,
    workers: int | None = None,
    cluster: str | None = None,
    progress: bool = False,
) -> Path:
    """Run every policy and seed at every setting of the grid ``vary``; return ``table.csv``.

    ``vary`` maps dotted scenario keys to their values (see :func:`parse_vary`); several keys
    make a product grid. Every setting is validated before any cell runs, so a bad key or
    value raises :class:`ScenarioError` naming it. Other parameters as :func:`run_compare`.
    """
    folder = Path(out).resolve()
    settings = _settings(vary)
    for setting in settings:
        probe = Cell(scenario.to_dict(), setting["overrides"], "", 0, "", scenario.base_dir)
        resolve_cell_scenario(probe)
    specs = _check_policies(policies)
    seed_list = _seeds(scenario, seeds)
    pairs = [(s["slug"], s["overrides"]) for s in settings]
    jobs = _jobs(scenario, pairs, specs, seed_list, folder)
    info = {
        "vary": vary,
        "settings": settings,
        "policies": [policy_label(p) for p in specs],
        "seeds": seed_list,
        "scenario": scenario.to_dict(),
    }
    write_json_atomic(folder / "sweep.json", info)
    done = _execute(jobs, folder, workers, cluster, progress)
    return _finish(folder, jobs, done, ("setting", *vary, "policy"))


def _execute(
    jobs: list[_Job], folder: Path, workers: int | None, cluster: str | None, progress: bool
) -> dict[str, str]:
    """Run the jobs whose folders are not complete; map each job's name to its error or ""."""
    pending = [job for job in jobs if not cell_is_complete(job.cell)]
    skipped = len(jobs) - len(pending)
    if skipped:
        logger.info("%s: %d of %d cells already complete", folder, skipped, len(jobs))
    results = {job.name: "" for job in jobs}
    if not pending:
        return results
    cells = [job.cell for job in pending]
    if cluster:
        outcomes = _run_on_cluster(cells, cluster)
    else:
        outcomes = _run_locally(cells, _worker_count(workers, len(cells)))
    for index, error in _with_progress(outcomes, len(cells), progress):
        results[pending[index].name] = error
        if error:
            logger.warning("cell %s failed: %s", pending[index].name, error)
    return results


def _worker_count(workers: int | None, cells: int) -> int:
    if workers is not None and workers < 1:
        raise ExperimentInputError(f"--workers: must be at least 1, got {workers}")
    return max(1, min(workers or os.cpu_count() or 1, cells))


def _error_text(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _run_locally(cells: list[Cell], workers: int) -> Iterator[tuple[int, str]]:
    """Run cells in a pool of worker processes; yield (index, error or "") as each ends."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # forkserver: safe when the calling process has threads (a Dask client, a notebook).
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_cell, cell): index for index, cell in enumerate(cells)}
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], "" if error is None else _error_text(error)


def _run_on_cluster(cells: list[Cell], address: str) -> Iterator[tuple[int, str]]:
    """Run cells on a Dask cluster; yield (index, error or "") as each ends."""
    from dask.distributed import Client, as_completed

    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as error:
        raise ExperimentInputError(f"--cluster: cannot reach {address}: {error}") from None
    with client:
        futures = client.map(run_cell, cells, pure=False)
        indices = {future.key: index for index, future in enumerate(futures)}
        for future in as_completed(futures):
            yield indices[future.key], _dask_error(future)


def _dask_error(future: Any) -> str:
    """The error of a finished Dask future, or "" when it succeeded."""
    if future.status == "finished":
        return ""
    if future.status == "error":
        return _error_text(future.exception())
    return f"the cluster reported the cell {future.status}"


def _with_progress(
    outcomes: Iterator[tuple[int, str]], total: int, progress: bool
) -> Iterator[tuple[int, str]]:
    if not progress:
        yield from outcomes
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="cell", desc="cells") as bar:
        for outcome in outcomes:
            bar.update()
            yield outcome


def _finish(
    folder: Path, jobs: list[_Job], results: dict[str, str], group_by: tuple[str, ...]
) -> Path:
    """Write ``table.csv`` of the cells that ran and ``failures.json``; raise on failures.

    A sweep groups by setting, each varied key (a column of every cell row, constant within
    a setting) and policy, so the table has a column per varied key.
    """
    table_path = folder / "table.csv"
    succeeded = [job.table_cell() for job in jobs if not results[job.name]]
    if succeeded:
        table = comparison_table(cells_table(succeeded), group_by)
        write_atomic(table_path, table.to_csv(index=False))
    elif table_path.exists():
        table_path.unlink()
        logger.warning("%s: no cell succeeded; removed the old %s", folder, table_path.name)
    failures = [_failure(job, results[job.name]) for job in jobs if results[job.name]]
    failures_path = folder / "failures.json"
    if failures:
        write_json_atomic(failures_path, failures)
        raise CellsFailedError(failures, folder, table_written=bool(succeeded))
    failures_path.unlink(missing_ok=True)
    return table_path


def _failure(job: _Job, error: str) -> dict[str, Any]:
    """The entry of ``failures.json`` for a failed cell."""
    return {
        "cell": job.name,
        "policy": job.cell.policy,
        "seed": job.cell.seed,
        "overrides": job.cell.overrides,
        "error": error,
    }
