"""The ``edgesim`` command line.

Bad input (a missing file, an invalid scenario, an unknown policy) prints one line starting with
``edgesim: error:`` and exits 2; exit 1 is kept for internal failures. Long commands show a
progress bar when standard error is a terminal and stay quiet in pipes.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from edgesim.scenario import ScenarioError, load_scenario, parse_overrides

__all__ = ["main"]

logger = logging.getLogger("edgesim")

ALGOS = ("hsac-ic", "hsac", "sac", "ppo", "dqn")


class UsageError(Exception):
    """Bad input from the user: reported in one line with exit code 2."""


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="scenario YAML file")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario key by its dotted path, value read as YAML (repeatable)",
    )


def _load(args: argparse.Namespace):
    return load_scenario(args.scenario, parse_overrides(args.overrides))


def _show_progress() -> bool:
    return sys.stderr.isatty()


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_validate(args: argparse.Namespace) -> int:
    scenario = _load(args)
    _write(
        f"{args.scenario}: valid ({scenario.devices.count} devices, "
        f"{scenario.servers.count} servers, {scenario.duration_s:g} s, "
        f"policy {scenario.scheduler.policy})"
    )
    return 0


def _policy_label(policy: str) -> str:
    path = Path(policy)
    if path.suffix == ".pt" or path.is_dir():
        return path.parent.name if path.suffix == ".pt" else path.name
    return policy


def cmd_run(args: argparse.Namespace) -> int:
    from edgesim.sim.simulation import Simulation

    scenario = _load(args)
    policy = args.policy or scenario.scheduler.policy
    seed = scenario.seed if args.seed is None else args.seed
    out = args.out or (f"runs/{Path(args.scenario).stem}-{_policy_label(policy)}-seed{seed}")
    try:
        simulation = Simulation(scenario, policy=policy, seed=seed)
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None
    result = simulation.run(progress=_show_progress(), out=out)
    summary = result.summary
    _write(
        f"{out}: {summary['requests']} requests, {summary['completed']} completed, "
        f"deadline hit {summary['deadline_hit_ratio']:.3f}, "
        f"mean utility {summary['mean_utility']:.3f}, "
        f"mean latency {summary['mean_latency_s']:.2f} s ({summary['wall_s']:.1f} s wall)"
    )
    if args.report:
        from analysis.report import write_report

        html_path, _ = write_report(out)
        _write(f"report: {html_path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from edgesim.rl.train import train

    scenario = _load(args)
    out = args.out or f"runs/train-{Path(args.scenario).stem}-{args.algo}-seed{args.seed}"
    try:
        train(
            scenario,
            algo=args.algo,
            steps=args.steps,
            seed=args.seed,
            out=out,
            resume=args.resume,
            progress=_show_progress(),
        )
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None
    _write(f"{out}: policy saved to {Path(out) / 'policy.pt'}")
    return 0


def _cells_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policies", required=True, help="comma-separated policy names or checkpoint paths"
    )
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local worker processes")
    where.add_argument("--cluster", default=None, help="Dask scheduler, tcp://HOST:PORT")
    parser.add_argument("--out", default=None, help="output folder")


def _run_cells(run: Callable[[], Path], out: str) -> int:
    """Run a comparison or sweep: bad input exits 2, failed cells exit 1 after the table."""
    from analysis.experiments import CellsFailedError, ExperimentInputError

    try:
        table_path = run()
    except ExperimentInputError as error:
        raise UsageError(str(error)) from None
    except CellsFailedError as error:
        sys.stderr.write(f"edgesim: error: {out}: {error}\n")
        return 1
    _write(f"{out}: table in {table_path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from analysis.experiments import run_compare

    scenario = _load(args)
    out = args.out or f"runs/compare-{Path(args.scenario).stem}"
    policies = _split(args.policies)
    return _run_cells(
        lambda: run_compare(
            scenario,
            policies,
            args.seeds,
            out,
            workers=args.workers,
            cluster=args.cluster,
            progress=_show_progress(),
        ),
        out,
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    from analysis.experiments import ExperimentInputError, parse_vary, run_sweep

    scenario = _load(args)
    try:
        vary = parse_vary(args.vary)
    except ExperimentInputError as error:
        raise UsageError(str(error)) from None
    out = args.out or f"runs/sweep-{Path(args.scenario).stem}"
    policies = _split(args.policies)
    return _run_cells(
        lambda: run_sweep(
            scenario,
            vary,
            policies,
            args.seeds,
            out,
            workers=args.workers,
            cluster=args.cluster,
            progress=_show_progress(),
        ),
        out,
    )


def cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import write_report

    if not Path(args.folder).is_dir():
        raise UsageError(f"{args.folder}: no such folder")
    try:
        html_path, md_path = write_report(args.folder)
    except ValueError as error:
        raise UsageError(str(error)) from None
    _write(f"report: {html_path} and {md_path}")
    return 0


def _split(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError("--policies: name at least one policy")
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="edgesim", description="Simulate generative-AI serving at the IoT edge."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="simulate a scenario and write a run folder")
    _scenario_arguments(run)
    run.add_argument("--policy", help="policy name or trained checkpoint (policy.pt)")
    run.add_argument("--seed", type=int, default=None, help="seed (default: the scenario's)")
    run.add_argument("--out", default=None, help="run folder (default runs/SCENARIO-POLICY-seedN)")
    run.add_argument("--report", action="store_true", help="also write report.html")
    run.set_defaults(handler=cmd_run)

    validate = commands.add_parser("validate", help="check a scenario file")
    _scenario_arguments(validate)
    validate.set_defaults(handler=cmd_validate)

    train = commands.add_parser("train", help="train a learning scheduler")
    _scenario_arguments(train)
    train.add_argument("--algo", choices=ALGOS, default="hsac-ic")
    train.add_argument("--steps", type=int, default=50_000, help="environment steps")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default=None, help="training folder")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.set_defaults(handler=cmd_train)

    compare = commands.add_parser("compare", help="run policies over seeds and tabulate")
    _scenario_arguments(compare)
    _cells_arguments(compare)
    compare.set_defaults(handler=cmd_compare)

    sweep = commands.add_parser("sweep", help="compare policies over a grid of overrides")
    _scenario_arguments(sweep)
    sweep.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="KEY=V1,V2,...",
        help="a scenario key and its values (repeat for a product grid)",
    )
    _cells_arguments(sweep)
    sweep.set_defaults(handler=cmd_sweep)

    report = commands.add_parser("report", help="write report.html for a folder")
    report.add_argument("folder", help="a run, compare, sweep or training folder")
    report.set_defaults(handler=cmd_report)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (ScenarioError, UsageError) as error:
        sys.stderr.write(f"edgesim: error: {error}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("edgesim: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
