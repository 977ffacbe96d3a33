"""Pooling a comparison's checkpoints by algorithm."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.learning import algorithm_figure, algorithm_of, algorithm_table, markdown_table
from analysis.runs import load_run
from analysis.stats import run_statistics
from analysis.synthetic import write_random_run


def fake_checkpoint(folder, algo):
    folder.mkdir(parents=True)
    (folder / "policy.pt").write_bytes(b"")
    (folder / "train.json").write_text(json.dumps({"algo": algo, "seed": 1}))
    return folder / "policy.pt"


def test_checkpoints_of_one_algorithm_are_pooled(tmp_path):
    checkpoints = [fake_checkpoint(tmp_path / f"sac-seed{i}", "sac") for i in (1, 2)]
    compare = tmp_path / "compare"
    labels = {
        "greedy": "greedy",
        "sac-seed1": str(checkpoints[0]),
        "sac-seed2": str(checkpoints[1]),
    }
    for label, policy in labels.items():
        for seed in (1, 2, 3):
            write_random_run(compare / "cells" / label / f"seed-{seed}", seed, policy)
    (compare / "compare.json").write_text(
        json.dumps({"policies": list(labels), "seeds": [1, 2, 3]})
    )

    table = algorithm_table(compare).set_index("algorithm")
    assert set(table.index) == {"greedy", "sac"}
    assert table.loc["sac", "cells"] == 6 and table.loc["greedy", "cells"] == 3
    utilities = [
        run_statistics(load_run(compare / "cells" / label / f"seed-{seed}"))["mean_utility"]
        for label in ("sac-seed1", "sac-seed2")
        for seed in (1, 2, 3)
    ]
    assert np.isclose(table.loc["sac", "mean_utility_mean"], np.mean(utilities))
    low, high = table.loc["sac", ["mean_utility_ci_low", "mean_utility_ci_high"]]
    assert low <= np.mean(utilities) <= high
    assert "| sac | 6 |" in markdown_table(table.reset_index(), ["mean_utility"])


def test_algorithm_energy_is_the_common_total_energy_per_request(tmp_path):
    compare = tmp_path / "compare"
    for seed in (1, 2):
        write_random_run(compare / "cells" / "greedy" / f"seed-{seed}", seed, "greedy")
    (compare / "compare.json").write_text(json.dumps({"policies": ["greedy"], "seeds": [1, 2]}))
    table = algorithm_table(compare).set_index("algorithm")
    totals = [
        run_statistics(load_run(compare / "cells" / "greedy" / f"seed-{seed}")) for seed in (1, 2)
    ]
    expected = np.mean([t["energy_total_per_request_j"] for t in totals])
    assert table.loc["greedy", "energy_total_per_request_j_mean"] == pytest.approx(expected)
    assert "energy_per_request_j_mean" not in table
    dynamic = [
        sum(t[f"energy_{part}_per_request_j"] for part in ("tx", "cpu", "gpu")) for t in totals
    ]
    assert expected > np.mean(dynamic)


def test_algorithm_of_a_reference_name_is_the_name(tmp_path):
    assert algorithm_of("greedy") == "greedy"
    assert algorithm_of(str(fake_checkpoint(tmp_path / "x", "ppo"))) == "ppo"


def test_algorithm_figure_puts_the_best_mean_utility_first(tmp_path):
    checkpoint = fake_checkpoint(tmp_path / "sac-seed1", "sac")
    compare = tmp_path / "compare"
    labels = {"greedy": "greedy", "random": "random", "sac-seed1": str(checkpoint)}
    for label, policy in labels.items():
        for seed in (1, 2):
            write_random_run(compare / "cells" / label / f"seed-{seed}", seed + len(label), policy)
    (compare / "compare.json").write_text(json.dumps({"policies": list(labels), "seeds": [1, 2]}))

    figure = algorithm_figure(compare)
    utility_axes = figure.axes[0]
    order = [tick.get_text() for tick in utility_axes.get_xticklabels()]
    table = algorithm_table(compare).set_index("algorithm")["mean_utility_mean"]
    assert order == list(table.sort_values(ascending=False).index)
    heights = [bar.get_height() for bar in utility_axes.patches]
    assert heights == pytest.approx(sorted(heights, reverse=True))
    assert len(figure.axes) == 3
