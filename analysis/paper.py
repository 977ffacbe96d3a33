"""The paper's experiments: training, every sweep of ``scenarios/experiments/paper.yaml``, reports.

Run from the repository root::

    python -m analysis.paper --out runs/paper [--quick] [--workers N | --cluster ADDRESS]
        [--training TRAIN_DIR] [--no-train] [--policies CKPT1,CKPT2]

The command runs three phases into ``OUT``:

1. every (algorithm, seed) of the plan's ``training`` section is trained into
   ``OUT/training/<algo>-seed<k>/`` (:func:`edgesim.runner.run_training`: a complete folder is
   kept, a partial one resumes from its last checkpoint);
2. each algorithm's policy of the plan's ``policy_seed`` is copied to
   ``OUT/policies/<algo>/policy.pt``, so tables and figures label it by the algorithm, and each
   sweep of the plan becomes a sweep folder ``OUT/<name>/`` (cells, ``table.csv``,
   ``report.html`` and ``report.md``) run for every reference policy, those policies and any
   extra checkpoints given;
3. the learning curves of the training runs, with bands over the training seeds, go to
   ``OUT/learning/``.

Trainings and cells run in the same kind of pool: local worker processes, or the workers of a
Dask cluster. ``--training TRAIN_DIR`` takes already-trained runs instead of training;
``--no-train`` trains nothing and adds no learned policy. ``OUT/paper.json`` records the plan,
each training's outcome, the policies and the problems met. Rerunning skips the trainings and
cells already complete, so an interrupted run picks up where it stopped.
``docs/experiments.md`` describes the experiments.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analysis.experiments import (
    CellsFailedError,
    ExperimentInputError,
    policy_label,
    run_sweep,
)
from edgesim.policies import REFERENCE_POLICIES
from edgesim.rl.train import ALGOS
from edgesim.runner import TrainingCell, run_training, training_is_complete
from edgesim.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "DEFAULT_PLAN",
    "PaperPlan",
    "PaperSweep",
    "TrainingPlan",
    "load_plan",
    "main",
    "run_paper",
]

logger = logging.getLogger(__name__)

DEFAULT_PLAN = Path(__file__).resolve().parents[1] / "scenarios" / "experiments" / "paper.yaml"


@dataclass(frozen=True)
class PaperSweep:
    """One sweep of the plan: a name, a scenario file and the grid of overrides."""

    name: str
    scenario: Path
    vary: dict[str, list[Any]]


@dataclass(frozen=True)
class TrainingPlan:
    """The training runs of the plan: every algorithm for every seed, on one scenario.

    :param scenario: the scenario file to train on.
    :param algos: the algorithms, each one of :data:`edgesim.rl.train.ALGOS`.
    :param steps: environment steps of each run.
    :param seeds: the training seeds; learning curves get a band over them.
    :param policy_seed: the seed whose policy of each algorithm joins the sweeps.
    """

    scenario: Path
    algos: tuple[str, ...]
    steps: int
    seeds: tuple[int, ...]
    policy_seed: int

    def runs(self) -> list[tuple[str, int]]:
        """Every (algorithm, seed) pair, algorithm by algorithm."""
        return [(algo, seed) for algo in self.algos for seed in self.seeds]


def _training_folder_name(algo: str, seed: int) -> str:
    """The folder of one training run under ``OUT/training/``."""
    return f"{algo}-seed{seed}"


@dataclass(frozen=True)
class PaperPlan:
    """The plan of the paper's experiments in one mode (full or ``--quick``).

    :param sweeps: the sweeps, in the plan's order.
    :param seeds: evaluation seeds per sweep cell.
    :param overrides: scenario overrides of the mode (``duration_s`` in quick mode), applied to
        the sweeps' scenarios and to the training scenario.
    :param training: the training runs, or None when the plan has no ``training`` section.
    """

    sweeps: tuple[PaperSweep, ...]
    seeds: int
    overrides: dict[str, Any]
    training: TrainingPlan | None


def load_plan(path: str | Path, quick: bool) -> PaperPlan:
    """Read the plan in the full mode or, with ``quick``, the mode of its ``quick`` section.

    The ``quick`` section may set ``seeds``, ``duration_s`` and, under ``training``, any key of
    the ``training`` section.

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
        sweeps = tuple(
            PaperSweep(name, path.parent / spec["scenario"], dict(spec["vary"]))
            for name, spec in plan["sweeps"].items()
        )
        training = _training_plan(path, plan.get("training"), mode.get("training") or {})
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise ScenarioError(f"{path}: malformed plan ({error})") from None
    if training is not None:
        _check_training_plan(path, training)
    return PaperPlan(sweeps, seeds, overrides, training)


