"""Comparisons and sweeps: cell layout, tables, reruns, failures, Dask and the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis.experiments import (
    CellsFailedError,
    ExperimentInputError,
    parse_vary,
    policy_label,
    run_compare,
    run_sweep,
)
from analysis.report import write_report
from analysis.runs import detect_kind, list_cells, load_run
from analysis.servers import SERVER_STATISTICS, server_run_statistics
from edgesim.cli import _policy_label, main
from edgesim.runner import Cell, cell_is_complete, run_cell
from edgesim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "scenarios" / "small.yaml"
DASK = Path(sys.executable).parent / "dask"
POLICIES = ["greedy", "random"]
SHORT = {"duration_s": 60}


@pytest.fixture(scope="module")
def scenario():
    """The small scenario cut to one simulated minute, so a cell runs in well under a second."""
    return load_scenario(SMALL, SHORT)


@pytest.fixture(scope="module")
def compared(scenario, tmp_path_factory):
    """A comparison of two policies over two seeds, run in two local worker processes."""
    out = tmp_path_factory.mktemp("compare")
    table_path = run_compare(scenario, POLICIES, 2, out, workers=2)
    return out, table_path


def summary_times(folder: Path) -> dict[str, float]:
    """Map each cell's path below ``cells/`` to its summary.json modification time."""
    return {
        str(p.parent.relative_to(folder)): p.stat().st_mtime_ns
        for p in sorted(folder.glob("cells/**/summary.json"))
    }


def test_compare_writes_one_run_folder_per_policy_and_seed(compared):
    out, _ = compared
    cells = list_cells(out)
    assert detect_kind(out) == "compare"
    assert sorted((c.policy, c.seed) for c in cells) == [
        ("greedy", 1),
        ("greedy", 2),
        ("random", 1),
        ("random", 2),
    ]
    info = json.loads((out / "compare.json").read_text())
    assert info["policies"] == POLICIES
    assert info["seeds"] == [1, 2]
    assert info["scenario"]["duration_s"] == 60


def test_compare_table_has_a_row_per_policy_with_every_statistic_and_interval(compared):
    from analysis.runs import load_run
    from analysis.stats import run_statistics

    out, table_path = compared
    table = pd.read_csv(table_path)
    assert table_path == out / "table.csv"
    assert list(table["policy"]) == POLICIES
    assert list(table["seeds"]) == [2, 2]
    names = run_statistics(load_run(list_cells(out)[0].path))
    for name in names:
        for part in ("mean", "ci_low", "ci_high"):
            assert f"{name}_{part}" in table.columns
    low, mean, high = table.loc[0, ["requests_ci_low", "requests_mean", "requests_ci_high"]]
    assert low <= mean <= high
    assert not (out / "failures.json").exists()


def test_compare_table_mean_is_the_mean_over_seeds(compared):
    out, table_path = compared
    table = pd.read_csv(table_path).set_index("policy")
    counts = [
        json.loads((c.path / "summary.json").read_text())["requests"]
        for c in list_cells(out)
        if c.policy == "greedy"
    ]
    assert table.loc["greedy", "requests_mean"] == pytest.approx(sum(counts) / 2)


def test_compare_table_carries_server_statistics_as_means_over_seeds(compared):
    out, table_path = compared
    table = pd.read_csv(table_path).set_index("policy")
    greedy = [load_run(c.path) for c in list_cells(out) if c.policy == "greedy"]
    for name in SERVER_STATISTICS:
        values = [server_run_statistics(run)[name] for run in greedy]
        assert table.loc["greedy", f"{name}_mean"] == pytest.approx(sum(values) / 2), name
        low, high = table.loc["greedy", [f"{name}_ci_low", f"{name}_ci_high"]]
        assert low <= table.loc["greedy", f"{name}_mean"] <= high
    assert 0 < table.loc["greedy", "mean_gpu_utilisation_mean"] <= 1
    assert abs(table.loc["greedy", "littles_law_relative_gap_mean"]) < 1e-9


