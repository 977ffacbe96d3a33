"""One-file reports of any edgesim output folder, in HTML and in Markdown.

``report.html`` is self-contained: figures are embedded as base64 PNG, styles and the one small
script are inline, and nothing refers to the network. ``report.md`` says the same with its
figures saved as ``report-<name>.png`` beside it. Every file is written to a temporary name and
renamed, so a crash never leaves a half-written report.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import figures, servers, stats
from analysis.bootstrap import comparison_table, summarise_cells
from analysis.files import write_atomic
from analysis.runs import (
    Run,
    detect_kind,
    last_logged_values,
    list_cells,
    load_run,
    policy_order,
    read_failures,
    sweep_parameters,
    training_progress,
)

logger = logging.getLogger(__name__)

KEY_STATISTICS = (
    "mean_utility",
    "deadline_hit_ratio",
    "mean_latency_s",
    "p95_latency_s",
    "mean_quality",
    "energy_total_per_request_j",
    "throughput_per_s",
)
BAR_STATISTICS = ("mean_utility", "energy_total_per_request_j", "mean_quality")
FIGURE_DPI = 100


@dataclass
class Report:
    """An ordered list of blocks: ``("h2", text)``, ``("p", text)``, ``("table", caption,
    frame)`` or ``("figure", name, alt, Figure)``."""

    title: str
    blocks: list[tuple[Any, ...]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        """Add a section heading."""
        self.blocks.append(("h2", text))

    def paragraph(self, text: str) -> None:
        """Add a paragraph of plain text."""
        self.blocks.append(("p", text))

    def table(self, caption: str, frame: pd.DataFrame) -> None:
        """Add a table; its index is shown only when it is named."""
        self.blocks.append(("table", caption, frame))

    def figure(self, name: str, alt: str, figure: Figure) -> None:
        """Add a figure; ``name`` becomes its file name in the Markdown twin."""
        self.blocks.append(("figure", name, alt, figure))


def write_report(folder: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` (with its PNGs) for ``folder``.

    Works for run, compare, sweep, training and training-group folders; any other folder
    raises ValueError. The files go into ``out`` (created if needed) or, by default, into
    ``folder`` itself. Returns ``(html_path, md_path)``.
    """
    path = Path(folder)
    kind = detect_kind(path)
    report = BUILDERS[kind](path)
    pngs = {block[1]: _png_bytes(block[3]) for block in report.blocks if block[0] == "figure"}
    target = Path(out) if out is not None else path
    target.mkdir(parents=True, exist_ok=True)
    for name, data in pngs.items():
        write_atomic(target / _png_name(name), data)
    md_path = write_atomic(target / "report.md", render_markdown(report))
    html_path = write_atomic(target / "report.html", render_html(report, pngs))
    logger.info("wrote %s report to %s", kind, html_path)
    return html_path, md_path


def _png_bytes(figure: Figure) -> bytes:
    """Render a figure to PNG bytes, without the metadata chunk that names a web site."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _png_name(name: str) -> str:
    """File name of a figure saved beside ``report.md``."""
    return f"report-{name}.png"


def _format_value(value: object) -> str:
    """Format a table cell: 4 significant digits for floats, a dash for missing values."""
    if isinstance(value, float | np.floating):
        return "–" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def _display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame as strings, with a named index turned into a leading column."""
    shown = frame.reset_index() if frame.index.name is not None else frame
    return shown.apply(lambda column: column.map(_format_value)).astype(str)