def _training_plan(path: Path, section: Any, mode: dict[str, Any]) -> TrainingPlan | None:
    if section is None:
        return None
    spec = {**section, **mode}
    seeds = tuple(int(seed) for seed in spec["seeds"])
    return TrainingPlan(
        scenario=path.parent / spec["scenario"],
        algos=tuple(str(algo) for algo in spec["algos"]),
        steps=int(spec["steps"]),
        seeds=seeds,
        policy_seed=int(spec.get("policy_seed", seeds[0] if seeds else 0)),
    )


def _check_training_plan(path: Path, training: TrainingPlan) -> None:
    """Raise ScenarioError (one line) for a training section that cannot run."""
    unknown = [algo for algo in training.algos if algo not in ALGOS]
    if unknown:
        raise ScenarioError(f"{path}: training: unknown algo {unknown[0]!r} (use {ALGOS})")
    if not training.algos or len(set(training.algos)) < len(training.algos):
        raise ScenarioError(f"{path}: training: algos must be distinct and at least one")
    if training.steps < 1:
        raise ScenarioError(f"{path}: training: steps must be at least 1")
    if not training.seeds or len(set(training.seeds)) < len(training.seeds):
        raise ScenarioError(f"{path}: training: seeds must be distinct and at least one")
    if training.policy_seed not in training.seeds:
        raise ScenarioError(f"{path}: training: policy_seed {training.policy_seed} not in seeds")


def run_paper(
    out: str | Path,
    quick: bool = False,
    extra_policies: Sequence[str] = (),
    plan: str | Path = DEFAULT_PLAN,
    workers: int | None = None,
    cluster: str | None = None,
    progress: bool = False,
    training: str | Path | None = None,
    train: bool = True,
) -> tuple[dict[str, Path | None], list[str]]:
    """Train the plan's policies, run every sweep with them, then write the reports.

    :param out: the output folder (see the module docstring for its layout).
    :param quick: run the plan's quick mode.
    :param extra_policies: further checkpoints to run in every sweep, labelled by their folder.
    :param plan: the plan file.
    :param workers: local worker processes (default: the number of CPUs).
    :param cluster: a Dask scheduler address, ``tcp://HOST:PORT``; overrides ``workers``.
    :param progress: show progress bars over trainings and cells.
    :param training: a folder of training runs to use instead of training.
    :param train: False to train nothing and add no learned policy of the plan (with
        ``training``, only its learning report is written).
    :returns: the report path of each sweep and of ``learning`` (None when it failed), and the
        problems met. A failed training or cell does not stop the others; the sweeps then run
        without that policy. Bad input (plan, scenarios, policies, workers, training folder)
        raises before anything runs.
    """
    paper_plan = load_plan(plan, quick)
    scenarios = {s.name: load_scenario(s.scenario, paper_plan.overrides) for s in paper_plan.sweeps}
    learning = paper_plan.training if train else None
    train_scenario = _training_scenario(paper_plan, learning, training)
    extras = _check_extra_policies(extra_policies, learning)
    _check_workers(workers)
    if training is not None:
        _check_training_folder(Path(training))
    folder = Path(out).resolve()
    record = _plan_record(folder, plan, quick, paper_plan, training, train)
    _write_record(folder, record)

    run = _PaperRun(paper_plan, scenarios, folder, record, _Pool(workers, cluster, progress))
    with _single_threaded_workers():
        reports = run.execute(learning, train_scenario, training, extras)
    record.update(problems=run.problems, finished=True)
    _write_record(folder, record)
    return reports, run.problems


