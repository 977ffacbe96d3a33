"""The paper's experiments command on a tiny plan: sweeps, tables, reports, learning curves."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis import paper
from analysis.synthetic import write_training
from edgesim.policies import REFERENCE_POLICIES

TINY_PLAN = """
seeds: 2
quick:
  seeds: 1
  duration_s: 40
sweeps:
  devices:
    scenario: {scenario}
    vary: {{devices.count: [2, 4]}}
"""


@pytest.fixture
def tiny_plan(tmp_path, scenarios_dir):
    path = tmp_path / "plan.yaml"
    path.write_text(TINY_PLAN.format(scenario=scenarios_dir / "small.yaml"), encoding="utf-8")
    return path


def test_load_plan_quick_mode_takes_its_seeds_and_duration(tiny_plan):
    sweeps, seeds, overrides = paper.load_plan(tiny_plan, quick=True)
    assert [s.name for s in sweeps] == ["devices"]
    assert sweeps[0].vary == {"devices.count": [2, 4]}
    assert (seeds, overrides) == (1, {"duration_s": 40})
    assert paper.load_plan(tiny_plan, quick=False)[1:] == (2, {})


def test_shipped_plan_loads_and_names_existing_scenarios():
    sweeps, seeds, _ = paper.load_plan(paper.DEFAULT_PLAN, quick=False)
    assert {s.name for s in sweeps} == {"devices", "arrival-rate", "latency-limit", "gpu-cap"}
    assert seeds >= 3
    assert all(s.scenario.is_file() for s in sweeps)


def test_paper_runs_every_policy_and_setting_with_learning_curves(tmp_path, tiny_plan):
    training = tmp_path / "training"
    for algo in ("hsac-ic", "ppo"):
        write_training(training / algo, algo, 0)
    out = tmp_path / "paper"
    arguments = ["--out", str(out), "--plan", str(tiny_plan), "--quick", "--workers", "1"]
    code = paper.main([*arguments, "--training", str(training)])
    assert code == 0
    table = pd.read_csv(out / "devices" / "table.csv")
    assert set(table["policy"]) == set(REFERENCE_POLICIES)
    assert len(table) == 2 * len(REFERENCE_POLICIES)
    assert (out / "devices" / "report.html").is_file()
    learning = (out / "learning" / "report.md").read_text(encoding="utf-8")
    assert "hsac-ic" in learning and "ppo" in learning
    record = json.loads((out / "paper.json").read_text(encoding="utf-8"))
    assert record["quick"] is True and record["seeds"] == 1
    assert record["training"].endswith("training")


def test_paper_rejects_a_folder_without_training_runs_before_running(tmp_path, tiny_plan, capsys):
    out = tmp_path / "paper"
    code = paper.main(
        ["--out", str(out), "--plan", str(tiny_plan), "--quick", "--training", str(tmp_path)]
    )
    assert code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("paper: error: --training") and "\n" not in message
    assert not out.exists()


def test_paper_rejects_a_missing_plan_in_one_line(tmp_path, capsys):
    code = paper.main(["--out", str(tmp_path / "out"), "--plan", str(tmp_path / "nope.yaml")])
    assert code == 2
    assert "no such plan file" in capsys.readouterr().err
