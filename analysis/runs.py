"""Loading run folders and recognising the other folders that edgesim writes.

Five kinds of folder are known:

``run``
    one simulation: ``requests.parquet``, ``servers.parquet``, ``summary.json``, ``manifest.json``.
``compare``
    ``cells/<policy>/seed-<n>/`` run folders, with ``compare.json``.
``sweep``
    ``cells/<setting>/<policy>/seed-<n>/`` run folders, with ``sweep.json``.
``training``
    one training run: ``progress.csv`` and ``train.json``.
``training-group``
    a folder holding several training folders (at most three levels down).

A compare or sweep folder may also hold ``failures.json``, the cells of its last run that
failed; :func:`list_cells` leaves those out, with any cell that ``compare.json`` or
``sweep.json`` does not name.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

RUN_KINDS = ("run", "compare", "sweep", "training", "training-group")
_SEED_DIR = re.compile(r"^seed-(-?\d+)$")
_GROUP_DEPTH = 3


@dataclass(frozen=True)
class Run:
    """One simulation's outputs, as loaded from its run folder."""

    path: Path
    requests: pd.DataFrame
    servers: pd.DataFrame
    summary: dict[str, Any]
    manifest: dict[str, Any]

    @property
    def scenario(self) -> dict[str, Any]:
        """The fully resolved scenario the run used (empty if the manifest lacks it)."""
        return self.manifest.get("scenario", {})

    @property
    def policy(self) -> str:
        """The policy name written in the manifest."""
        return str(self.manifest.get("policy", ""))

    @property
    def seed(self) -> int | None:
        """The seed written in the manifest."""
        seed = self.manifest.get("seed")
        return None if seed is None else int(seed)

    @property
    def simulated_s(self) -> float:
        """Simulated time of the run, from the summary or else the scenario's duration."""
        value = self.summary.get("simulated_s", self.scenario.get("duration_s"))
        return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class Cell:
    """One run folder inside a compare or sweep folder."""

    policy: str
    seed: int
    path: Path
    setting: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The cell's path below ``cells/``, as ``failures.json`` names it."""
        return cell_name(self.setting, self.policy, self.seed)


def cell_name(setting: str, policy: str, seed: int) -> str:
    """Return a cell's path below ``cells/``: ``[<setting>/]<policy>/seed-<n>``."""
    parts = [setting, policy] if setting else [policy]
    return "/".join([*parts, f"seed-{seed}"])


@dataclass(frozen=True)
class TrainingRun:
    """One training folder: its progress table and its ``train.json``."""

    path: Path
    progress: pd.DataFrame
    info: dict[str, Any]

    @property
    def algo(self) -> str:
        """The algorithm name, from ``train.json`` or else the folder's name."""
        return str(self.info.get("algo", self.path.name))

    @property
    def seed(self) -> int | None:
        """The training seed, if ``train.json`` gives one."""
        seed = self.info.get("seed")
        return None if seed is None else int(seed)


def _read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, or return an empty dict when the file is absent."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _nulls_as_nan(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary with ``null`` (how strict JSON writes NaN, e.g. no completed request) as NaN."""
    return {key: math.nan if value is None else value for key, value in summary.items()}


def load_run(folder: str | Path) -> Run:
    """Load a run folder; ``requests`` is sorted by ``request_id``.

    Raises FileNotFoundError when ``requests.parquet`` is missing. A missing
    ``servers.parquet`` gives an empty table with the documented columns.
    """
    path = Path(folder)
    requests_file = path / "requests.parquet"
    if not requests_file.is_file():
        raise FileNotFoundError(f"{path}: no requests.parquet, not a run folder")
    requests = pd.read_parquet(requests_file)
    if "request_id" in requests:
        requests = requests.sort_values("request_id", kind="stable").reset_index(drop=True)
    return Run(
        path=path,
        requests=requests,
        servers=_read_servers(path / "servers.parquet"),
        summary=_nulls_as_nan(_read_json(path / "summary.json")),
        manifest=_read_json(path / "manifest.json"),
    )


