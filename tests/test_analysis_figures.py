"""Each figure has the panels and lines its data calls for."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from analysis import figures, servers, stats
from analysis.bootstrap import summarise_cells
from analysis.runs import load_run, training_progress
from analysis.synthetic import write_random_run, write_training


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return load_run(write_random_run(tmp_path_factory.mktemp("run") / "r", seed=2))


def summary_of_three_policies() -> pd.DataFrame:
    cells = pd.DataFrame(
        {
            "policy": ["a", "a", "b", "b", "c", "c"],
            "seed": [0, 1, 0, 1, 0, 1],
            "rate": [1, 1, 1, 1, 1, 1],
            "mean_utility": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "mean_quality": [0.5, 0.6, 0.7, 0.8, 0.7, 0.9],
        }
    )
    return summarise_cells(cells, ("policy",), ["mean_utility", "mean_quality"])


def test_figures_use_the_agg_canvas(run):
    figure = figures.latency_cdf_figure({"x": stats.latency_cdf(run.requests)})
    assert isinstance(figure.canvas, FigureCanvasAgg)


def test_latency_cdf_draws_one_line_per_policy(run):
    cdf = stats.latency_cdf(run.requests)
    figure = figures.latency_cdf_figure({"a": cdf, "b": cdf, "c": cdf})
    assert len(figure.axes) == 1
    assert len(figure.axes[0].get_lines()) == 3


def test_waiting_time_cdf_draws_one_step_line_per_server_ending_at_one(run):
    waits = servers.waiting_times_by_server(run.requests)
    cdfs = {f"server {s}": stats.ecdf(w, "waiting_s") for s, w in waits.items()}
    figure = figures.waiting_time_cdf_figure(cdfs)
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["server 0", "server 1"]
    assert all(line.get_ydata()[-1] == 1.0 for line in lines)
    assert list(lines[1].get_xdata()) == sorted(waits[1])


def test_queue_figure_draws_at_most_the_documented_number_of_servers(tmp_path):
    many = load_run(write_random_run(tmp_path / "many", seed=1, duration_s=30.0, server_count=11))
    figure = figures.queue_length_figure(many.servers, many.simulated_s, bins=10)
    assert len(figure.axes) == figures.QUEUE_FIGURE_MAX_SERVERS == 8
    assert figure.axes[-1].get_title() == "server 7"


def test_statistic_bars_have_one_panel_per_statistic_and_one_bar_per_policy():
    figure = figures.statistic_bars_figure(
        summary_of_three_policies(), ["mean_utility", "mean_quality"]
    )
    assert len(figure.axes) == 2
    assert all(len(ax.patches) == 3 for ax in figure.axes)


def test_outcome_bars_stack_one_layer_per_outcome():
    fractions = pd.DataFrame(
        {"completed": [0.7, 0.5], "missed": [0.2, 0.3], "dropped": [0.1, 0.2]}, index=["a", "b"]
    )
    figure = figures.outcomes_figure(fractions)
    assert len(figure.axes[0].containers) == 3
    assert len(figure.axes[0].patches) == 6


def test_queue_figure_has_a_panel_per_server_with_cpu_and_gpu_lines(run):
    figure = figures.queue_length_figure(run.servers, run.simulated_s, bins=50)
    assert len(figure.axes) == 2
    assert all(len(ax.get_lines()) == 2 for ax in figure.axes)
    assert len(figure.axes[0].get_lines()[0].get_xdata()) == 50


def test_utilisation_figure_has_two_bars_per_server(run):
    usage = servers.utilisation(run.servers, run.simulated_s, 2)
    assert len(figures.utilisation_figure(usage).axes[0].patches) == 4


def test_sweep_figure_draws_a_line_and_band_per_policy():
    rows = []
    for rate in (0.2, 0.4, 0.8):
        part = summary_of_three_policies().assign(rate=rate)
        rows.append(part)
    figure = figures.sweep_figure(pd.concat(rows), "rate", ["mean_utility", "mean_quality"])
    assert len(figure.axes) == 2
    ax = figure.axes[0]
    assert len(ax.get_lines()) == 3
    assert len(ax.collections) == 3
    assert list(ax.get_lines()[0].get_xdata()) == [0.2, 0.4, 0.8]


def test_sweep_figure_places_text_values_in_order():
    part = [summary_of_three_policies().assign(dvfs=v) for v in ("max", "energy")]
    figure = figures.sweep_figure(
        pd.concat(part), "dvfs", ["mean_utility"], order=["max", "energy"]
    )
    labels = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert labels == ["max", "energy"]


def test_learning_curves_have_a_line_per_algo_and_bands_over_seeds(tmp_path):
    for algo in ("hsac-ic", "ppo"):
        for seed in (0, 1, 2):
            write_training(tmp_path / f"{algo}-{seed}", algo, seed, steps=20)
    progress = training_progress(tmp_path)
    figure = figures.learning_curves_figure(progress, points=30)
    assert len(figure.axes) == 3
    assert all(len(ax.get_lines()) == 2 for ax in figure.axes)
    assert all(len(ax.collections) == 2 for ax in figure.axes)
    assert len(figure.axes[0].get_lines()[0].get_xdata()) == 30