def render_markdown(report: Report) -> str:
    """Render a report as Markdown; figures point to ``report-<name>.png`` files."""
    lines = [f"# {report.title}", ""]
    for block in report.blocks:
        if block[0] == "h2":
            lines += [f"## {block[1]}", ""]
        elif block[0] == "p":
            lines += [block[1], ""]
        elif block[0] == "table":
            lines += [f"**{block[1]}**", "", *_markdown_table(block[2]), ""]
        else:
            lines += [f"![{block[2]}]({_png_name(block[1])})", ""]
    return "\n".join(lines)


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    """Return the lines of a Markdown pipe table."""
    shown = _display_frame(frame)

    def row(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [
        row(shown.columns),
        row(["---"] * len(shown.columns)),
        *(row(r) for r in shown.itertuples(index=False)),
    ]


_STYLE_CSS = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; }
caption { font-weight: bold; text-align: left; padding-bottom: 0.3em; }
figure { margin: 1em 0 2em; }
img { max-width: 100%; }
"""

# Marks each image once the browser has decoded it, so a headless browser can prove it rendered.
_MARK_SCRIPT = """
document.querySelectorAll("img").forEach(function (img) {
  function mark() { img.dataset.rendered = img.naturalWidth > 0 ? "yes" : "no"; }
  if (img.complete) { mark(); } else { img.addEventListener("load", mark); }
  img.addEventListener("error", function () { img.dataset.rendered = "error"; });
});
"""


def render_html(report: Report, pngs: dict[str, bytes]) -> str:
    """Render a report as one self-contained HTML page with the figures embedded."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>{_STYLE_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
    ]
    for block in report.blocks:
        parts.append(_html_block(block, pngs))
    parts.append(f"<script>{_MARK_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _html_block(block: tuple[Any, ...], pngs: dict[str, bytes]) -> str:
    """Render one report block as HTML."""
    if block[0] == "h2":
        return f"<h2>{html.escape(block[1])}</h2>"
    if block[0] == "p":
        return f"<p>{html.escape(block[1])}</p>"
    if block[0] == "table":
        body = _display_frame(block[2]).to_html(index=False, escape=True, border=0)
        return body.replace("<thead>", f"<caption>{html.escape(block[1])}</caption><thead>", 1)
    encoded = base64.b64encode(pngs[block[1]]).decode("ascii")
    alt = html.escape(block[2], quote=True)
    return (
        f'<figure><img src="data:image/png;base64,{encoded}" alt="{alt}">'
        f"<figcaption>{html.escape(block[2])}</figcaption></figure>"
    )


def _vertical(values: dict[str, float], name: str = "statistic") -> pd.DataFrame:
    """Turn a flat dict of statistics into a two-column table."""
    return pd.DataFrame({name: list(values), "value": list(values.values())})


def build_run_report(folder: Path) -> Report:
    """Build the report of one run folder."""
    run = load_run(folder)
    report = Report(f"edgesim run: {folder.name}")
    report.paragraph(
        f"Policy {run.policy or 'unknown'}, seed {run.seed}, {len(run.requests)} requests over "
        f"{run.simulated_s:g} simulated seconds."
    )
    _add_request_sections(report, run)
    _add_server_sections(report, run)
    return report


def _add_request_sections(report: Report, run: Run) -> None:
    """Add the statistics of the requests table to a run report."""
    requests = run.requests
    report.heading("Requests")
    report.table("Headline statistics", _vertical(stats.run_statistics(run)))
    report.table("Outcomes (all requests)", stats.outcome_breakdown(requests))
    report.table("Latency of completed requests", _vertical(stats.latency_stats(requests)))
    energy = {f"{k}_per_request": v for k, v in stats.energy_per_request(run).items()}
    energy.update({f"cost_{k}_per_request": v for k, v in stats.service_cost(run).items()})
    report.table("Energy and cost per request", _vertical(energy))
    report.figure(
        "latency-cdf",
        "Empirical CDF of the latency of completed requests",
        figures.latency_cdf_figure({run.policy or "run": stats.latency_cdf(requests)}),
    )
    fractions = stats.outcome_breakdown(requests)["fraction"].to_frame(run.policy or "run").T
    report.figure("outcomes", "Fraction of requests by outcome", figures.outcomes_figure(fractions))


def _add_server_sections(report: Report, run: Run) -> None:
    """Add utilisation, queues, waiting times and the Little's-law check to a run report."""
    count = servers.scenario_server_count(run)
    simulated_s = run.simulated_s
    usage = servers.utilisation(run.servers, simulated_s, count)
    report.heading("Servers")
    report.table("Utilisation (busy time / simulated time)", usage)
    report.table("Queue lengths, time-weighted", servers.queue_stats(run.servers, simulated_s))
    report.table(
        "Waiting time at the server, compute_start - server_arrival [s]",
        servers.waiting_time_stats(run.requests, by_server=True),
    )
    report.table(
        "Little's law: time-average in_system versus arrival rate x mean time at server",
        servers.littles_law(run.requests, run.servers, simulated_s, count),
    )
    report.figure(
        "utilisation", "CPU and GPU utilisation per server", figures.utilisation_figure(usage)
    )
    _add_waiting_figure(report, run)
    if len(run.servers):
        report.figure(
            "queues",
            _queue_caption(run.servers["server"].nunique()),
            figures.queue_length_figure(run.servers, simulated_s),
        )


def _add_waiting_figure(report: Report, run: Run) -> None:
    """Add the per-server CDF of waiting times, when some request was served."""
    waits = servers.waiting_times_by_server(run.requests)
    if not waits:
        return
    cdfs = {f"server {s}": stats.ecdf(w, "waiting_s") for s, w in waits.items()}
    report.figure(
        "waiting-cdf",
        "Empirical CDF of the waiting time at the server (compute_start - server_arrival) "
        "of served requests, per server",
        figures.waiting_time_cdf_figure(cdfs),
    )


def _queue_caption(server_count: int) -> str:
    """Caption of the queue figure, saying which servers it leaves out."""
    caption = "CPU and GPU queue lengths over time per server (window means)"
    shown = figures.QUEUE_FIGURE_MAX_SERVERS
    if server_count > shown:
        caption += f"; the first {shown} of {server_count} servers are shown"
    return caption


def _gather_cells(folder: Path) -> tuple[pd.DataFrame, dict[str, np.ndarray], list[str]]:
    """Load each current cell once; return its rows, pooled latencies per policy and policies."""
    cells = list_cells(folder)
    rows = []
    latencies_s: dict[str, list[np.ndarray]] = {}
    for cell in cells:
        run = load_run(cell.path)
        rows.append(stats.cell_row(cell, run))
        completed = stats.completed(run.requests)["latency"].dropna().to_numpy(dtype=float)
        latencies_s.setdefault(cell.policy, []).append(completed)
    pooled = {p: np.concatenate(v) for p, v in latencies_s.items()}
    return pd.DataFrame(rows), pooled, policy_order(folder, cells)


def _add_failures(report: Report, folder: Path) -> None:
    """Add the cells whose last run failed (``failures.json``), when there are any."""
    failures = read_failures(folder)
    if not failures:
        return
    report.heading("Failed cells")
    report.paragraph(
        f"{len(failures)} cell(s) failed in the last run and are not in the tables or figures."
    )
    frame = pd.DataFrame(
        [{"cell": str(f.get("cell", "")), "error": str(f.get("error", ""))} for f in failures]
    )
    report.table("Failed cells and their errors", frame)


def _empty_report(report: Report, folder: Path) -> Report:
    """Finish the report of a folder none of whose current cells has results."""
    report.paragraph("No cell of this folder has results, so there are no statistics.")
    _add_failures(report, folder)
    return report


def _ci_display(table: pd.DataFrame, keys: Sequence[str], names: Sequence[str]) -> pd.DataFrame:
    """Show each statistic as ``mean [ci_low, ci_high]`` in one column."""
    shown = table[[*keys, "seeds"]].copy()
    for name in names:
        if f"{name}_mean" in table:
            shown[name] = [
                f"{_format_value(m)} [{_format_value(lo)}, {_format_value(hi)}]"
                for m, lo, hi in table[
                    [f"{name}_{p}" for p in ("mean", "ci_low", "ci_high")]
                ].itertuples(index=False)
            ]
    return shown


def _statistic_names(cells: pd.DataFrame) -> list[str]:
    """Return the request statistics present in a cell table, headline ones first."""
    present = [c for c in KEY_STATISTICS if c in cells]
    fractions = [f"{o}_fraction" for o in stats.OUTCOMES]
    rest = ["cost_per_request"] if "cost_per_request" in cells else []
    return present + [f for f in fractions if f in cells] + rest


def build_compare_report(folder: Path) -> Report:
    """Build the report of a compare folder: policies side by side with bootstrap CIs."""
    report = Report(f"edgesim comparison: {folder.name}")
    cells, pooled, policies = _gather_cells(folder)
    if cells.empty:
        return _empty_report(report, folder)
    names = _statistic_names(cells)
    cells["policy"] = pd.Categorical(cells["policy"], categories=policies, ordered=True)
    cells = cells.sort_values(["policy", "seed"])
    cells["policy"] = cells["policy"].astype(str)
    report.paragraph(
        f"{len(policies)} policies, {cells['seed'].nunique()} seeds each. Each cell shows the "
        "mean over seeds and its 95% percentile-bootstrap confidence interval."
    )
    _add_statistic_tables(report, cells, ["policy"], names, "policy")
    summary = summarise_cells(cells, ("policy",), names)
    _add_comparison_figures(report, summary, pooled, policies)
    _add_failures(report, folder)
    return report


def _add_statistic_tables(
    report: Report, cells: pd.DataFrame, keys: list[str], names: list[str], rows: str
) -> None:
    """Add the request statistics and the server statistics, each per group with CIs."""
    table = comparison_table(cells, keys, [*names, *servers.SERVER_STATISTICS])
    report.table(f"Statistics per {rows}", _ci_display(table, keys, names))
    report.table(
        f"Server statistics per {rows} (means over servers, then over seeds)",
        _ci_display(table, keys, servers.SERVER_STATISTICS),
    )


def _add_comparison_figures(
    report: Report, summary: pd.DataFrame, pooled: dict[str, np.ndarray], policies: list[str]
) -> None:
    """Add the latency CDF, statistic bars and outcome bars of a comparison."""
    cdfs = {p: stats.ecdf(pooled[p], "latency_s") for p in policies}
    report.figure(
        "latency-cdf",
        "Latency CDF of completed requests per policy, seeds pooled",
        figures.latency_cdf_figure(cdfs),
    )
    bars = [s for s in BAR_STATISTICS if s in set(summary["statistic"])]
    report.figure(
        "statistics",
        "Mean utility, energy per request and quality per policy with 95% CIs",
        figures.statistic_bars_figure(summary, bars),
    )
    means = summary[summary["statistic"].str.endswith("_fraction")]
    fractions = means.pivot(index="policy", columns="statistic", values="mean")
    fractions = fractions.reindex(policies)
    fractions.columns = [c.removesuffix("_fraction") for c in fractions.columns]
    order = [o for o in stats.OUTCOMES if o in fractions.columns]
    report.figure(
        "outcomes",
        "Mean fraction of requests by outcome per policy",
        figures.outcomes_figure(fractions[order]),
    )


def build_sweep_report(folder: Path) -> Report:
    """Build the report of a sweep folder: statistics against each varied parameter."""
    report = Report(f"edgesim sweep: {folder.name}")
    cells, _, policies = _gather_cells(folder)
    if cells.empty:
        return _empty_report(report, folder)
    parameters = {
        key: [stats.hashable_value(value) for value in values]
        for key, values in sweep_parameters(folder).items()
    }
    names = _statistic_names(cells)
    keys = ["setting", *[k for k in parameters if k in cells], "policy"]
    varied = ", ".join(f"{k} in {v}" for k, v in parameters.items())
    report.paragraph(
        f"Varied {varied or 'nothing'}; policies {', '.join(policies)}. Cells show the mean "
        "over seeds and its 95% percentile-bootstrap confidence interval."
    )
    _add_statistic_tables(report, cells, keys, names, "setting and policy")
    summary = summarise_cells(cells, keys, names)
    plotted = [s for s in KEY_STATISTICS[:6] if s in names]
    for index, parameter in enumerate(k for k in parameters if k in cells):
        others = [k for k in parameters if k in cells and k != parameter]
        lines = summary.assign(line=_line_labels(summary, others))
        report.figure(
            f"sweep-{index}",
            f"Statistics against {parameter}, one line per policy, 95% CI bands",
            figures.sweep_figure(lines, parameter, plotted, by="line", order=parameters[parameter]),
        )
    _add_failures(report, folder)
    return report


def _line_labels(summary: pd.DataFrame, others: Sequence[str]) -> list[str]:
    """Label each sweep line by its policy and the values of the other varied keys."""
    labels = []
    for _, row in summary.iterrows():
        extra = ", ".join(f"{k}={row[k]}" for k in others)
        labels.append(f"{row['policy']} ({extra})" if extra else str(row["policy"]))
    return labels


def build_training_report(folder: Path) -> Report:
    """Build the report of a training folder or a folder of several training folders."""
    progress = training_progress(folder)
    report = Report(f"edgesim training: {folder.name}")
    runs = progress.groupby("algo", sort=False)["run"].nunique()
    report.paragraph(
        "Training runs per algorithm: "
        + ", ".join(f"{algo} ({count})" for algo, count in runs.items())
        + ". Bands are 95% bootstrap CIs of the mean over runs."
    )
    metrics = [m for m in figures.LEARNING_METRICS if m in progress]
    table = comparison_table(last_logged_values(progress, metrics), ("algo",), metrics)
    report.table(
        "Last logged value per algorithm (each run's last non-empty value; mean over runs, "
        "95% CI; seeds counts runs)",
        _ci_display(table, ["algo"], metrics),
    )
    report.figure(
        "learning-curves",
        "Learning curves per algorithm with bands over seeds",
        figures.learning_curves_figure(progress, metrics),
    )
    return report


BUILDERS: dict[str, Callable[[Path], Report]] = {
    "run": build_run_report,
    "compare": build_compare_report,
    "sweep": build_sweep_report,
    "training": build_training_report,
    "training-group": build_training_report,
}
