"""The contention-free upper bound of a scenario over several seeds.

Each seed replays the requests of any policy's run of that scenario and seed, and scores every
request served alone on its best server (:func:`edgesim.bound.contention_free_bound`). Run it
beside a comparison with the same scenario, ``--set`` overrides and seeds:

    python -m analysis.bound scenarios/default.yaml --seeds 5 --set seed=101 [--out bound.csv]

It prints one Markdown row per statistic, the mean over seeds with a bootstrap 95% interval.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

from analysis.bootstrap import bootstrap_ci
from edgesim.bound import contention_free_bound, summarise_bound
from edgesim.scenario import Scenario, ScenarioError, load_scenario, parse_overrides

__all__ = ["BOUND_STATISTICS", "bound_table", "main"]

BOUND_STATISTICS = ("mean_utility", "feasible_ratio", "mean_quality", "mean_energy_j")


def bound_table(scenario: Scenario, seeds: int) -> pd.DataFrame:
    """One row per seed (``scenario.seed`` to ``scenario.seed + seeds - 1``) of the bound's
    summary (:func:`edgesim.bound.summarise_bound`)."""
    rows = []
    for seed in range(scenario.seed, scenario.seed + seeds):
        rows.append({"seed": seed, **summarise_bound(contention_free_bound(scenario, seed))})
    return pd.DataFrame(rows)


def _markdown(table: pd.DataFrame) -> str:
    lines = ["| statistic | mean [95% CI] |", "|---|---|"]
    for name in BOUND_STATISTICS:
        mean, low, high = bootstrap_ci(table[name])
        lines.append(f"| {name} | {mean:.3f} [{low:.3f}, {high:.3f}] |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the bound of a scenario over seeds; exit 2 on a bad scenario."""
    parser = argparse.ArgumentParser(description="The contention-free bound of a scenario.")
    parser.add_argument("scenario", help="scenario YAML file")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", help="CSV file for the per-seed rows")
    args = parser.parse_args(argv)
    try:
        if args.seeds < 1:
            raise ScenarioError(f"--seeds: must be at least 1, got {args.seeds}")
        scenario = load_scenario(args.scenario, overrides=parse_overrides(args.set))
    except ScenarioError as error:
        sys.stderr.write(f"analysis.bound: {error}\n")
        return 2
    table = bound_table(scenario, args.seeds)
    if args.out:
        table.to_csv(args.out, index=False)
    sys.stdout.write(_markdown(table) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
