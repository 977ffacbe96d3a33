"""The contention-free bound of a run: no policy beats it for any request."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import make_scenario

from edgesim import Simulation
from edgesim.bound import contention_free_bound, summarise_bound


@pytest.mark.parametrize(
    ("policy", "dvfs"),
    [
        ("greedy", "energy"),
        ("round-robin", "energy"),
        ("random", "energy"),
        ("gpu-max", "energy"),
        ("greedy", "max"),
        ("round-robin", "deadline"),
    ],
)
def test_no_policy_beats_the_bound_request_by_request(policy, dvfs):
    scenario = make_scenario(
        duration_s=900, devices={"count": 12}, scheduler={"dvfs": dvfs, "epoch_s": 0.5}
    )
    bound = contention_free_bound(scenario, seed=2).set_index("request_id")["utility"]
    requests = Simulation(scenario, policy=policy, seed=2).run().requests
    ended = requests[requests["outcome"] != "pending"].set_index("request_id")

    assert len(ended) > 100
    realised = ended["utility"]
    # 1e-7: the bound's golden-section searches (tests/test_model_bound.py).
    assert (realised <= bound.loc[realised.index] + 1e-7).all()
    assert realised.mean() < bound.loc[realised.index].mean()


def test_bound_summary_counts_infeasible_requests_at_the_failure_penalty():
    scenario = make_scenario(duration_s=600, devices={"count": 6, "deadline_s": [0.5, 3.0]})
    bound = contention_free_bound(scenario, seed=1)
    summary = summarise_bound(bound)
    infeasible = bound[~bound["feasible"]]

    assert 0 < len(infeasible) < len(bound)
    assert (infeasible["utility"] == -scenario.utility.fail_penalty).all()
    assert summary["feasible_ratio"] == pytest.approx(bound["feasible"].mean())
    assert summary["mean_utility"] == pytest.approx(bound["utility"].mean())


def test_bound_command_writes_one_row_per_seed_and_refuses_a_bad_scenario(tmp_path, capsys):
    from analysis.bound import main

    out = tmp_path / "bound.csv"
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text("duration_s: 300\ndevices: {count: 4}\nseed: 7\n", encoding="utf-8")
    assert main([str(scenario), "--seeds", "2", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["seed"].tolist() == [7, 8]
    direct = summarise_bound(
        contention_free_bound(make_scenario(duration_s=300, devices={"count": 4}), 8)
    )
    assert table["mean_utility"].iloc[1] == pytest.approx(direct["mean_utility"], rel=1e-12)
    assert "| mean_utility |" in capsys.readouterr().out

    assert main([str(tmp_path / "missing.yaml")]) == 2
    assert main([str(scenario), "--seeds", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 2
