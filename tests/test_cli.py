"""The command line: run, validate, overrides and one-line errors with exit code 2."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from edgesim.cli import main


def test_run_writes_a_run_folder(tmp_path, scenarios_dir, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            str(scenarios_dir / "small.yaml"),
            "--seed",
            "3",
            "--out",
            str(out),
            "--set",
            "duration_s=120",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["scenario"]["duration_s"] == 120
    assert summary["requests"] == len(pd.read_parquet(out / "requests.parquet"))
    assert str(out) in capsys.readouterr().out


def test_validate_accepts_a_good_scenario(scenarios_dir, capsys):
    assert main(["validate", str(scenarios_dir / "default.yaml")]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--set", "devices.count=-1"], "devices.count:"),
        (["--set", "devices.size=3"], "devices.size: unknown key"),
        (["--set", "devices.deadline_s=[9, 1]"], "devices.deadline_s: low end 9 exceeds"),
        (["--set", "scheduler.policy=oracle"], "scheduler.policy: unknown policy"),
        (["--set", "nokey"], "expected KEY=VALUE"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(scenarios_dir, capsys, arguments, message):
    code = main(["validate", str(scenarios_dir / "small.yaml"), *arguments])
    error = capsys.readouterr().err
    assert code == 2
    assert message in error
    assert error.count("\n") == 1 and error.startswith("edgesim: error:")


def test_missing_scenario_file_is_exit_code_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "none.yaml")]) == 2
    assert "no such scenario file" in capsys.readouterr().err


def test_unknown_run_policy_is_exit_code_2_and_writes_nothing(tmp_path, scenarios_dir, capsys):
    out = tmp_path / "run"
    code = main(["run", str(scenarios_dir / "small.yaml"), "--policy", "nope", "--out", str(out)])
    assert code == 2
    assert "unknown policy" in capsys.readouterr().err
    assert not out.exists()


def test_missing_trace_file_is_exit_code_2(tmp_path, scenarios_dir, capsys):
    scenario = tmp_path / "trace.yaml"
    shutil.copy(scenarios_dir / "trace.yaml", scenario)
    assert main(["validate", str(scenario)]) == 2
    assert "devices.arrival.trace.path: no such file" in capsys.readouterr().err


def test_malformed_vary_is_exit_code_2(scenarios_dir, tmp_path, capsys):
    code = main(
        [
            "sweep",
            str(scenarios_dir / "small.yaml"),
            "--vary",
            "devices.count",
            "--policies",
            "greedy",
            "--out",
            str(tmp_path / "sweep"),
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.startswith("edgesim: error:")
    assert not (tmp_path / "sweep").exists()


def test_report_of_a_folder_that_is_no_run_is_exit_code_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("edgesim: error:") and error.count("\n") == 1
