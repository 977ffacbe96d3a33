"""Shared fixtures: paths to the shipped scenarios and quick scenario builders."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgesim.scenario import Scenario, load_scenario_dict

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def scenarios_dir() -> Path:
    """The folder of ready-made scenario files."""
    return SCENARIOS


def make_scenario(**sections) -> Scenario:
    """A validated scenario from keyword sections, e.g. ``make_scenario(duration_s=60)``."""
    return load_scenario_dict(sections, base_dir=SCENARIOS)
