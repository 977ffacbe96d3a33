"""The paper's experiments command on tiny plans: training, sweeps, tables, reports, reruns."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from analysis import paper
from analysis.synthetic import write_training
from edgesim.policies import REFERENCE_POLICIES
from edgesim.rl.train import ALGOS
from edgesim.runner import TrainingCell, training_is_complete
from edgesim.scenario import ScenarioError, load_scenario

SMALL = paper.DEFAULT_PLAN.parents[1] / "small.yaml"
LEARNED = ("hsac-ic", "dqn")

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

TRAINING_PLAN = """
seeds: 2
training:
  scenario: {scenario}
  algos: [hsac-ic, dqn]
  steps: 5000
  seeds: [1, 2]
  policy_seed: 1
quick:
  seeds: 1
  duration_s: 40
  training: {{steps: 300, seeds: [1]}}
sweeps:
  devices:
    scenario: {scenario}
    vary: {{devices.count: [2, 4]}}
"""


def write_plan(folder: Path, text: str) -> Path:
    """Write a plan over the small scenario into ``folder``; return its path."""
    path = folder / "plan.yaml"
    path.write_text(text.format(scenario=SMALL), encoding="utf-8")
    return path


def read_record(out: Path) -> dict:
    return json.loads((out / "paper.json").read_text(encoding="utf-8"))


def quick_arguments(out: Path, plan: Path) -> list[str]:
    return ["--out", str(out), "--plan", str(plan), "--quick", "--workers", "1"]


@pytest.fixture
def tiny_plan(tmp_path):
    return write_plan(tmp_path, TINY_PLAN)


@pytest.fixture(scope="module")
def training_plan(tmp_path_factory):
    return write_plan(tmp_path_factory.mktemp("plan"), TRAINING_PLAN)


@pytest.fixture(scope="module")
def trained(training_plan, tmp_path_factory):
    """The quick mode of the training plan, run once: 300 steps of hsac-ic and dqn, then the
    sweep with the reference policies and both learned ones."""
    out = tmp_path_factory.mktemp("paper")
    code = paper.main(quick_arguments(out, training_plan))
    return out, code


def test_load_plan_quick_mode_takes_its_seeds_and_duration(tiny_plan):
    plan = paper.load_plan(tiny_plan, quick=True)
    assert [s.name for s in plan.sweeps] == ["devices"]
    assert plan.sweeps[0].vary == {"devices.count": [2, 4]}
    assert (plan.seeds, plan.overrides, plan.training) == (1, {"duration_s": 40}, None)
    full = paper.load_plan(tiny_plan, quick=False)
    assert (full.seeds, full.overrides) == (2, {})


def test_load_plan_quick_mode_overrides_only_the_training_keys_it_names(training_plan):
    quick = paper.load_plan(training_plan, quick=True).training
    full = paper.load_plan(training_plan, quick=False).training
    assert (quick.steps, quick.seeds, quick.policy_seed) == (300, (1,), 1)
    assert (full.steps, full.seeds) == (5000, (1, 2))
    assert quick.algos == full.algos == LEARNED
    assert quick.runs() == [("hsac-ic", 1), ("dqn", 1)]


def test_shipped_plan_trains_every_algo_on_the_default_scenario():
    plan = paper.load_plan(paper.DEFAULT_PLAN, quick=False)
    assert {s.name for s in plan.sweeps} == {"devices", "arrival-rate", "latency-limit", "gpu-cap"}
    assert plan.seeds >= 3
    assert all(s.scenario.is_file() for s in plan.sweeps)
    training = plan.training
    assert training.scenario.resolve() == SMALL.parent / "default.yaml"
    assert set(training.algos) == set(ALGOS)
    assert (training.steps, training.seeds, training.policy_seed) == (50_000, (1, 2, 3), 1)
    quick = paper.load_plan(paper.DEFAULT_PLAN, quick=True).training
    assert quick.steps <= 2_000 and len(quick.seeds) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("algos: [hsac-ic, a2c]", "unknown algo 'a2c'"),
        ("policy_seed: 7", "policy_seed 7 not in seeds"),
        ("steps: 0", "steps must be at least 1"),
    ],
)
def test_plan_with_a_training_that_cannot_run_is_refused(tmp_path, change, message):
    key = change.split(":")[0]
    lines = [
        f"  {change}" if line.startswith(f"  {key}:") else line
        for line in TRAINING_PLAN.splitlines()
    ]
    plan = write_plan(tmp_path, "\n".join(lines))
    with pytest.raises(ScenarioError, match=message):
        paper.load_plan(plan, quick=False)


def test_paper_trains_each_algo_and_seed_into_its_own_folder(trained):
    out, code = trained
    assert code == 0
    for algo in LEARNED:
        folder = out / "training" / f"{algo}-seed1"
        assert (folder / "policy.pt").is_file()
        info = json.loads((folder / "train.json").read_text(encoding="utf-8"))
        assert (info["algo"], info["steps"], info["seed"]) == (algo, 300, 1)
        assert info["scenario"]["duration_s"] == 40
    runs = read_record(out)["training"]["runs"]
    assert {name: run["status"] for name, run in runs.items()} == {
        "hsac-ic-seed1": "trained",
        "dqn-seed1": "trained",
    }


def test_sweep_table_has_a_row_per_setting_for_every_policy_labelled_by_algorithm(trained):
    out, _ = trained
    table = pd.read_csv(out / "devices" / "table.csv")
    assert set(table["policy"]) == {*REFERENCE_POLICIES, *LEARNED}
    assert len(table) == 2 * (len(REFERENCE_POLICIES) + len(LEARNED))
    assert (out / "devices" / "report.html").is_file()
    record = read_record(out)
    assert record["policies"]["hsac-ic"] == str(out / "policies" / "hsac-ic" / "policy.pt")
    assert record["finished"] is True and record["problems"] == []


def test_learning_report_of_the_trainings_names_every_algorithm(trained):
    out, _ = trained
    learning = (out / "learning" / "report.md").read_text(encoding="utf-8")
    assert "hsac-ic (1)" in learning and "dqn (1)" in learning
    assert (out / "learning" / "report.html").is_file()


def test_rerun_skips_complete_trainings_and_cells(trained, training_plan):
    out, _ = trained
    policies = sorted(out.glob("training/*/policy.pt")) + sorted(out.glob("policies/*/policy.pt"))
    summaries = sorted(out.glob("devices/cells/**/summary.json"))
    before = [path.stat().st_mtime_ns for path in policies + summaries]
    assert paper.main(quick_arguments(out, training_plan)) == 0
    assert [path.stat().st_mtime_ns for path in policies + summaries] == before
    runs = read_record(out)["training"]["runs"]
    assert {run["status"] for run in runs.values()} == {"skipped"}


def test_training_with_other_steps_in_its_folder_is_not_complete(trained):
    out, _ = trained
    folder = out / "training" / "dqn-seed1"
    scenario = load_scenario(SMALL, {"duration_s": 40})
    cell = TrainingCell(scenario.to_dict(), "dqn", 300, 1, str(folder), scenario.base_dir)
    assert training_is_complete(cell)
    assert not training_is_complete(replace(cell, steps=301))
    assert not training_is_complete(replace(cell, seed=2))


def test_failed_training_is_reported_and_the_sweeps_run_without_it(
    trained, training_plan, tmp_path, capsys
):
    out = tmp_path / "paper"
    shutil.copytree(trained[0] / "training" / "hsac-ic-seed1", out / "training" / "hsac-ic-seed1")
    (out / "training" / "dqn-seed1").write_text("not a folder", encoding="utf-8")
    code = paper.main(quick_arguments(out, training_plan))
    assert code == 1
    assert "paper: error: training dqn-seed1: FileExistsError" in capsys.readouterr().err
    table = pd.read_csv(out / "devices" / "table.csv")
    assert set(table["policy"]) == {*REFERENCE_POLICIES, "hsac-ic"}
    record = read_record(out)
    assert record["training"]["runs"]["dqn-seed1"]["status"] == "failed"
    assert record["training"]["runs"]["hsac-ic-seed1"]["status"] == "skipped"
    assert "dqn" not in record["policies"] and record["finished"] is True
    assert "hsac-ic (1)" in (out / "learning" / "report.md").read_text(encoding="utf-8")


def test_given_training_folder_replaces_training_and_feeds_the_sweeps(
    trained, training_plan, tmp_path
):
    out = tmp_path / "paper"
    given = trained[0] / "training"
    code = paper.main([*quick_arguments(out, training_plan), "--training", str(given)])
    assert code == 0
    assert not (out / "training").exists()
    table = pd.read_csv(out / "devices" / "table.csv")
    assert {"hsac-ic", "dqn"} <= set(table["policy"])
    assert read_record(out)["training"]["mode"] == "given"


def test_extra_checkpoint_in_a_folder_named_like_a_trained_algo_is_refused(
    training_plan, tmp_path, capsys
):
    checkpoint = tmp_path / "elsewhere" / "hsac-ic" / "policy.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"")
    out = tmp_path / "paper"
    code = paper.main([*quick_arguments(out, training_plan), "--policies", str(checkpoint)])
    assert code == 2
    assert "label already taken" in capsys.readouterr().err
    assert not out.exists()


def test_paper_without_training_runs_every_reference_policy_with_given_curves(
    tmp_path, training_plan
):
    training = tmp_path / "training"
    for algo in ("hsac-ic", "ppo"):
        write_training(training / algo, algo, 0)
    out = tmp_path / "paper"
    arguments = [*quick_arguments(out, training_plan), "--no-train", "--training", str(training)]
    assert paper.main(arguments) == 0
    table = pd.read_csv(out / "devices" / "table.csv")
    assert set(table["policy"]) == set(REFERENCE_POLICIES)
    assert len(table) == 2 * len(REFERENCE_POLICIES)
    learning = (out / "learning" / "report.md").read_text(encoding="utf-8")
    assert "hsac-ic" in learning and "ppo" in learning
    record = read_record(out)
    assert record["quick"] is True and record["seeds"] == 1
    assert record["training"]["folder"] == str(training.resolve())
    assert not (out / "training").exists() and not (out / "policies").exists()


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