def _read_servers(path: Path) -> pd.DataFrame:
    """Read the server time series sorted by server then time, keeping row order on ties."""
    columns = ["time_s", "server", "in_system", "cpu_queue", "gpu_queue", "cpu_busy", "gpu_busy"]
    if not path.is_file():
        return pd.DataFrame({name: pd.Series(dtype=float) for name in columns})
    servers = pd.read_parquet(path)
    return servers.sort_values(["server", "time_s"], kind="stable").reset_index(drop=True)


def _has_seed_dirs(folder: Path) -> bool:
    """Tell whether a folder directly holds ``seed-<n>`` folders."""
    return folder.is_dir() and any(_SEED_DIR.match(p.name) for p in folder.iterdir() if p.is_dir())


def _cells_layout(folder: Path) -> str | None:
    """Tell ``compare`` or ``sweep`` from the depth of the seed folders under ``cells/``."""
    cells = folder / "cells"
    if not cells.is_dir():
        return None
    children = [p for p in cells.iterdir() if p.is_dir()]
    if any(_has_seed_dirs(child) for child in children):
        return "compare"
    if any(_has_seed_dirs(grand) for child in children for grand in child.iterdir()):
        return "sweep"
    return None


def find_training_folders(folder: str | Path, max_depth: int = _GROUP_DEPTH) -> list[Path]:
    """Return the training folders (holding ``progress.csv``) under ``folder``, sorted."""
    root = Path(folder)
    found = []
    for depth in range(1, max_depth + 1):
        pattern = "/".join(["*"] * depth) + "/progress.csv"
        found.extend(p.parent for p in root.glob(pattern))
    return sorted(set(found))


def detect_kind(folder: str | Path) -> str:
    """Return the kind of an edgesim output folder, one of :data:`RUN_KINDS`.

    Raises ValueError (one line) when the folder is none of them.
    """
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"{path}: not a folder")
    if (path / "requests.parquet").is_file():
        return "run"
    if (path / "sweep.json").is_file():
        return "sweep"
    if (path / "compare.json").is_file():
        return "compare"
    layout = _cells_layout(path)
    if layout is not None:
        return layout
    if (path / "progress.csv").is_file():
        return "training"
    if find_training_folders(path):
        return "training-group"
    raise ValueError(
        f"{path}: unknown folder kind (expected a run, compare, sweep or training folder)"
    )


def _seed_cells(folder: Path, policy: str, setting: str, overrides: dict[str, Any]) -> list[Cell]:
    """List the ``seed-<n>`` run folders of one policy folder."""
    cells = []
    for child in sorted(folder.iterdir()):
        match = _SEED_DIR.match(child.name)
        if match and (child / "requests.parquet").is_file():
            cells.append(Cell(policy, int(match.group(1)), child, setting, overrides))
    return cells


def list_cells(folder: str | Path) -> list[Cell]:
    """List the current run folders of a compare or sweep folder, with policy, seed and setting.

    Policy and setting names are the folder names; a sweep's overrides come from ``sweep.json``.
    A cell is left out when ``compare.json`` or ``sweep.json`` lists policies, seeds or
    settings that do not include it (it is left over from an earlier run into the same folder),
    or when ``failures.json`` names it (its last run failed).
    """
    path = Path(folder)
    kind = detect_kind(path)
    if kind not in ("compare", "sweep"):
        raise ValueError(f"{path}: a {kind} folder has no cells")
    found = _compare_cells(path) if kind == "compare" else _sweep_cells(path)
    record = _read_json(path / f"{kind}.json")
    failed = {str(failure.get("cell")) for failure in read_failures(path)}
    return [cell for cell in found if _is_recorded(cell, record) and cell.name not in failed]


def _compare_cells(path: Path) -> list[Cell]:
    """Every ``cells/<policy>/seed-<n>`` run folder on disk."""
    policy_dirs = sorted(p for p in (path / "cells").iterdir() if p.is_dir())
    return [cell for p in policy_dirs for cell in _seed_cells(p, p.name, "", {})]


