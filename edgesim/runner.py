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
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgesim.scenario import Scenario, apply_overrides, load_scenario_dict

__all__ = [
    "Cell",
    "TrainingCell",
    "cell_is_complete",
    "resolve_cell_scenario",
    "run_cell",
    "run_training",
    "training_is_complete",
]

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


@dataclass(frozen=True)
class TrainingCell:
    """One training run of an experiment, as plain picklable data, like :class:`Cell`.

    :param scenario: the fully resolved scenario to train on (:meth:`Scenario.to_dict`).
    :param algo: the algorithm, one of :data:`edgesim.rl.train.ALGOS`.
    :param steps: the environment steps of the whole run.
    :param seed: the training seed.
    :param out: the training folder to write (absolute, so any worker finds it).
    :param base_dir: the folder relative trace paths resolve against.
    """

    scenario: dict[str, Any]
    algo: str
    steps: int
    seed: int
    out: str
    base_dir: str = field(default=".")


def _training_matches(cell: TrainingCell) -> bool:
    """Tell whether the folder's ``train.json`` is this cell's algo, steps, seed and scenario."""
    try:
        with (Path(cell.out) / "train.json").open(encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict):
        return False
    wanted = {"algo": cell.algo, "steps": cell.steps, "seed": cell.seed}
    if any(meta.get(key) != value for key, value in wanted.items()):
        return False
    expected = load_scenario_dict(cell.scenario, base_dir=cell.base_dir).to_dict()
    return meta.get("scenario") == json.loads(json.dumps(expected))


def training_is_complete(cell: TrainingCell) -> bool:
    """Tell whether the cell's folder holds a finished training of this very cell.

    The folder must have ``policy.pt`` (written last, atomically) and a ``train.json`` whose
    algo, steps, seed and resolved scenario are the cell's.
    """
    return (Path(cell.out) / "policy.pt").is_file() and _training_matches(cell)


def _has_checkpoint(folder: Path) -> bool:
    return any(path.is_dir() for path in (folder / "checkpoints").glob("step-*"))


def run_training(cell: TrainingCell) -> str:
    """Train one cell and say what was done: ``"skipped"``, ``"resumed"`` or ``"trained"``.

    A complete folder is kept. A partial one of the same algo, steps, seed and scenario
    resumes from its last checkpoint; any other content of the folder (another run, no
    checkpoint, a checkpoint that cannot be resumed) is removed and the run starts afresh.
    Torch runs single-threaded (:data:`edgesim.rl.train.TRAINING_THREADS`).

    :raises ScenarioError: when the scenario is invalid.
    :raises ValueError: for an unknown algo or a bad step count.
    """
    from edgesim.rl.train import train

    folder = Path(cell.out)
    if training_is_complete(cell):
        logger.info("%s: complete, skipped", folder)
        return "skipped"
    scenario = load_scenario_dict(cell.scenario, base_dir=cell.base_dir)
    if _training_matches(cell) and _has_checkpoint(folder):
        try:
            train(scenario, cell.algo, cell.steps, cell.seed, folder, resume=True)
        except (ValueError, FileNotFoundError) as error:
            logger.warning("%s: cannot resume (%s), training afresh", folder, error)
        else:
            return "resumed"
    if folder.is_dir():
        shutil.rmtree(folder)
    train(scenario, cell.algo, cell.steps, cell.seed, folder)
    logger.info("%s: trained", folder)
    return "trained"
