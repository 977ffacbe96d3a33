"""The run folder on disk: strict JSON, safe publishing and the checks of an output location."""

from __future__ import annotations

import json
import math
import os
import shutil
import stat

import pytest
from conftest import make_scenario

from analysis.runs import load_run
from edgesim import Simulation
from edgesim.sim import recorder
from edgesim.sim.recorder import OutputFolderError, check_target, publish, write_json


def _strict_json(text: str):
    """Parse JSON, refusing the NaN and Infinity tokens that standard JSON lacks."""

    def refuse(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def _staging(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "requests.parquet").write_bytes(b"new")
    (staging / "summary.json").write_text("{}")
    return staging


def _hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_json_turns_nan_and_infinity_into_null_at_any_depth(tmp_path):
    path = tmp_path / "data.json"
    write_json(path, {"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf}], "d": 2.5, "e": "x"})
    assert _strict_json(path.read_text()) == {
        "a": None,
        "b": [1.0, None, {"c": None}],
        "d": 2.5,
        "e": "x",
    }


def test_summary_of_a_run_where_nothing_completes_is_strict_json_read_back_as_nan(tmp_path):
    result = Simulation(make_scenario(duration_s=0.5), "greedy", seed=1).run()
    assert result.summary["completed"] == 0
    folder = result.save(tmp_path / "run")
    summary = _strict_json((folder / "summary.json").read_text())
    assert summary["mean_latency_s"] is None and summary["p95_latency_s"] is None
    assert summary["mean_quality"] is None
    _strict_json((folder / "manifest.json").read_text())
    loaded = load_run(folder).summary
    assert math.isnan(loaded["mean_latency_s"]) and math.isnan(loaded["mean_quality"])
    assert loaded["completed"] == 0


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)])
def test_published_folder_gets_the_mode_of_a_new_folder(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        target = publish(_staging(tmp_path), tmp_path / "run")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_publish_replaces_an_older_run_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "out" / "run"
    target.mkdir(parents=True)
    (target / "requests.parquet").write_bytes(b"old")
    (target / "report.html").write_text("old report")
    publish(_staging(tmp_path), target)
    assert (target / "requests.parquet").read_bytes() == b"new"
    assert not (target / "report.html").exists()
    assert [p.name for p in target.parent.iterdir()] == ["run"]


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_copy_that_fails_or_is_interrupted_leaves_no_hidden_folder(tmp_path, monkeypatch, failure):
    def copy_then_fail(source, destination, **kwargs):
        shutil.copy(source / "requests.parquet", destination)
        raise failure

    monkeypatch.setattr(recorder.shutil, "copytree", copy_then_fail)
    target = tmp_path / "out" / "run"
    with pytest.raises(type(failure)):
        publish(_staging(tmp_path), target)
    assert list(target.parent.iterdir()) == []


def test_failed_rename_puts_the_older_run_back(tmp_path, monkeypatch):
    target = tmp_path / "run"
    target.mkdir()
    (target / "requests.parquet").write_bytes(b"old")
    real_replace = os.replace
    calls = []

    def fail_second(source, destination):
        calls.append(destination)
        if len(calls) == 2:
            raise OSError("rename failed")
        real_replace(source, destination)

    monkeypatch.setattr(recorder.os, "replace", fail_second)
    with pytest.raises(OSError, match="rename failed"):
        publish(_staging(tmp_path), target)
    assert (target / "requests.parquet").read_bytes() == b"old"
    assert _hidden(tmp_path) == []


def test_an_existing_file_is_refused_and_left_alone(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    with pytest.raises(OutputFolderError, match="exists and is not a run folder"):
        publish(_staging(tmp_path), target)
    assert target.read_text() == "keep me"
    assert _hidden(tmp_path) == []


def test_a_folder_of_other_things_is_refused(tmp_path):
    target = tmp_path / "home"
    target.mkdir()
    (target / "thesis.tex").write_text("keep me")
    with pytest.raises(OutputFolderError, match="not a run folder"):
        check_target(target)


def test_an_empty_folder_and_an_unfinished_run_folder_may_be_replaced(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    check_target(empty)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "requests.parquet").write_bytes(b"")
    check_target(unfinished)
    check_target(tmp_path / "absent" / "deeper" / "run")


def test_a_location_below_a_file_is_refused_naming_the_file(tmp_path):
    (tmp_path / "plain").write_text("")
    with pytest.raises(OutputFolderError, match=r"plain is a file, not a folder"):
        check_target(tmp_path / "plain" / "deeper" / "run")
