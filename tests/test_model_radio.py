"""Uplink channel and least-energy power control (model section 4) against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from edgesim.model.radio import (
    RadioParams,
    channel_gain,
    db_to_linear,
    dbm_to_w,
    least_power_w,
    path_loss_db,
    rate_bps,
    upload_energy_j,
    upload_time_s,
)
from edgesim.scenario import load_scenario_dict

INSTANCES = 300


def _default_radio() -> RadioParams:
    return RadioParams.from_scenario(load_scenario_dict({}).radio)


def _default_path_loss_db(distance_m: float) -> float:
    """Path loss with the default scenario's ``radio.path_loss`` constants."""
    loss = load_scenario_dict({}).radio.path_loss
    return path_loss_db(distance_m, loss.intercept_db, loss.slope_db, loss.min_distance_m)


def _shannon_time_s(bits, power_w, gain, params):
    """Upload time from the Shannon rate, written out independently of the module."""
    snr = power_w * gain / params.noise_w
    return bits / (params.bandwidth_hz * math.log2(1.0 + snr))


def _random_instance(rng: np.random.Generator):
    """Radio, gain, bits and a budget that lands below, inside or above the power range."""
    bandwidth_hz = float(np.exp(rng.uniform(math.log(1e5), math.log(2e7))))
    noise_w = dbm_to_w(-174.0 + rng.uniform(0.0, 12.0)) * bandwidth_hz
    max_power_w = float(np.exp(rng.uniform(math.log(0.05), math.log(1.0))))
    min_power_w = max_power_w * float(np.exp(rng.uniform(math.log(1e-4), math.log(0.5))))
    params = RadioParams(bandwidth_hz, noise_w, min_power_w, max_power_w)
    path_loss = _default_path_loss_db(rng.uniform(5.0, 1000.0))
    gain = channel_gain(path_loss, rng.normal(0.0, 8.0), rng.exponential(1.0))
    bits = float(np.exp(rng.uniform(math.log(1e4), math.log(2e7))))
    probe_w = float(np.exp(rng.uniform(math.log(min_power_w / 20), math.log(max_power_w * 20))))
    budget_s = _shannon_time_s(bits, probe_w, gain, params)
    return bits, budget_s, gain, params


def _reference_least_power(bits, budget_s, gain, params):
    """Root of ``time(p) = budget`` by Brent's method, clipped to the power range."""
    if _shannon_time_s(bits, params.max_power_w, gain, params) > budget_s:
        return math.inf
    if _shannon_time_s(bits, params.min_power_w, gain, params) <= budget_s:
        return params.min_power_w
    return optimize.brentq(
        lambda p: _shannon_time_s(bits, p, gain, params) - budget_s,
        params.min_power_w,
        params.max_power_w,
        xtol=1e-300,
        rtol=1e-15,
    )


def test_default_radio_converts_dbm_and_noise_figure_to_watts():
    params = _default_radio()
    assert params.bandwidth_hz == 1e6
    assert params.noise_w == pytest.approx(10 ** (-20.4) * 1e6 * 10**0.9, rel=1e-12)
    assert params.min_power_w == pytest.approx(1e-3, rel=1e-12)
    assert params.max_power_w == pytest.approx(10**2.3 / 1000, rel=1e-12)


def test_path_loss_follows_3gpp_macro_law_and_floors_distance():
    assert path_loss_db(1000.0, 128.1, 37.6, 10.0) == pytest.approx(128.1, abs=1e-12)
    assert path_loss_db(100.0, 128.1, 37.6, 10.0) == pytest.approx(128.1 - 37.6, abs=1e-12)
    assert path_loss_db(1.0, 128.1, 37.6, 10.0) == path_loss_db(10.0, 128.1, 37.6, 10.0)
    assert path_loss_db(5.0, 120.0, 30.0, 20.0) == pytest.approx(120.0 + 30.0 * math.log10(0.02))
    assert _default_path_loss_db(250.0) == path_loss_db(250.0, 128.1, 37.6, 10.0)
    assert db_to_linear(30.0) == pytest.approx(1000.0, rel=1e-12)


def test_channel_gain_combines_path_loss_shadowing_and_fading():
    gain = channel_gain(path_loss=120.0, shadowing_db=-6.0, fading=0.5)
    assert gain == pytest.approx(10 ** (-12.6) * 0.5, rel=1e-12)


def test_rate_is_shannon_capacity_of_one_subchannel():
    params = RadioParams(bandwidth_hz=1e6, noise_w=1e-13, min_power_w=1e-3, max_power_w=0.2)
    assert rate_bps(0.1, 3e-12, params) == pytest.approx(1e6 * math.log2(1 + 3.0), rel=1e-12)
    assert upload_time_s(2e6, 0.1, 3e-12, params) == pytest.approx(1.0, rel=1e-12)
    assert upload_energy_j(2e6, 0.1, 3e-12, params) == pytest.approx(0.1, rel=1e-12)


