"""The paper's experiments: every sweep of ``scenarios/experiments/paper.yaml`` and its report.

Run from the repository root::

    python -m analysis.paper --out runs/paper [--quick] [--policies CKPT1,CKPT2]
        [--training TRAIN_DIR] [--workers N]

Each sweep of the plan becomes a sweep folder ``OUT/<name>/`` (cells, ``table.csv``,
``report.html`` and ``report.md``), run for every reference policy plus the trained checkpoints
given. With ``--training``, the learning curves of the training runs under ``TRAIN_DIR`` go to
``OUT/learning/`` as a report of their own. ``OUT/paper.json`` records the plan, the policies
and the mode. Rerunning skips the cells
already complete, so an interrupted run picks up where it stopped. ``docs/experiments.md``
describes the sweeps.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from analysis.experiments import CellsFailedError, ExperimentInputError, run_sweep
from edgesim.policies import REFERENCE_POLICIES
from edgesim.scenario import ScenarioError, load_scenario

__all__ = ["DEFAULT_PLAN", "PaperSweep", "load_plan", "main", "run_paper"]

logger = logging.getLogger(__name__)

DEFAULT_PLAN = Path(__file__).resolve().parents[1] / "scenarios" / "experiments" / "paper.yaml"


@dataclass(frozen=True)
class PaperSweep:
    """One sweep of the plan: a name, a scenario file and the grid of overrides."""

    name: str
    scenario: Path
    vary: dict[str, list[Any]]


def load_plan(path: str | Path, quick: bool) -> tuple[list[PaperSweep], int, dict[str, Any]]:
    """Read the plan; return its sweeps, the number of seeds and the overrides of the mode.

    :raises ScenarioError: when the plan file is missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such plan file")
    plan = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        mode = plan.get("quick", {}) if quick else {}
        seeds = int(mode.get("seeds", plan["seeds"]))
        overrides = {"duration_s": mode["duration_s"]} if "duration_s" in mode else {}
        sweeps = [
            PaperSweep(name, path.parent / spec["scenario"], dict(spec["vary"]))
            for name, spec in plan["sweeps"].items()
        ]
    except (KeyError, TypeError, AttributeError) as error:
        raise ScenarioError(f"{path}: malformed plan ({error})") from None
    return sweeps, seeds, overrides


def run_paper(
    out: str | Path,
    quick: bool = False,
    extra_policies: Sequence[str] = (),
    plan: str | Path = DEFAULT_PLAN,
    workers: int | None = None,
    cluster: str | None = None,
    progress: bool = False,
    training: str | Path | None = None,
) -> tuple[dict[str, Path | None], list[str]]:
    """Run every sweep of the plan, then write each sweep's report.

    Returns the report path of each sweep (and of ``learning`` when ``training`` names a folder
    of training runs) and the problems met: a sweep whose cells failed still gets its table and
    report, and a report that cannot be written does not stop the others. Bad input (plan,
    scenario, policies, training folder) raises before anything runs.
    """
    sweeps, seeds, overrides = load_plan(plan, quick)
    policies = [*REFERENCE_POLICIES, *extra_policies]
    scenarios = {s.name: load_scenario(s.scenario, overrides) for s in sweeps}
    if training is not None:
        _check_training_folder(Path(training))
    folder = Path(out)
    _write_record(folder, plan, quick, seeds, overrides, policies, sweeps, training)
    problems = []
    for sweep in sweeps:
        logger.info("sweep %s: %s", sweep.name, sweep.vary)
        try:
            run_sweep(
                scenarios[sweep.name],
                sweep.vary,
                policies,
                seeds,
                folder / sweep.name,
                workers=workers,
                cluster=cluster,
                progress=progress,
            )
        except CellsFailedError as error:
            problems.append(f"{sweep.name}: {error}")
    reports = _write_reports(folder, sweeps, problems)
    if training is not None:
        reports["learning"] = _write_learning_report(Path(training), folder / "learning", problems)
    return reports, problems


def _check_training_folder(path: Path) -> None:
    """Raise ExperimentInputError unless ``path`` holds training runs."""
    from analysis.runs import detect_kind

    try:
        kind = detect_kind(path)
    except ValueError as error:
        raise ExperimentInputError(f"--training {error}") from None
    if kind not in ("training", "training-group"):
        raise ExperimentInputError(f"--training {path}: a {kind} folder, not training runs")


def _write_learning_report(training: Path, out: Path, problems: list[str]) -> Path | None:
    """Write the learning-curves report of ``training`` into ``out``; None if it failed."""
    from analysis.report import write_report

    try:
        return write_report(training, out)[0]
    except (TypeError, ValueError, KeyError) as error:
        logger.error("learning report failed", exc_info=True)
        problems.append(f"learning: report failed: {type(error).__name__}: {error}")
        return None


def _write_record(
    folder: Path,
    plan: str | Path,
    quick: bool,
    seeds: int,
    overrides: dict[str, Any],
    policies: list[str],
    sweeps: list[PaperSweep],
    training: str | Path | None,
) -> None:
    record = {
        "plan": str(Path(plan).resolve()),
        "quick": quick,
        "seeds": seeds,
        "overrides": overrides,
        "policies": policies,
        "training": None if training is None else str(Path(training).resolve()),
        "sweeps": {s.name: {"scenario": str(s.scenario), "vary": s.vary} for s in sweeps},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "paper.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _write_reports(
    folder: Path, sweeps: list[PaperSweep], problems: list[str]
) -> dict[str, Path | None]:
    """Write each sweep's report; a report that fails is added to ``problems``."""
    from analysis.report import write_report

    reports = {}
    for sweep in sweeps:
        try:
            reports[sweep.name] = write_report(folder / sweep.name)[0]
        except (TypeError, ValueError, KeyError) as error:
            logger.error("report of %s failed", sweep.name, exc_info=True)
            problems.append(f"{sweep.name}: report failed: {type(error).__name__}: {error}")
    return reports


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.paper", description="Run the paper's sweeps and their reports."
    )
    parser.add_argument("--out", required=True, help="output folder, one sweep folder per sweep")
    parser.add_argument("--quick", action="store_true", help="short runs and 2 seeds")
    parser.add_argument("--policies", default="", help="trained checkpoints, comma-separated")
    parser.add_argument("--plan", default=str(DEFAULT_PLAN), help="the plan of the sweeps")
    parser.add_argument(
        "--training", default=None, help="a folder of training runs: add their learning curves"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local worker processes")
    where.add_argument("--cluster", default=None, help="Dask scheduler, tcp://HOST:PORT")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each sweep")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit 2 on bad input, 1 when cells or reports failed, else 0."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    extra = [p.strip() for p in args.policies.split(",") if p.strip()]
    try:
        reports, problems = run_paper(
            args.out,
            args.quick,
            extra,
            args.plan,
            args.workers,
            args.cluster,
            progress=sys.stderr.isatty(),
            training=args.training,
        )
    except (ScenarioError, ExperimentInputError) as error:
        sys.stderr.write(f"paper: error: {error}\n")
        return 2
    for name, path in reports.items():
        if path is not None:
            sys.stdout.write(f"{name}: {path}\n")
    for problem in problems:
        sys.stderr.write(f"paper: error: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
