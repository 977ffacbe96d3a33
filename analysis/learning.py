"""Learned policies against the reference schemes, pooled by algorithm.

A comparison folder (``edgesim compare``) may hold several checkpoints of one algorithm, one per
training seed. :func:`algorithm_table` pools their cells, so each algorithm gets one row whose
interval covers both the training seeds and the evaluation seeds; reference schemes keep their
own rows. Run it from the command line to print the table in Markdown:

    python -m analysis.learning runs/eval [--out runs/eval/algorithms.csv] [--figure bars.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.bootstrap import comparison_table, summarise_cells
from analysis.figures import statistic_bars_figure
from analysis.runs import list_cells, load_run
from analysis.stats import cell_row

__all__ = ["ALGORITHM_STATISTICS", "algorithm_figure", "algorithm_of", "algorithm_table", "main"]

ALGORITHM_STATISTICS = (
    "mean_utility",
    "deadline_hit_ratio",
    "energy_total_per_request_j",
    "mean_quality",
    "mean_latency_s",
)


def algorithm_of(policy: str) -> str:
    """The algorithm of a run's policy: a checkpoint's ``train.json`` algo, or the name."""
    path = Path(policy)
    folder = path.parent if path.suffix == ".pt" else path
    info = folder / "train.json"
    if info.is_file():
        return str(json.loads(info.read_text(encoding="utf-8"))["algo"])
    return policy


def _cell_rows(folder: str | Path) -> pd.DataFrame:
    """One row per current cell: its ``algorithm``, then :func:`analysis.stats.cell_row`."""
    rows = []
    for cell in list_cells(folder):
        run = load_run(cell.path)
        algorithm = algorithm_of(str(run.manifest.get("policy", cell.policy)))
        rows.append({"algorithm": algorithm, **cell_row(cell, run)})
    return pd.DataFrame(rows)


def algorithm_table(
    folder: str | Path, statistics: Sequence[str] = ALGORITHM_STATISTICS
) -> pd.DataFrame:
    """One row per algorithm or reference scheme: each statistic's mean and 95% interval.

    Cells of every checkpoint of an algorithm are pooled (training seeds times evaluation
    seeds); ``cells`` counts them. The statistics are those of
    :func:`analysis.stats.run_statistics`: energy is ``energy_total_per_request_j``, the
    requests' transmit and compute energy plus the servers' static and idle energy, over all
    requests.
    """
    cells = _cell_rows(folder)
    names = [name for name in statistics if name in cells]
    table = comparison_table(cells, ("algorithm",), names)
    counts = cells.groupby("algorithm").size().rename("cells")
    return table.merge(counts, left_on="algorithm", right_index=True)


def algorithm_figure(
    folder: str | Path,
    statistics: Sequence[str] = ("mean_utility", "deadline_hit_ratio", "mean_quality"),
):
    """Bars of each statistic per algorithm or reference scheme, pooled as in
    :func:`algorithm_table`, with 95% intervals; best mean utility first."""
    cells = _cell_rows(folder)
    long = summarise_cells(cells, ("algorithm",), [s for s in statistics if s in cells])
    utility = long[long["statistic"] == "mean_utility"].set_index("algorithm")["mean"]
    order = {name: rank for rank, name in enumerate(utility.sort_values(ascending=False).index)}
    long = long.sort_values("algorithm", key=lambda names: names.map(order), kind="stable")
    return statistic_bars_figure(long, list(dict.fromkeys(long["statistic"])), by="algorithm")


def markdown_table(table: pd.DataFrame, statistics: Sequence[str]) -> str:
    """The table as Markdown, each statistic as ``mean [low, high]``."""
    header = ["algorithm", "cells", *statistics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.sort_values("mean_utility_mean", ascending=False).itertuples(index=False):
        values = row._asdict()
        shown = [
            f"{values[f'{s}_mean']:.3f} [{values[f'{s}_ci_low']:.3f}, {values[f'{s}_ci_high']:.3f}]"
            for s in statistics
        ]
        lines.append("| " + " | ".join([values["algorithm"], str(values["cells"]), *shown]) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the algorithm table of a comparison folder (and save it as CSV with --out)."""
    parser = argparse.ArgumentParser(description="Pool a comparison's checkpoints by algorithm.")
    parser.add_argument("folder", help="an edgesim compare folder")
    parser.add_argument("--out", help="CSV file for the table")
    parser.add_argument("--figure", help="PNG file for a bar figure of the table")
    args = parser.parse_args(argv)
    table = algorithm_table(args.folder)
    if args.out:
        table.to_csv(args.out, index=False)
    if args.figure:
        algorithm_figure(args.folder).savefig(args.figure, dpi=110)
    names = [s for s in ALGORITHM_STATISTICS if f"{s}_mean" in table]
    sys.stdout.write(markdown_table(table, names) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