def test_least_power_matches_root_of_upload_time_on_random_channels():
    rng = np.random.default_rng(11)
    regimes = {"infeasible": 0, "floor": 0, "interior": 0}
    for _ in range(INSTANCES):
        bits, budget_s, gain, params = _random_instance(rng)
        expected_w = _reference_least_power(bits, budget_s, gain, params)
        power_w = least_power_w(bits, budget_s, gain, params)
        if math.isinf(expected_w):
            regimes["infeasible"] += 1
            assert power_w == math.inf
            continue
        regimes["floor" if expected_w == params.min_power_w else "interior"] += 1
        assert power_w == pytest.approx(expected_w, rel=1e-9)
        assert upload_time_s(bits, power_w, gain, params) <= budget_s * (1 + 1e-9)
    assert min(regimes.values()) > INSTANCES // 10


def _slsqp_least_upload_energy(bits, budget_s, gain, params):
    """Minimise upload energy over log power with the upload time as a constraint: SLSQP from
    three starts, the best feasible end point (one start alone sometimes stalls)."""
    scale_j = params.max_power_w * budget_s

    def power_w(x):
        return params.max_power_w * math.exp(x[0])

    def energy(x):
        return upload_energy_j(bits, power_w(x), gain, params) / scale_j

    def slack(x):
        return math.log(budget_s / _shannon_time_s(bits, power_w(x), gain, params))

    lowest = math.log(params.min_power_w / params.max_power_w)
    best = math.inf
    for start in (0.0, 0.5 * lowest, lowest):
        result = optimize.minimize(
            energy,
            [start],
            method="SLSQP",
            bounds=[(lowest, 0.0)],
            constraints=[{"type": "ineq", "fun": slack}],
            options={"ftol": 1e-15, "maxiter": 200},
        )
        if slack(result.x) > -1e-9:
            best = min(best, result.fun * scale_j)
    return best


def test_least_power_spends_the_least_upload_energy_of_any_power_meeting_the_budget():
    rng = np.random.default_rng(12)
    checked = 0
    while checked < 100:
        bits, budget_s, gain, params = _random_instance(rng)
        power_w = least_power_w(bits, budget_s, gain, params)
        if math.isinf(power_w):
            continue
        checked += 1
        energy_j = upload_energy_j(bits, power_w, gain, params)
        assert energy_j == pytest.approx(
            _slsqp_least_upload_energy(bits, budget_s, gain, params), rel=1e-6
        )


def test_least_power_is_infinite_for_budgets_no_power_can_meet():
    params = _default_radio()
    gain = channel_gain(_default_path_loss_db(300.0), 0.0, 1.0)
    fastest_s = upload_time_s(1e6, params.max_power_w, gain, params)
    assert least_power_w(1e6, fastest_s * 0.999, gain, params) == math.inf
    assert least_power_w(1e6, 0.0, gain, params) == math.inf
    assert least_power_w(1e6, -1.0, gain, params) == math.inf
    assert least_power_w(1e9, 1e-3, gain, params) == math.inf
    assert least_power_w(1e6, fastest_s * 1.001, gain, params) < params.max_power_w


def test_zero_bits_need_only_minimum_power_and_no_time_or_energy():
    params = _default_radio()
    assert least_power_w(0.0, 1.0, 1e-12, params) == params.min_power_w
    assert least_power_w(0.0, 0.0, 1e-12, params) == params.min_power_w
    assert upload_time_s(0.0, params.min_power_w, 1e-12, params) == 0.0
    assert upload_energy_j(0.0, params.min_power_w, 1e-12, params) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    bits=st.floats(1.0, 1e8),
    budget_s=st.floats(1e-4, 1e3),
    distance_m=st.floats(1.0, 2000.0),
    shadowing_db=st.floats(-24.0, 24.0),
    fading=st.floats(1e-4, 10.0),
)
def test_least_power_stays_within_bounds_and_meets_budget(
    bits, budget_s, distance_m, shadowing_db, fading
):
    params = _default_radio()
    gain = channel_gain(_default_path_loss_db(distance_m), shadowing_db, fading)
    power_w = least_power_w(bits, budget_s, gain, params)
    if math.isinf(power_w):
        fastest_s = upload_time_s(bits, params.max_power_w, gain, params)
        assert fastest_s >= budget_s * (1 - 1e-9)
        return
    assert params.min_power_w <= power_w <= params.max_power_w
    assert upload_time_s(bits, power_w, gain, params) <= budget_s * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(
    low_w=st.floats(1e-3, 0.2),
    factor=st.floats(1.001, 100.0),
    gain=st.floats(1e-16, 1e-8),
)
def test_upload_energy_rises_with_power_so_the_least_power_is_energy_optimal(low_w, factor, gain):
    params = _default_radio()
    low_j = upload_energy_j(1e6, low_w, gain, params)
    high_j = upload_energy_j(1e6, low_w * factor, gain, params)
    assert low_j < high_j
