"""Image quality of the diffusion levels and per-request utility (model section 8)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesim.model.quality import quality
from edgesim.model.utility import UtilityParams, utility
from edgesim.scenario import load_scenario, load_scenario_dict

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"


@pytest.fixture(scope="module")
def default_utility() -> UtilityParams:
    """The utility weights of ``scenarios/default.yaml``."""
    return UtilityParams.from_scenario(load_scenario(DEFAULT_SCENARIO).utility)


def _default_level_qualities() -> list[float]:
    section = load_scenario_dict({}).quality
    return [
        quality(level.steps, section.resolution_weight[level.resolution], section.s0)
        for level in section.levels
    ]


def test_default_levels_give_the_documented_qualities():
    exact = [
        1 - math.exp(-10 / 17),
        1 - math.exp(-20 / 17),
        1 - math.exp(-30 / 17),
        1 - math.exp(-50 / 17),
        1.0,
    ]
    assert _default_level_qualities() == pytest.approx(exact, rel=1e-12)
    # The spec rounds the first level up to 0.45; the curve gives 0.4447.
    assert [round(q, 2) for q in _default_level_qualities()] == [0.44, 0.69, 0.83, 0.95, 1.0]


def test_default_levels_buy_quality_with_work_and_none_is_dominated():
    section = load_scenario_dict({}).quality
    work = [lv.steps * (lv.resolution / 512) ** 2.2 for lv in section.levels]
    qualities = _default_level_qualities()
    assert work == sorted(work)
    assert all(low < high for low, high in itertools.pairwise(qualities))


def test_quality_is_capped_at_one_for_high_resolution_weight():
    assert quality(30, 1.25, 17.0) == 1.0
    assert quality(10, 1.25, 17.0) == pytest.approx(1.25 * (1 - math.exp(-10 / 17)), rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.integers(1, 500),
    more=st.integers(1, 100),
    weight=st.floats(0.1, 2.0),
    s0=st.floats(1.0, 100.0),
)
def test_quality_never_falls_as_steps_rise(steps, more, weight, s0):
    low, high = quality(steps, weight, s0), quality(steps + more, weight, s0)
    assert 0.0 < low <= high <= 1.0
    if high < 1.0 and steps / s0 < 20.0:  # beyond that 1 - exp(-S/s0) rounds to 1
        assert low < high


def test_utility_weighs_quality_latency_and_energy_per_image(default_utility):
    params = default_utility
    value = utility(
        quality=0.83, latency_s=6.0, deadline_s=12.0, energy_j=100.0, images=2, params=params
    )
    assert value == pytest.approx(0.83 - 0.3 * 0.5 - 0.2 * 100.0 / 500.0, rel=1e-12)


def test_utility_parameters_follow_the_scenario_section():
    section = load_scenario_dict(
        {"utility": {"w_quality": 2.0, "w_latency": 0.1, "energy_ref_j_per_image": 50.0}}
    ).utility
    params = UtilityParams.from_scenario(section)
    assert params == UtilityParams(
        w_quality=2.0, w_latency=0.1, w_energy=0.2, energy_ref_j_per_image=50.0, fail_penalty=1.0
    )
    value = utility(1.0, 2.0, 10.0, 25.0, 1, params)
    assert value == pytest.approx(2.0 - 0.1 * 0.2 - 0.2 * 0.5, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    q=st.floats(0.0, 1.0),
    latency_s=st.floats(0.0, 20.0),
    deadline_s=st.floats(5.0, 20.0),
    energy_j=st.floats(0.0, 2000.0),
    images=st.integers(1, 4),
)
def test_served_request_on_time_scores_above_failure_at_default_weights(
    default_utility, q, latency_s, deadline_s, energy_j, images
):
    params = default_utility
    value = utility(q, min(latency_s, deadline_s), deadline_s, energy_j, images, params)
    assert value <= params.w_quality
    # Within its deadline and at most 2 * E_ref per image, serving beats failing.
    if energy_j <= 2 * images * params.energy_ref_j_per_image:
        assert value >= -params.fail_penalty