@dataclass
class _PaperRun:
    """One run of the command, after its input was checked: the phases and what they met."""

    plan: PaperPlan
    scenarios: dict[str, Scenario]
    folder: Path
    record: dict[str, Any]
    pool: _Pool
    problems: list[str] = field(default_factory=list)

    def execute(
        self,
        learning: TrainingPlan | None,
        train_scenario: Scenario | None,
        training: str | Path | None,
        extras: list[str],
    ) -> dict[str, Path | None]:
        """Train (or take the given runs), publish the policies, run the sweeps, report."""
        sources = self.learned_sources(learning, train_scenario, training)
        policies = {label: label for label in REFERENCE_POLICIES}
        policies.update(_publish_policies(sources, self.folder, self.plan.sweeps))
        policies.update({policy_label(p): p for p in extras})
        self.record["policies"] = policies
        _write_record(self.folder, self.record)

        _run_sweeps(
            self.plan,
            self.scenarios,
            list(policies.values()),
            self.folder,
            self.pool,
            self.problems,
        )
        reports = _write_reports(self.folder, self.plan.sweeps, self.problems)
        curves = self.record["training"]["folder"]
        if curves is not None:
            out = self.folder / "learning"
            reports["learning"] = _write_learning_report(Path(curves), out, self.problems)
        return reports

    def learned_sources(
        self,
        learning: TrainingPlan | None,
        train_scenario: Scenario | None,
        training: str | Path | None,
    ) -> dict[str, Path]:
        """The training folder of each algorithm whose policy joins the sweeps."""
        if learning is not None and train_scenario is not None:
            root = self.folder / "training"
            return _train_all(learning, train_scenario, root, self.pool, self.record, self.problems)
        if learning is not None and training is not None:
            return _given_policies(learning, Path(training))
        return {}


@contextmanager
def _single_threaded_workers() -> Iterator[None]:
    """Let the worker processes started meanwhile run torch on one thread.

    Two torch threads per worker on a 2-core machine made a learned policy's cell some fifty
    times slower (the threads of the workers contend for the cores on every small forward
    pass). ``OMP_NUM_THREADS`` is set to 1 unless the user chose a value, and restored after.
    """
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)


def _training_scenario(
    plan: PaperPlan, learning: TrainingPlan | None, training: str | Path | None
) -> Scenario | None:
    """The scenario to train on, or None when this run trains nothing."""
    if learning is None or training is not None:
        return None
    return load_scenario(learning.scenario, plan.overrides)


def _check_extra_policies(extras: Sequence[str], learning: TrainingPlan | None) -> list[str]:
    """Raise ExperimentInputError for a missing checkpoint or a label already taken."""
    taken = set(REFERENCE_POLICIES) | set(learning.algos if learning else ())
    checked = []
    for policy in extras:
        path = Path(policy).expanduser()
        if not (path.is_file() or (path / "policy.pt").is_file()):
            raise ExperimentInputError(f"--policies: no checkpoint at {policy}")
        label = policy_label(str(path))
        if label in taken:
            raise ExperimentInputError(
                f"--policies: {policy} would be labelled {label!r}, a label already taken; "
                "put the checkpoint in a folder of another name"
            )
        taken.add(label)
        checked.append(str(path.resolve()))
    return checked


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise ExperimentInputError(f"--workers: must be at least 1, got {workers}")


def _check_training_folder(path: Path) -> None:
    """Raise ExperimentInputError unless ``path`` holds training runs."""
    from analysis.runs import detect_kind

    try:
        kind = detect_kind(path)
    except ValueError as error:
        raise ExperimentInputError(f"--training {error}") from None
    if kind not in ("training", "training-group"):
        raise ExperimentInputError(f"--training {path}: a {kind} folder, not training runs")


class _Pool:
    """Where jobs run: local worker processes, or the workers of a Dask cluster."""

    def __init__(self, workers: int | None, cluster: str | None, progress: bool) -> None:
        self.workers = workers
        self.cluster = cluster
        self.progress = progress

    def map(
        self, function: Callable[[Any], Any], jobs: Sequence[Any], unit: str
    ) -> Iterator[tuple[int, Any, str]]:
        """Run ``function`` on every job; yield (index, result, error or "") as each ends."""
        if not jobs:
            return
        if self.cluster:
            outcomes = _map_on_cluster(function, jobs, self.cluster)
        else:
            count = max(1, min(self.workers or os.cpu_count() or 1, len(jobs)))
            outcomes = _map_locally(function, jobs, count)
        if not self.progress:
            yield from outcomes
            return
        from tqdm import tqdm

        with tqdm(total=len(jobs), unit=unit, desc=f"{unit}s") as bar:
            for outcome in outcomes:
                bar.update()
                yield outcome