def _sweep_cells(path: Path) -> list[Cell]:
    """Every ``cells/<setting>/<policy>/seed-<n>`` run folder on disk, with its overrides."""
    overrides = sweep_overrides(path)
    cells = []
    for setting_dir in sorted(p for p in (path / "cells").iterdir() if p.is_dir()):
        for policy_dir in sorted(p for p in setting_dir.iterdir() if p.is_dir()):
            found = overrides.get(setting_dir.name, {})
            cells.extend(_seed_cells(policy_dir, policy_dir.name, setting_dir.name, found))
    return cells


def _is_recorded(cell: Cell, record: dict[str, Any]) -> bool:
    """Tell whether a cell's policy, seed and setting are among those the record lists.

    A record without one of the lists (or no record at all) does not restrict that part.
    """
    if "policies" in record and cell.policy not in {str(p) for p in record["policies"]}:
        return False
    if "seeds" in record and cell.seed not in {int(s) for s in record["seeds"]}:
        return False
    slugs = {str(s["slug"]) for s in record.get("settings", [])}
    return not (cell.setting and "settings" in record and cell.setting not in slugs)


def read_failures(folder: str | Path) -> list[dict[str, Any]]:
    """Return the failed cells of a compare or sweep folder's last run (``failures.json``).

    Each entry has at least ``cell`` (its path below ``cells/``) and ``error``; a folder
    without the file has none.
    """
    path = Path(folder) / "failures.json"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return list(json.load(handle))


def sweep_overrides(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Map each sweep setting's slug to its overrides, from ``sweep.json``."""
    info = _read_json(Path(folder) / "sweep.json")
    return {s["slug"]: dict(s.get("overrides", {})) for s in info.get("settings", [])}


def sweep_parameters(folder: str | Path) -> dict[str, list[Any]]:
    """Return the varied keys of a sweep and their values, in the order of ``sweep.json``."""
    info = _read_json(Path(folder) / "sweep.json")
    vary = info.get("vary", {})
    if vary:
        return {key: list(values) for key, values in vary.items()}
    keys: dict[str, list[Any]] = {}
    for overrides in sweep_overrides(folder).values():
        for key, value in overrides.items():
            keys.setdefault(key, [])
            if value not in keys[key]:
                keys[key].append(value)
    return keys


def policy_order(folder: str | Path, cells: list[Cell]) -> list[str]:
    """Return the policies in the order ``compare.json``/``sweep.json`` lists them."""
    path = Path(folder)
    info = _read_json(path / "compare.json") or _read_json(path / "sweep.json")
    seen = [str(p) for p in info.get("policies", [])]
    found = {cell.policy for cell in cells}
    ordered = [p for p in seen if p in found]
    return ordered + sorted(found - set(ordered))


def load_training(folder: str | Path) -> TrainingRun:
    """Load one training folder's ``progress.csv`` and ``train.json``."""
    path = Path(folder)
    progress_file = path / "progress.csv"
    if not progress_file.is_file():
        raise FileNotFoundError(f"{path}: no progress.csv, not a training folder")
    return TrainingRun(path, pd.read_csv(progress_file), _read_json(path / "train.json"))


def training_progress(folder: str | Path) -> pd.DataFrame:
    """Stack the progress tables of a training or training-group folder.

    Adds columns ``algo``, ``seed`` (the folder's relative path when ``train.json`` has no
    seed) and ``run`` (the folder's path relative to ``folder``).
    """
    root = Path(folder)
    folders = [root] if (root / "progress.csv").is_file() else find_training_folders(root)
    frames = []
    for path in folders:
        training = load_training(path)
        name = path.relative_to(root).as_posix() or path.name
        frame = training.progress.copy()
        frame["algo"] = training.algo
        frame["seed"] = training.seed if training.seed is not None else name
        frame["run"] = name
        frames.append(frame)
    if not frames:
        raise ValueError(f"{root}: no progress.csv found")
    return pd.concat(frames, ignore_index=True)


def last_logged_values(progress: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Return each training run's last non-empty value of every column, one row per run.

    Episode statistics are logged only on rows where an episode ended, so the last row of a
    run is often empty in those columns; each column is read back to its last value on its
    own. Columns: ``algo``, ``run`` and ``columns`` (NaN when a run never logged a column).
    """
    ordered = progress.sort_values("step", kind="stable")
    return ordered.groupby(["algo", "run"], sort=False)[list(columns)].last().reset_index()