def report_rows(folder: Path, caption: str) -> list[list[str]]:
    """The body rows of one table of a folder's report.md, as lists of cell texts."""
    lines = (folder / "report.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(f"**{caption}**")
    rows = []
    for line in lines[start + 4 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_report_after_a_rerun_with_fewer_policies_and_seeds_agrees_with_the_table(
    scenario, compared, tmp_path
):
    folder = tmp_path / "again"
    shutil.copytree(compared[0], folder)
    table_path = run_compare(scenario, ["random"], 1, folder, workers=1)
    table = pd.read_csv(table_path)
    write_report(folder)
    rows = report_rows(folder, "Statistics per policy")
    assert [row[:2] for row in rows] == [["random", "1"]]
    assert list(table["policy"]) == ["random"]
    assert rows[0][2].startswith(f"{table.loc[0, 'mean_utility_mean']:.4g} [")


def test_rerun_in_which_every_cell_fails_removes_the_old_table(scenario, compared, tmp_path):
    folder = tmp_path / "again"
    shutil.copytree(compared[0], folder)
    bad = corrupt_checkpoint(tmp_path)
    with pytest.raises(CellsFailedError, match=r"no cell succeeded, so there is no table\.csv"):
        run_compare(scenario, [str(bad)], 1, folder, workers=1)
    assert not (folder / "table.csv").exists()
    write_report(folder)
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "No cell of this folder has results" in markdown
    assert report_rows(folder, "Failed cells and their errors")[0][0] == "broken/seed-1"


def test_cli_labels_a_run_folder_by_the_comparisons_rule(tmp_path, monkeypatch):
    checkpoint = tmp_path / "train-b" / "policy.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"")
    monkeypatch.chdir(checkpoint.parent)
    for policy in ("greedy", "policy.pt", str(checkpoint), str(checkpoint.parent)):
        assert _policy_label(policy) == policy_label(policy) != ""
    assert _policy_label("policy.pt") == "train-b"


def test_rerun_skips_complete_cells_and_reruns_an_incomplete_one(scenario, compared):
    out, table_path = compared
    before = summary_times(out)
    table = pd.read_csv(table_path)
    (out / "cells" / "random" / "seed-2" / "summary.json").unlink()
    run_compare(scenario, POLICIES, 2, out, workers=2)
    after = summary_times(out)
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert changed == ["cells/random/seed-2"]
    pd.testing.assert_frame_equal(pd.read_csv(table_path), table)


def test_cell_with_another_seed_in_its_folder_is_not_complete(scenario, compared):
    out, _ = compared
    folder = out / "cells" / "greedy" / "seed-1"
    same = Cell(scenario.to_dict(), {}, "greedy", 1, str(folder))
    assert cell_is_complete(same)
    assert not cell_is_complete(Cell(scenario.to_dict(), {}, "greedy", 7, str(folder)))
    assert not cell_is_complete(
        Cell(scenario.to_dict(), {"devices.count": 3}, "greedy", 1, str(folder))
    )


def test_run_cell_applies_overrides_and_returns_its_folder(scenario, tmp_path):
    cell = Cell(scenario.to_dict(), {"devices.count": 2}, "round-robin", 4, str(tmp_path / "c"))
    assert run_cell(cell) == str(tmp_path / "c")
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["seed"] == 4
    assert manifest["policy"] == "round-robin"
    assert manifest["scenario"]["devices"]["count"] == 2


def corrupt_checkpoint(folder: Path) -> Path:
    """A checkpoint file that no loader can read."""
    path = folder / "broken" / "policy.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    return path


def test_failing_cells_are_listed_while_the_others_finish(scenario, tmp_path):
    bad = corrupt_checkpoint(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(CellsFailedError, match="broken/seed-1") as raised:
        run_compare(scenario, ["greedy", str(bad)], 2, out, workers=2)
    assert len(raised.value.failures) == 2
    failures = json.loads((out / "failures.json").read_text())
    assert [f["cell"] for f in failures] == ["broken/seed-1", "broken/seed-2"]
    assert all(f["error"] for f in failures)
    table = pd.read_csv(out / "table.csv")
    assert list(table["policy"]) == ["greedy"]
    assert (out / "cells" / "greedy" / "seed-2" / "summary.json").is_file()


def test_failures_file_is_removed_once_every_cell_succeeds(scenario, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "failures.json").write_text("[]")
    run_compare(scenario, ["greedy"], 1, out, workers=1)
    assert not (out / "failures.json").exists()


def test_unknown_policy_is_refused_before_anything_runs(scenario, tmp_path):
    with pytest.raises(ExperimentInputError, match="nope"):
        run_compare(scenario, ["greedy", "nope"], 2, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_two_checkpoints_in_folders_of_one_name_are_refused(scenario, tmp_path):
    first = corrupt_checkpoint(tmp_path / "a")
    second = corrupt_checkpoint(tmp_path / "b")
    with pytest.raises(ExperimentInputError, match="broken"):
        run_compare(scenario, [str(first), str(second)], 1, tmp_path / "out")


def test_parse_vary_reads_values_as_yaml_and_keeps_ranges_whole():
    grid = parse_vary(
        ["devices.count=5,10", "devices.deadline_s=[2, 5],[5,20]", "x.y=a,b", "r.hz=1e6,2.5e6"]
    )
    assert grid == {
        "devices.count": [5, 10],
        "devices.deadline_s": [[2, 5], [5, 20]],
        "x.y": ["a", "b"],
        "r.hz": [1e6, 2.5e6],
    }
    assert all(isinstance(value, float) for value in grid["r.hz"])


@pytest.mark.parametrize("pair", ["devices.count", "=1,2", "devices.count=", "a=1,1", "a=1,,2"])
def test_parse_vary_refuses_malformed_pairs(pair):
    with pytest.raises(ScenarioError):
        parse_vary([pair])


def test_sweep_with_an_unknown_key_fails_naming_it_before_running(scenario, tmp_path):
    with pytest.raises(ScenarioError, match=r"^devices\.cuont: unknown key$"):
        run_sweep(scenario, {"devices.cuont": [1, 2]}, POLICIES, 2, tmp_path / "out")
    with pytest.raises(ScenarioError, match=r"^devices\.count: "):
        run_sweep(scenario, {"devices.count": [2, -1]}, POLICIES, 2, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_sweep_table_has_a_row_per_setting_and_policy(scenario, tmp_path):
    vary = {"devices.count": [2, 3], "devices.deadline_s": [[4, 8]]}
    table_path = run_sweep(scenario, vary, POLICIES, 2, tmp_path / "out", workers=2)
    out = tmp_path / "out"
    assert detect_kind(out) == "sweep"
    table = pd.read_csv(table_path)
    assert list(table.columns[:5]) == [
        "setting",
        "devices.count",
        "devices.deadline_s",
        "policy",
        "seeds",
    ]
    assert list(table["devices.count"]) == [2, 2, 3, 3]
    assert list(table["policy"]) == POLICIES * 2
    assert set(table["devices.deadline_s"]) == {"[4, 8]"}
    info = json.loads((out / "sweep.json").read_text())
    assert info["vary"] == vary
    assert [s["slug"] for s in info["settings"]] == [
        "count-2_deadline_s-4-8",
        "count-3_deadline_s-4-8",
    ]
    manifest = out / "cells" / "count-3_deadline_s-4-8" / "random" / "seed-2" / "manifest.json"
    resolved = json.loads(manifest.read_text())["scenario"]
    assert resolved["devices"]["count"] == 3
    assert resolved["devices"]["deadline_s"] == [4, 8]


def test_report_of_a_sweep_over_a_range_renders(scenario, tmp_path):
    vary = {"devices.deadline_s": [[4, 8], [10, 20]]}
    run_sweep(scenario, vary, ["greedy"], 1, tmp_path / "out", workers=1)
    assert main(["report", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "[10, 20]" in page and "<img" in page


def test_cli_compare_then_report_writes_report_html(tmp_path):
    out = tmp_path / "cmp"
    argv = [
        "compare",
        str(SMALL),
        "--set",
        "duration_s=40",
        "--policies",
        "greedy,round-robin",
        "--seeds",
        "2",
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert (out / "table.csv").is_file()
    assert main(["report", str(out)]) == 0
    assert "<img" in (out / "report.html").read_text()


def test_cli_exits_1_with_one_line_when_a_cell_fails(tmp_path, capsys):
    bad = corrupt_checkpoint(tmp_path)
    argv = [
        "compare",
        str(SMALL),
        "--set",
        "duration_s=20",
        "--policies",
        f"greedy,{bad}",
        "--seeds",
        "1",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "cmp"),
    ]
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "1 cell(s) failed: broken/seed-1" in error


def test_cli_sweep_with_an_unknown_key_exits_2_naming_it(tmp_path, capsys):
    argv = [
        "sweep",
        str(SMALL),
        "--vary",
        "devices.cuont=1,2",
        "--policies",
        "greedy",
        "--out",
        str(tmp_path / "sw"),
    ]
    assert main(argv) == 2
    assert capsys.readouterr().err == "edgesim: error: devices.cuont: unknown key\n"


def _stop(process: subprocess.Popen) -> None:
    """Stop one process we started: terminate, then kill if it does not exit."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def dask_cluster(tmp_path):
    """A Dask scheduler and one single-threaded worker on loopback, as subprocesses."""
    from dask.distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    started = []
    logs = (tmp_path / "scheduler.log").open("w"), (tmp_path / "worker.log").open("w")
    try:
        started.append(
            subprocess.Popen(
                [
                    str(DASK),
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(scheduler_file),
                ],
                stdout=logs[0],
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        )
        deadline = time.monotonic() + 30
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(
            subprocess.Popen(
                [
                    str(DASK),
                    "worker",
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp_path / "worker"),
                ],
                stdout=logs[1],
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        )
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for process in reversed(started):
            _stop(process)
        for log in logs:
            log.close()


def test_compare_on_a_dask_cluster_gives_the_local_table(
    scenario, compared, dask_cluster, tmp_path
):
    _, local_table = compared
    table_path = run_compare(scenario, POLICIES, 2, tmp_path / "dask", cluster=dask_cluster)
    pd.testing.assert_frame_equal(pd.read_csv(table_path), pd.read_csv(local_table))
    assert len(list_cells(tmp_path / "dask")) == 4