def _map_locally(
    function: Callable[[Any], Any], jobs: Sequence[Any], workers: int
) -> Iterator[tuple[int, Any, str]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # forkserver, as for cells: safe when this process has threads (a Dask client, a notebook).
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        futures = {pool.submit(function, job): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):
            error = future.exception()
            if error is None:
                yield futures[future], future.result(), ""
            else:
                yield futures[future], None, _error_text(error)
    finally:
        # On Ctrl-C, jobs not yet started are dropped rather than run to the end.
        pool.shutdown(wait=True, cancel_futures=True)


def _map_on_cluster(
    function: Callable[[Any], Any], jobs: Sequence[Any], address: str
) -> Iterator[tuple[int, Any, str]]:
    from dask.distributed import Client, as_completed

    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as error:
        raise ExperimentInputError(f"--cluster: cannot reach {address}: {error}") from None
    with client:
        futures = client.map(function, list(jobs), pure=False)
        indices = {future.key: index for index, future in enumerate(futures)}
        for future in as_completed(futures):
            index = indices[future.key]
            if future.status == "finished":
                yield index, future.result(), ""
            elif future.status == "error":
                yield index, None, _error_text(future.exception())
            else:
                yield index, None, f"the cluster reported the job {future.status}"


def _error_text(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _train_all(
    learning: TrainingPlan,
    scenario: Scenario,
    root: Path,
    pool: _Pool,
    record: dict[str, Any],
    problems: list[str],
) -> dict[str, Path]:
    """Train every run not yet complete; return the policy_seed folder of each algorithm
    whose training succeeded. Each run's outcome goes into ``record``, failures into
    ``problems``."""
    cells = _training_cells(learning, scenario, root)
    outcomes = {name: ("skipped", "") for name, cell in cells.items() if training_is_complete(cell)}
    pending = [name for name in cells if name not in outcomes]
    logger.info("training: %d runs, %d already complete", len(cells), len(outcomes))
    jobs = [cells[name] for name in pending]
    for index, status, error in pool.map(run_training, jobs, "training"):
        outcomes[pending[index]] = (status or "failed", error)
        if error:
            logger.warning("training %s failed: %s", pending[index], error)
            problems.append(f"training {pending[index]}: {error}")
    record["training"]["runs"] = {
        name: _run_outcome(cell, *outcomes[name]) for name, cell in cells.items()
    }
    return {
        algo: root / _training_folder_name(algo, learning.policy_seed)
        for algo in learning.algos
        if not outcomes[_training_folder_name(algo, learning.policy_seed)][1]
    }


def _training_cells(
    learning: TrainingPlan, scenario: Scenario, root: Path
) -> dict[str, TrainingCell]:
    """One training cell per (algorithm, seed), keyed by its folder name under ``root``."""
    base = scenario.to_dict()
    cells = {}
    for algo, seed in learning.runs():
        name = _training_folder_name(algo, seed)
        where = str(root / name)
        cells[name] = TrainingCell(base, algo, learning.steps, seed, where, scenario.base_dir)
    return cells


def _run_outcome(cell: TrainingCell, status: str, error: str) -> dict[str, Any]:
    """One training's entry in ``paper.json``: what was done, and the error if it failed."""
    outcome: dict[str, Any] = {"algo": cell.algo, "seed": cell.seed, "status": status}
    if error:
        outcome["error"] = error
    return outcome


def _given_policies(learning: TrainingPlan, source: Path) -> dict[str, Path]:
    """The training folder under ``source`` of each plan algorithm's policy_seed run."""
    from analysis.runs import find_training_folders

    folders = [source] if (source / "progress.csv").is_file() else find_training_folders(source)
    found: dict[str, Path] = {}
    for path in folders:
        meta = _read_json(path / "train.json")
        algo = meta.get("algo")
        wanted = algo in learning.algos and meta.get("seed") == learning.policy_seed
        if wanted and algo not in found and (path / "policy.pt").is_file():
            found[algo] = path
    missing = [algo for algo in learning.algos if algo not in found]
    if missing:
        logger.warning(
            "%s: no policy.pt of seed %d for %s; the sweeps run without them",
            source,
            learning.policy_seed,
            ", ".join(missing),
        )
    return found


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _publish_policies(
    sources: dict[str, Path], folder: Path, sweeps: Sequence[PaperSweep]
) -> dict[str, str]:
    """Copy each algorithm's chosen policy to ``OUT/policies/<algo>/``; map algo to its path.

    The folder name makes the algorithm the policy's label in tables and figures (a symbolic
    link would not: labels come from the resolved path). When a copy changes, the sweep cells
    of the old policy are removed, so they rerun with the new one.
    """
    published = {}
    for algo, source in sources.items():
        target = folder / "policies" / algo
        if _copy_policy(source, target):
            _drop_cells(folder, sweeps, algo)
        published[algo] = str(target / "policy.pt")
    return published


def _copy_policy(source: Path, target: Path) -> bool:
    """Copy ``policy.pt`` and ``train.json`` from ``source`` to ``target``; False if unchanged."""
    policy = target / "policy.pt"
    if policy.is_file() and filecmp.cmp(source / "policy.pt", policy, shallow=False):
        return False
    target.mkdir(parents=True, exist_ok=True)
    for name in ("train.json", "policy.pt"):
        if (source / name).is_file():
            staging = target / f".{name}.partial"
            shutil.copyfile(source / name, staging)
            os.replace(staging, target / name)
    return True


def _drop_cells(folder: Path, sweeps: Sequence[PaperSweep], label: str) -> None:
    for sweep in sweeps:
        for cells in (folder / sweep.name / "cells").glob(f"*/{label}"):
            logger.info("%s: policy changed, cells removed", cells)
            shutil.rmtree(cells)


def _run_sweeps(
    plan: PaperPlan,
    scenarios: dict[str, Scenario],
    policies: list[str],
    folder: Path,
    pool: _Pool,
    problems: list[str],
) -> None:
    """Run every sweep; a sweep whose cells failed is added to ``problems``."""
    for sweep in plan.sweeps:
        logger.info("sweep %s: %s", sweep.name, sweep.vary)
        try:
            run_sweep(
                scenarios[sweep.name],
                sweep.vary,
                policies,
                plan.seeds,
                folder / sweep.name,
                workers=pool.workers,
                cluster=pool.cluster,
                progress=pool.progress,
            )
        except CellsFailedError as error:
            problems.append(f"{sweep.name}: {error}")


def _write_learning_report(training: Path, out: Path, problems: list[str]) -> Path | None:
    """Write the learning-curves report of ``training`` into ``out``; None if it failed."""
    from analysis.report import write_report

    try:
        return write_report(training, out)[0]
    except (TypeError, ValueError, KeyError) as error:
        logger.error("learning report failed", exc_info=True)
        problems.append(f"learning: report failed: {type(error).__name__}: {error}")
        return None


def _plan_record(
    folder: Path,
    plan: str | Path,
    quick: bool,
    paper_plan: PaperPlan,
    training: str | Path | None,
    train: bool,
) -> dict[str, Any]:
    """What ``paper.json`` holds before anything runs; outcomes are added as they come.

    ``training.folder`` is the folder of the learning report: ``OUT/training`` when this run
    trains, the ``--training`` folder when given, else None.
    """
    learning = paper_plan.training
    if training is not None:
        mode, where = "given", str(Path(training).resolve())
    elif train and learning is not None:
        mode, where = "trained", str(folder / "training")
    else:
        mode, where = "none", None
    section: dict[str, Any] = {"mode": mode, "folder": where}
    if learning is not None:
        section.update(
            scenario=str(learning.scenario),
            algos=list(learning.algos),
            steps=learning.steps,
            seeds=list(learning.seeds),
            policy_seed=learning.policy_seed,
        )
    return {
        "plan": str(Path(plan).resolve()),
        "quick": quick,
        "seeds": paper_plan.seeds,
        "overrides": paper_plan.overrides,
        "training": section,
        "policies": {},
        "sweeps": {
            s.name: {"scenario": str(s.scenario), "vary": s.vary} for s in paper_plan.sweeps
        },
        "problems": [],
        "finished": False,
    }


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    """Write ``paper.json`` atomically: a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".paper.json.", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(record, stream, indent=2)
        stream.write("\n")
    os.replace(staging, folder / "paper.json")


def _write_reports(
    folder: Path, sweeps: Sequence[PaperSweep], problems: list[str]
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
        prog="python -m analysis.paper",
        description="Train the paper's policies, run its sweeps and write their reports.",
    )
    parser.add_argument("--out", required=True, help="output folder of the whole evaluation")
    parser.add_argument("--quick", action="store_true", help="the plan's quick mode")
    parser.add_argument("--policies", default="", help="extra checkpoints, comma-separated")
    parser.add_argument("--plan", default=str(DEFAULT_PLAN), help="the plan of the experiments")
    parser.add_argument(
        "--training",
        default=None,
        help="a folder of training runs to use instead of training",
    )
    parser.add_argument(
        "--no-train",
        action="store_true",
        help="train nothing and add no learned policy of the plan",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local worker processes")
    where.add_argument("--cluster", default=None, help="Dask scheduler, tcp://HOST:PORT")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each phase")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit 2 on bad input, 1 when trainings, cells or reports failed, else 0."""
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
            train=not args.no_train,
        )
    except (ScenarioError, ExperimentInputError) as error:
        sys.stderr.write(f"paper: error: {error}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("paper: interrupted; run the same command again to resume\n")
        return 130
    for name, path in reports.items():
        if path is not None:
            sys.stdout.write(f"{name}: {path}\n")
    for problem in problems:
        sys.stderr.write(f"paper: error: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
