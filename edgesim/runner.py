"""Running one cell of an experiment: a scenario, overrides, a policy and a seed.

:func:`run_cell` is the single entry point for running many simulations at once. It takes plain
data and returns a plain path, so the same function runs in local worker processes
(``concurrent.futures``) and on the workers of a Dask cluster; a worker only needs edgesim
installed and the output folder reachable at the same path.

>>> from edgesim.scenario import load_scenario_dict
>>> scenario = load_scenario_dict({"duration_s": 5}).to_dict()
>>> cell = Cell(scenario, {"devices.count": 2}, "greedy", 1, "/tmp/edgesim-doctest-cell")
>>> run_cell(cell)
'/tmp/edgesim-doctest-cell'
>>> cell_is_complete(cell)
True
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgesim.scenario import Scenario, apply_overrides, load_scenario_dict

__all__ = ["Cell", "cell_is_complete", "resolve_cell_scenario", "run_cell"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One simulation of an experiment, as plain picklable data.

    :param scenario: the fully resolved base scenario (:meth:`Scenario.to_dict`).
    :param overrides: dotted key paths to values, applied to ``scenario`` before validation.
    :param policy: a reference policy name or a trained checkpoint path.
    :param seed: the run's seed.
    :param out: the run folder to write (absolute, so any worker finds it).
    :param base_dir: the folder relative trace paths resolve against.
    """

    scenario: dict[str, Any]
    overrides: dict[str, Any]
    policy: str
    seed: int
    out: str
    base_dir: str = field(default=".")


def resolve_cell_scenario(cell: Cell) -> Scenario:
    """Apply the cell's overrides to its scenario and validate the result.

    :raises ScenarioError: with a one-line message naming the offending key path.
    """
    data = apply_overrides(cell.scenario, cell.overrides)
    return load_scenario_dict(data, base_dir=cell.base_dir)


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """The run folder's manifest, or None when the folder is not a finished run."""
    if not (folder / "summary.json").is_file():
        return None
    try:
        with (folder / "manifest.json").open(encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def cell_is_complete(cell: Cell) -> bool:
    """Tell whether the cell's run folder holds a finished run of this very cell.

    The folder must have ``summary.json`` and a ``manifest.json`` whose policy, seed and
    resolved scenario are the cell's.
    """
    manifest = _read_manifest(Path(cell.out))
    if manifest is None:
        return False
    if manifest.get("policy") != cell.policy or manifest.get("seed") != cell.seed:
        return False
    expected = resolve_cell_scenario(cell).to_dict()
    expected["seed"] = cell.seed
    return manifest.get("scenario") == json.loads(json.dumps(expected))


def run_cell(cell: Cell) -> str:
    """Run one cell and return its run folder; a complete folder is kept and not rerun.

    :raises ScenarioError: when the overridden scenario is invalid.
    :raises ValueError: when the policy is unknown.
    """
    from edgesim.sim.simulation import Simulation

    if cell_is_complete(cell):
        logger.info("%s: complete, skipped", cell.out)
        return cell.out
    scenario = resolve_cell_scenario(cell)
    Simulation(scenario, policy=cell.policy, seed=cell.seed).run(out=cell.out)
    logger.info("%s: done", cell.out)
    return cell.out
