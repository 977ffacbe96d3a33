"""Render reports of every kind in headless Chromium and check that every figure decoded."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from analysis.report import write_report
from analysis.synthetic import write_compare, write_random_run, write_sweep, write_training

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)


def dump_dom(page: Path, profile: Path) -> str:
    """Return the DOM of a page after it loaded, as headless Chromium sees it offline."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def write_group(folder: Path) -> Path:
    """A folder of two algorithms' training runs, two seeds each, with gaps between episodes."""
    for algo in ("hsac-ic", "ppo"):
        for seed in (0, 1):
            write_training(folder / algo / f"seed-{seed}", algo, seed, steps=20, episode_every=3)
    return folder


BUILDERS = {
    "run": lambda folder: write_random_run(folder, seed=3, duration_s=60.0),
    "compare": lambda folder: write_compare(folder, ["greedy", "random"], [0, 1], duration_s=40.0),
    "sweep": lambda folder: write_sweep(folder, [0.2, 0.5], ["greedy"], [0, 1], duration_s=40.0),
    "training": write_group,
}
FIGURES = {"run": 5, "compare": 3, "sweep": 1, "training": 1}


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_every_report_figure_renders_in_chromium(tmp_path, kind):
    html_path, _ = write_report(BUILDERS[kind](tmp_path / kind))
    expected = html_path.read_text(encoding="utf-8").count("<img ")
    dom = dump_dom(html_path, tmp_path / "profile")
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    images = re.findall(r"<img [^>]*>", dom)
    assert expected == FIGURES[kind]
    assert len(images) == expected
    assert all('data-rendered="yes"' in tag for tag in images), images[0][-200:]
