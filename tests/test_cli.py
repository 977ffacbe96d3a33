"""The command line: run, validate, overrides and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import ROOT

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


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.err.startswith("edgesim: error:") and captured.err.count("\n") == 1
    return captured.err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["run"], "the following arguments are required: scenario"),
        (["validate"], "the following arguments are required: scenario"),
        (["run", "SMALL", "--seed", "abc"], "argument --seed: expected a non-negative integer"),
        (["run", "SMALL", "--seed", "-1"], "argument --seed: expected a non-negative integer"),
        (["run", "SMALL", "--colour", "red"], "unrecognized arguments: --colour red"),
        (["simulate", "SMALL"], "argument command: invalid choice: 'simulate'"),
        ([], "the following arguments are required: command"),
    ],
)
def test_argument_errors_are_one_line_with_exit_code_2(scenarios_dir, capsys, arguments, message):
    small = str(scenarios_dir / "small.yaml")
    code = main([small if argument == "SMALL" else argument for argument in arguments])
    assert code == 2
    assert message in _one_line_error(capsys)


def test_help_still_prints_usage_and_exits_0(capsys):
    assert main(["run", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: edgesim run")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_validate_and_run_agree_on_a_missing_checkpoint(
    tmp_path, scenarios_dir, capsys, monkeypatch, command
):
    monkeypatch.chdir(tmp_path)
    arguments = [command, str(scenarios_dir / "small.yaml"), "--set", "scheduler.policy=gone.pt"]
    assert main(arguments) == 2
    assert "scheduler.policy: no such checkpoint: gone.pt" in _one_line_error(capsys)
    assert not (tmp_path / "runs").exists()


def test_run_names_the_policy_option_for_a_missing_checkpoint(tmp_path, scenarios_dir, capsys):
    out = tmp_path / "run"
    code = main(
        ["run", str(scenarios_dir / "small.yaml"), "--policy", "gone.pt", "--out", str(out)]
    )
    assert code == 2
    assert "--policy: no such checkpoint: gone.pt" in _one_line_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_validate_and_run_agree_on_a_trace_without_the_time_column(tmp_path, capsys, command):
    (tmp_path / "arrivals.csv").write_text("when,tokens\n1,2\n")
    scenario = tmp_path / "replay.yaml"
    scenario.write_text(
        "devices:\n  arrival:\n    process: trace\n    trace: {path: arrivals.csv}\n"
    )
    extra = ["--out", str(tmp_path / "run")] if command == "run" else []
    assert main([command, str(scenario), *extra]) == 2
    error = _one_line_error(capsys)
    assert "devices.arrival.trace.time_column:" in error and "'TIMESTAMP'" in error


def test_out_below_a_file_is_refused_before_simulating(
    tmp_path, scenarios_dir, capsys, monkeypatch
):
    from edgesim.sim.simulation import Simulation

    def never(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(Simulation, "run", never)
    (tmp_path / "plain").write_text("")
    code = main(["run", str(scenarios_dir / "small.yaml"), "--out", str(tmp_path / "plain" / "y")])
    assert code == 2
    assert "plain is a file, not a folder" in _one_line_error(capsys)


def test_out_naming_an_existing_file_is_refused_and_the_file_kept(tmp_path, scenarios_dir, capsys):
    target = tmp_path / "results.csv"
    target.write_text("precious")
    code = main(["run", str(scenarios_dir / "small.yaml"), "--out", str(target)])
    assert code == 2
    assert "exists and is not a run folder" in _one_line_error(capsys)
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_out_naming_an_earlier_run_folder_replaces_it(tmp_path, scenarios_dir, capsys):
    out = tmp_path / "run"
    arguments = [
        "run",
        str(scenarios_dir / "small.yaml"),
        "--out",
        str(out),
        "--set",
        "duration_s=60",
    ]
    assert main([*arguments, "--seed", "1"]) == 0
    assert main([*arguments, "--seed", "2"]) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def _edgesim(arguments: list[str], tmp_path) -> subprocess.Popen:
    """Start ``edgesim`` in a child process with pipes and its own temporary folder."""
    staging_root = tmp_path / "tmp"
    staging_root.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(staging_root)}
    command = [sys.executable, "-m", "edgesim.cli", *arguments]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )


def test_run_in_a_pipe_shows_no_progress_bar(tmp_path, scenarios_dir):
    out = tmp_path / "run"
    child = _edgesim(
        ["run", str(scenarios_dir / "small.yaml"), "--set", "duration_s=300", "--out", str(out)],
        tmp_path,
    )
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0
    assert stderr == ""
    assert stdout.startswith(f"{out}: ") and stdout.count("\n") == 1


def test_sigterm_exits_143_and_removes_the_staging_folder(tmp_path, scenarios_dir):
    out = tmp_path / "run"
    scenario = str(scenarios_dir / "default.yaml")
    child = _edgesim(["run", scenario, "--set", "duration_s=1e7", "--out", str(out)], tmp_path)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "tmp").glob("edgesim-run-*")):
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 143
    assert stderr == "edgesim: terminated\n"
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not out.exists()
