"""Folder kinds, loading, and the self-contained reports of every kind of folder."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from analysis import runs, servers
from analysis.report import write_report
from analysis.stats import cell_row, cell_statistics, run_statistics
from analysis.synthetic import write_compare, write_random_run, write_sweep, write_training

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    made = {
        "run": write_random_run(root / "run", seed=1, duration_s=120.0),
        "compare": write_compare(root / "compare", ["greedy", "random"], [0, 1], duration_s=80.0),
        "sweep": write_sweep(root / "sweep", [0.2, 0.5], ["greedy", "random"], [0, 1]),
        "training": write_training(root / "training", "hsac-ic", 0),
    }
    for algo in ("hsac-ic", "ppo"):
        for seed in (0, 1):
            write_training(root / "group" / algo / f"seed-{seed}", algo, seed)
    made["training-group"] = root / "group"
    return made


@pytest.mark.parametrize("kind", runs.RUN_KINDS)
def test_detect_kind_recognises_each_folder(folders, kind):
    assert runs.detect_kind(folders[kind]) == kind


def test_detect_kind_rejects_an_unknown_folder_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="unknown folder kind") as error:
        runs.detect_kind(tmp_path)
    assert "\n" not in str(error.value)


def test_write_report_rejects_an_unknown_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(ValueError):
        write_report(tmp_path)


def test_load_run_sorts_requests_by_id(folders):
    run = runs.load_run(folders["run"])
    assert run.requests["request_id"].is_monotonic_increasing
    assert run.policy == "greedy"
    assert run.seed == 1
    assert run.simulated_s == 120.0


def test_list_cells_reads_policy_seed_and_sweep_overrides(folders):
    cells = runs.list_cells(folders["sweep"])
    assert len(cells) == 8
    assert {c.policy for c in cells} == {"greedy", "random"}
    assert {c.overrides["devices.arrival.rate_per_s"] for c in cells} == {0.2, 0.5}
    assert runs.sweep_parameters(folders["sweep"]) == {"devices.arrival.rate_per_s": [0.2, 0.5]}


def test_cell_statistics_has_a_row_per_cell(folders):
    table = cell_statistics(folders["compare"])
    assert len(table) == 4
    assert set(table["seed"]) == {0, 1}
    assert "mean_utility" in table


def figure_count(markdown: str) -> int:
    return len(re.findall(r"!\[[^\]]+\]\(report-[\w-]+\.png\)", markdown))


@pytest.mark.parametrize("kind", runs.RUN_KINDS)
def test_report_is_self_contained_with_one_image_per_figure(folders, kind):
    html_path, md_path = write_report(folders[kind])
    page = html_path.read_text(encoding="utf-8")
    markdown = md_path.read_text(encoding="utf-8")
    images = re.findall(r"<img [^>]*>", page)
    assert len(images) == figure_count(markdown) >= 1
    assert all('src="data:image/png;base64,' in tag and 'alt="' in tag for tag in images)
    assert not EXTERNAL.search(page)
    assert "http://" not in page and "https://" not in page
    assert "<table" in page
    for name in re.findall(r"\((report-[\w-]+\.png)\)", markdown):
        assert (md_path.parent / name).stat().st_size > 1000


def test_report_leaves_no_temporary_files(folders):
    write_report(folders["run"])
    assert not list(folders["run"].glob(".*.tmp"))


def test_run_report_has_the_server_sections(folders):
    _, md_path = write_report(folders["run"])
    markdown = md_path.read_text(encoding="utf-8")
    for title in ("Utilisation", "Queue lengths", "Waiting time", "Little's law", "Outcomes"):
        assert title in markdown


def markdown_table(markdown: str, caption: str) -> pd.DataFrame:
    """Read back the Markdown table whose bold caption starts with ``caption``, as text."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"**{caption}"))
    body = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        body.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return pd.DataFrame(body[2:], columns=body[0])


def test_compare_report_lists_policies_in_compare_json_order(folders):
    info = json.loads((folders["compare"] / "compare.json").read_text())
    _, md_path = write_report(folders["compare"])
    table = markdown_table(md_path.read_text(encoding="utf-8"), "Statistics per policy")
    assert list(table["policy"]) == info["policies"]


def test_cell_row_has_keys_overrides_as_json_text_and_server_statistics(folders):
    cell = runs.list_cells(folders["sweep"])[0]
    ranged = runs.Cell(cell.policy, cell.seed, cell.path, cell.setting, {"a.b": [2, 5], "c": 1})
    row = cell_row(ranged, runs.load_run(cell.path))
    assert list(row)[:5] == ["setting", "policy", "seed", "a.b", "c"]
    assert row["a.b"] == "[2, 5]" and row["c"] == 1
    assert row["mean_gpu_utilisation"] == pytest.approx(
        servers.server_run_statistics(runs.load_run(cell.path))["mean_gpu_utilisation"]
    )


def test_compare_report_shows_server_statistics_with_intervals(folders):
    _, md_path = write_report(folders["compare"])
    table = markdown_table(md_path.read_text(encoding="utf-8"), "Server statistics per policy")
    assert list(table.columns) == ["policy", "seeds", *servers.SERVER_STATISTICS]
    greedy = [c for c in runs.list_cells(folders["compare"]) if c.policy == "greedy"]
    means = [run_statistics(runs.load_run(c.path))["mean_gpu_utilisation"] for c in greedy]
    shown = table.set_index("policy").loc["greedy", "mean_gpu_utilisation"]
    assert shown.startswith(f"{np.mean(means):.4g} [")


