"""The ``edgesim`` command line.

Bad input (a missing file, an invalid scenario, an unknown policy, a malformed argument) prints
one line starting with ``edgesim: error:`` and exits 2; exit 1 is kept for internal failures.
Ctrl-C exits 130 and SIGTERM exits 143 (128 plus the signal's number, as a shell reports a
process killed by it); both unwind the same way, so a run leaves no staging folder behind. Long
commands show a progress bar when standard error is a terminal and stay quiet in pipes.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from edgesim.scenario import ScenarioError, check_policy_key, load_scenario, parse_overrides

if TYPE_CHECKING:
    from edgesim.sim.simulation import Simulation

__all__ = ["main"]

logger = logging.getLogger("edgesim")

ALGOS = ("hsac-ic", "hsac", "sac", "ppo", "dqn")


class UsageError(Exception):
    """Bad input from the user: reported in one line with exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs on the way out."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``edgesim: error: ...``, with exit 2.

    Subcommand parsers are made of the same class, so their errors read the same.
    """

    def error(self, message: str) -> NoReturn:
        """Report a parse error in one line and exit 2 (no usage block)."""
        self.exit(2, f"edgesim: error: {' '.join(message.split())}\n")


def _seed(text: str) -> int:
    """A ``--seed`` value: a non-negative integer."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


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
    """Check a scenario as ``run`` would (keys, types, policy, trace file and columns)."""
    scenario = _load(args)
    _write(
        f"{args.scenario}: valid ({scenario.devices.count} devices, "
        f"{scenario.servers.count} servers, {scenario.duration_s:g} s, "
        f"policy {scenario.scheduler.policy})"
    )
    return 0


def _policy_label(policy: str) -> str:
    """The folder-name label of a policy, as comparisons use (one rule for every command)."""
    from analysis.experiments import policy_label

    return policy_label(policy)


def _prepare_run(args: argparse.Namespace) -> tuple[Simulation, str]:
    """The scenario's simulation and run folder, with every input checked before simulating."""
    from edgesim.sim.recorder import check_target
    from edgesim.sim.simulation import Simulation

    scenario = _load(args)
    if args.policy is not None:
        check_policy_key(args.policy, "--policy")
    policy = scenario.scheduler.policy if args.policy is None else args.policy
    seed = scenario.seed if args.seed is None else args.seed
    out = args.out or (f"runs/{Path(args.scenario).stem}-{_policy_label(policy)}-seed{seed}")
    try:
        check_target(out)
        return Simulation(scenario, policy=policy, seed=seed), out
    except (ValueError, FileNotFoundError) as error:
        raise UsageError(str(error)) from None


def _write_run_line(out: str, summary: dict[str, Any]) -> None:
    _write(
        f"{out}: {summary['requests']} requests, {summary['completed']} completed, "
        f"deadline hit {summary['deadline_hit_ratio']:.3f}, "
        f"mean utility {summary['mean_utility']:.3f}, "
        f"mean latency {summary['mean_latency_s']:.2f} s ({summary['wall_s']:.1f} s wall)"
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Simulate a scenario and write its run folder (and, with ``--report``, its report).

    The policy and the output location are checked before the simulation starts; the
    staging folder is removed however the run ends.
    """
    from edgesim.sim.recorder import OutputFolderError

    simulation, out = _prepare_run(args)
    try:
        result = simulation.run(progress=_show_progress(), out=out)
    except OutputFolderError as error:
        raise UsageError(str(error)) from None
    finally:
        simulation.recorder.discard()
    _write_run_line(out, result.summary)
    if args.report:
        from analysis.report import write_report

        html_path, _ = write_report(out)
        _write(f"report: {html_path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train a learning scheduler and save ``policy.pt`` in its training folder."""
    from edgesim.rl.config import config_from_overrides
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
            config=config_from_overrides(args.algo, args.config),
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
    """Run every (policy, seed) cell of a scenario and write the comparison's ``table.csv``."""
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
    """Compare policies at every setting of the ``--vary`` grid and write ``table.csv``.

    A malformed ``--vary`` raises ScenarioError, which :func:`main` reports with exit code 2.
    """
    from analysis.experiments import parse_vary, run_sweep

    scenario = _load(args)
    vary = parse_vary(args.vary)
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
    """Write ``report.html`` and ``report.md`` for a run, compare, sweep or training folder."""
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
    """Split a comma-separated ``--policies`` value; refuse one that names nothing."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError("--policies: name at least one policy")
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(prog="edgesim", description="Simulate generative-AI serving at the IoT edge.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="simulate a scenario and write a run folder")
    _scenario_arguments(run)
    run.add_argument("--policy", help="policy name or trained checkpoint (policy.pt)")
    run.add_argument("--seed", type=_seed, default=None, help="seed (default: the scenario's)")
    run.add_argument("--out", default=None, help="run folder (default runs/SCENARIO-POLICY-seedN)")
    run.add_argument("--report", action="store_true", help="also write report.html")
    run.set_defaults(handler=cmd_run)

    validate = commands.add_parser("validate", help="check a scenario file")
    _scenario_arguments(validate)
    validate.set_defaults(handler=cmd_validate)

    train = commands.add_parser("train", help="train a learning scheduler")
    from edgesim.rl.algos import ALGOS as train_algos

    _scenario_arguments(train)
    train.add_argument("--algo", choices=train_algos, default="hsac-ic")
    train.add_argument("--steps", type=int, default=50_000, help="environment steps")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default=None, help="training folder")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an HSAC hyperparameter (a field of HSACConfig), value read as YAML (repeatable)",
    )
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


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in this process.

    A child forked inside the block (a local worker) inherits the handler; there SIGTERM keeps
    its default meaning and ends the child at once.
    """
    owner = os.getpid()

    def handle(signum: int, _frame: Any) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handle)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _dispatch(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (ScenarioError, UsageError) as error:
        sys.stderr.write(f"edgesim: error: {error}\n")
        return 2
    except Terminated:
        sys.stderr.write("edgesim: terminated\n")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        sys.stderr.write("edgesim: interrupted\n")
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, 130/143 when stopped)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    _configure_logging(args.verbose)
    with _sigterm_as_interrupt():
        return _dispatch(args)


if __name__ == "__main__":
    sys.exit(main())
