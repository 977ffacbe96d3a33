"""Render a report in headless Chromium and check that every embedded figure decoded."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from analysis.report import write_report
from analysis.synthetic import write_random_run

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


def test_every_report_figure_renders_in_chromium(tmp_path):
    folder = write_random_run(tmp_path / "run", seed=3, duration_s=60.0)
    html_path, _ = write_report(folder)
    expected = html_path.read_text(encoding="utf-8").count("<img ")
    dom = dump_dom(html_path, tmp_path / "profile")
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    images = re.findall(r"<img [^>]*>", dom)
    assert expected >= 1
    assert len(images) == expected
    assert all('data-rendered="yes"' in tag for tag in images), images[0][-200:]