@pytest.fixture
def rerun_compare(tmp_path):
    """A compare folder of three policies and seeds, whose compare.json now names two of each."""
    folder = write_compare(tmp_path / "cmp", ["a", "b", "c"], [0, 1, 2], duration_s=40.0)
    (folder / "compare.json").write_text(json.dumps({"policies": ["b", "a"], "seeds": [0, 1]}))
    return folder


def test_list_cells_leaves_out_cells_compare_json_does_not_name(rerun_compare):
    cells = runs.list_cells(rerun_compare)
    assert sorted((c.policy, c.seed) for c in cells) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert len(cell_statistics(rerun_compare)) == 4


def test_compare_report_uses_only_the_cells_compare_json_names(rerun_compare):
    _, md_path = write_report(rerun_compare)
    table = markdown_table(md_path.read_text(encoding="utf-8"), "Statistics per policy")
    assert list(table["policy"]) == ["b", "a"]
    assert list(table["seeds"]) == ["2", "2"]


def test_list_cells_leaves_out_settings_sweep_json_does_not_name(tmp_path):
    folder = write_sweep(tmp_path / "sw", [0.2, 0.5], ["greedy"], [0], duration_s=40.0)
    info = json.loads((folder / "sweep.json").read_text())
    info["settings"] = info["settings"][1:]
    info["vary"] = {"devices.arrival.rate_per_s": [0.5]}
    (folder / "sweep.json").write_text(json.dumps(info))
    assert [c.setting for c in runs.list_cells(folder)] == ["rate-0.5"]


def test_failed_cells_are_left_out_and_listed_in_both_reports(rerun_compare):
    failures = [{"cell": "b/seed-1", "policy": "b", "seed": 1, "error": "RuntimeError: boom"}]
    (rerun_compare / "failures.json").write_text(json.dumps(failures))
    assert ("b", 1) not in {(c.policy, c.seed) for c in runs.list_cells(rerun_compare)}
    html_path, md_path = write_report(rerun_compare)
    markdown = md_path.read_text(encoding="utf-8")
    shown = markdown_table(markdown, "Failed cells")
    assert shown.to_dict("records") == [{"cell": "b/seed-1", "error": "RuntimeError: boom"}]
    assert markdown_table(markdown, "Statistics per policy")["seeds"].tolist() == ["1", "2"]
    page = html_path.read_text(encoding="utf-8")
    assert "<h2>Failed cells</h2>" in page and "<td>RuntimeError: boom</td>" in page


def test_report_of_a_compare_folder_without_results_lists_the_failures(tmp_path):
    folder = tmp_path / "cmp"
    (folder / "cells").mkdir(parents=True)
    (folder / "compare.json").write_text(json.dumps({"policies": ["x"], "seeds": [1]}))
    (folder / "failures.json").write_text(json.dumps([{"cell": "x/seed-1", "error": "E: no"}]))
    html_path, md_path = write_report(folder)
    markdown = md_path.read_text(encoding="utf-8")
    assert "No cell of this folder has results" in markdown
    assert markdown_table(markdown, "Failed cells")["cell"].tolist() == ["x/seed-1"]
    assert "<img" not in html_path.read_text(encoding="utf-8")


def test_synthetic_training_logs_episode_columns_only_when_an_episode_ended(tmp_path):
    folder = write_training(tmp_path / "t", "sac", 0, steps=10, episode_every=4)
    progress = pd.read_csv(folder / "progress.csv")
    assert progress["episode_return"].notna().tolist() == [i % 4 == 0 for i in range(10)]
    assert progress["critic_loss"].notna().all()
    assert progress["episodes"].tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3]


def test_training_report_shows_each_runs_last_non_empty_value(tmp_path):
    for seed in (0, 1):
        write_training(tmp_path / "group" / f"seed-{seed}", "sac", seed, steps=11, episode_every=3)
    progress = runs.training_progress(tmp_path / "group")
    assert progress.groupby("run")["episode_return"].tail(1).isna().all()
    _, md_path = write_report(tmp_path / "group")
    table = markdown_table(md_path.read_text(encoding="utf-8"), "Last logged value")
    assert "–" not in "".join(table.iloc[0])
    last = progress.dropna(subset=["episode_return"]).groupby("run")["episode_return"].last()
    assert table.loc[0, "episode_return"].startswith(f"{last.mean():.4g} [")


def test_last_logged_values_read_each_column_back_on_its_own():
    progress = pd.DataFrame(
        {
            "algo": ["x"] * 3,
            "run": ["r"] * 3,
            "step": [3, 1, 2],
            "episode_return": [np.nan, 1.0, 2.0],
            "critic_loss": [0.3, 0.1, np.nan],
        }
    )
    found = runs.last_logged_values(progress, ["episode_return", "critic_loss"])
    assert found.to_dict("records") == [
        {"algo": "x", "run": "r", "episode_return": 2.0, "critic_loss": 0.3}
    ]


def test_run_report_has_a_waiting_time_cdf_and_the_right_waiting_caption(folders):
    _, md_path = write_report(folders["run"])
    markdown = md_path.read_text(encoding="utf-8")
    assert "(report-waiting-cdf.png)" in markdown
    assert "compute_start - server_arrival" in markdown
    assert "upload_end" not in markdown


def test_queue_caption_says_which_servers_are_left_out(tmp_path):
    many = write_random_run(tmp_path / "many", seed=1, duration_s=40.0, server_count=10)
    few = write_random_run(tmp_path / "few", seed=1, duration_s=40.0, server_count=8)
    assert "the first 8 of 10 servers are shown" in write_report(many)[1].read_text()
    assert "servers are shown" not in write_report(few)[1].read_text()
