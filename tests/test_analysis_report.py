"""Folder kinds, loading, and the self-contained reports of every kind of folder."""

from __future__ import annotations

import json
import re

import pytest

from analysis import runs
from analysis.report import write_report
from analysis.stats import cell_statistics
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


def test_compare_report_lists_policies_in_compare_json_order(folders):
    info = json.loads((folders["compare"] / "compare.json").read_text())
    _, md_path = write_report(folders["compare"])
    markdown = md_path.read_text(encoding="utf-8")
    rows = [line for line in markdown.splitlines() if line.startswith("| greedy") or
            line.startswith("| random")]  # fmt: skip
    assert [row.split("|")[1].strip() for row in rows] == info["policies"]
