"""End-to-end request plans (model section 6) against numerical searches.

The references here search the upload time directly: for each candidate upload budget the
device sends at the least power that meets it, the request reaches the server, and each unit
may compute from ``max(arrival, unit free)`` until the compute end. The energy-optimal compute
allocation itself is checked against its own numerical reference in ``test_model_compute``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from edgesim.model.compute import (
    Allocation,
    ComputeParams,
    energy_optimal_allocation,
    work_cycles,
)
from edgesim.model.planning import (
    KnownSplit,
    allocate,
    finish_time_s,
    latest_arrival_s,
    max_speed_finish_s,
    plan_request,
)
from edgesim.model.radio import RadioParams, channel_gain, dbm_to_w, least_power_w, path_loss_db
from edgesim.scenario import Scenario, load_scenario

INSTANCES = 200
LEVELS = [(10, 512), (20, 512), (30, 512), (50, 512), (30, 768)]
# The plan narrows its upload time by golden-section search to a bracket of 0.618**41 (about
# 3e-9) of the feasible range and keeps the bracket's lower end. The total energy has a slope
# of order (compute energy / compute budget) there, so the energy error is at most about
# 3e-9 * range * slope / energy, a few times 1e-9 at these scales; 1e-6 leaves a wide margin.
ENERGY_RTOL = 1e-6
TIME_ATOL_S = 1e-9
DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"


@functools.cache
def _default_scenario() -> Scenario:
    """``scenarios/default.yaml``, the one source of the model's constants."""
    return load_scenario(DEFAULT_SCENARIO)


def _default_compute() -> ComputeParams:
    return ComputeParams.from_scenario(_default_scenario().servers)


def _default_path_loss_db(distance_m: float) -> float:
    loss = _default_scenario().radio.path_loss
    return path_loss_db(distance_m, loss.intercept_db, loss.slope_db, loss.min_distance_m)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(math.log(low), math.log(high))))


def _speeds(work_gpu, work_cpu, params, use_cpu=True):
    speed_cpu = params.cores * params.cpu_max_hz / work_cpu if use_cpu else 0.0
    return speed_cpu, params.gpu_max_hz / work_gpu


def _numerical_finish_s(arrival_s, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu):
    """Earliest finish over all shares, each unit starting once free and the request is in."""
    start_cpu, start_gpu = max(arrival_s, cpu_free_s), max(arrival_s, gpu_free_s)

    def finish(share):
        ends = []
        if share > 0.0:
            ends.append(start_cpu + share / speed_cpu)
        if share < 1.0:
            ends.append(start_gpu + (1.0 - share) / speed_gpu)
        return max(ends)

    if speed_cpu == 0.0:
        return finish(0.0)
    best = min(finish(0.0), finish(1.0))

    def gap(share):
        return start_cpu + share / speed_cpu - start_gpu - (1.0 - share) / speed_gpu

    if gap(0.0) < 0.0 < gap(1.0):
        best = min(best, finish(optimize.brentq(gap, 0.0, 1.0, xtol=1e-15, rtol=1e-15)))
    return best


def _bisect_latest_arrival_s(end_s, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu):
    """Largest arrival whose finish is by ``end_s``, by bisection on the monotone finish."""

    def finish(arrival_s):
        return _numerical_finish_s(arrival_s, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu)

    low = min(cpu_free_s, gpu_free_s) - 1.0
    if finish(low) > end_s:
        return -math.inf
    high = end_s
    for _ in range(200):
        middle = 0.5 * (low + high)
        if finish(middle) <= end_s:
            low = middle
        else:
            high = middle
    return low


def _random_queue(rng: np.random.Generator):
    speed_cpu = 0.0 if rng.random() < 0.2 else _log_uniform(rng, 1e-3, 1.0)
    speed_gpu = _log_uniform(rng, 0.05, 3.0)
    cpu_free_s = 100.0 + rng.uniform(-5.0, 10.0)
    gpu_free_s = 100.0 + rng.uniform(-5.0, 10.0)
    end_s = 100.0 + rng.uniform(-2.0, 30.0)
    return end_s, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu


def test_max_speed_finish_matches_numerical_best_split():
    rng = np.random.default_rng(21)
    for _ in range(INSTANCES):
        _, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu = _random_queue(rng)
        arrival_s = 100.0 + rng.uniform(-5.0, 10.0)
        args = (arrival_s, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu)
        assert max_speed_finish_s(*args) == pytest.approx(
            _numerical_finish_s(*args), abs=TIME_ATOL_S
        )


def test_latest_arrival_matches_bisection_on_finish_time():
    rng = np.random.default_rng(22)
    hopeless = 0
    for _ in range(INSTANCES):
        queue = _random_queue(rng)
        expected_s = _bisect_latest_arrival_s(*queue)
        latest_s = latest_arrival_s(*queue)
        if math.isinf(expected_s):
            hopeless += 1
            assert latest_s == -math.inf
            continue
        assert latest_s == pytest.approx(expected_s, abs=1e-8)
        assert max_speed_finish_s(latest_s, *queue[1:]) == pytest.approx(queue[0], abs=1e-8)
    assert 0 < hopeless < INSTANCES // 2


def _random_request(rng: np.random.Generator, radio_heavy: bool, frugal_compute=False):
    """A request at t = 100 s with random level, channel and queues. With ``radio_heavy`` the
    uplink is narrow and the input large; with ``frugal_compute`` the units' energy constants
    shrink a hundred- to ten-thousand-fold, so transmit energy weighs as much as compute."""
    params = _default_compute()
    if frugal_compute:
        scale = _log_uniform(rng, 1e-4, 1e-2)
        params = dataclasses.replace(
            params, gpu_kappa=params.gpu_kappa * scale, cpu_kappa=params.cpu_kappa * scale
        )
    steps, resolution = LEVELS[rng.integers(len(LEVELS))]
    work_gpu, work_cpu = work_cycles(steps, resolution, int(rng.choice([1, 2, 4])), params)
    bandwidth_hz = _log_uniform(rng, 2e4, 3e5) if radio_heavy else 1e6
    noise_w = dbm_to_w(-174.0 + 9.0) * bandwidth_hz
    radio = RadioParams(bandwidth_hz, noise_w, dbm_to_w(0.0), dbm_to_w(23.0))
    gain = channel_gain(
        _default_path_loss_db(rng.uniform(20.0, 700.0)), rng.normal(0.0, 8.0), rng.exponential(1.0)
    )
    bits = rng.uniform(0.5e6, 8e6 if radio_heavy else 2e6)
    now_s = 100.0
    cpu_free_s = now_s + rng.uniform(-2.0, 8.0) * (rng.random() < 0.6)
    gpu_free_s = now_s + rng.uniform(-2.0, 8.0) * (rng.random() < 0.6)
    return dict(
        now_s=now_s,
        bits=bits,
        gain=gain,
        radio=radio,
        forward_s=rng.uniform(0.0, 0.05),
        cpu_free_s=cpu_free_s,
        gpu_free_s=gpu_free_s,
        work_gpu=work_gpu,
        work_cpu=work_cpu,
        params=params,
        deadline_s=now_s + rng.uniform(3.0, 60.0),
        return_s=rng.uniform(0.0, 0.2),
        use_cpu=bool(rng.random() < 0.8),
    )


def _shannon_time_s(bits, power_w, gain, radio):
    return bits / (radio.bandwidth_hz * math.log2(1.0 + power_w * gain / radio.noise_w))


def _total_energy_j(request, upload_budget_s):
    """Transmit plus energy-optimal compute energy for one upload budget (inf if late)."""
    r = request
    power_w = min(
        least_power_w(r["bits"], upload_budget_s, r["gain"], r["radio"]), r["radio"].max_power_w
    )
    upload_s = _shannon_time_s(r["bits"], power_w, r["gain"], r["radio"])
    arrival_s = r["now_s"] + upload_s + r["forward_s"]
    end_s = r["deadline_s"] - r["params"].overhead_s - r["return_s"]
    allocation = energy_optimal_allocation(
        r["work_gpu"],
        r["work_cpu"],
        r["params"],
        end_s - max(arrival_s, r["cpu_free_s"]),
        end_s - max(arrival_s, r["gpu_free_s"]),
        use_cpu=r["use_cpu"],
    )
    return math.inf if allocation is None else power_w * upload_s + allocation.energy_j


def _numerical_least_total_energy(request):
    """Grid over the feasible upload budgets, refined around the best three grid points."""
    r = request
    fastest_s = _shannon_time_s(r["bits"], r["radio"].max_power_w, r["gain"], r["radio"])
    if math.isinf(_total_energy_j(r, fastest_s)):
        return None
    low, high = fastest_s, r["deadline_s"] - r["now_s"]
    for _ in range(100):
        middle = 0.5 * (low + high)
        if math.isinf(_total_energy_j(r, middle)):
            high = middle
        else:
            low = middle
    grid = np.linspace(fastest_s, low, 200)
    values = np.array([_total_energy_j(r, budget_s) for budget_s in grid])
    best = float(values.min())
    for index in np.argsort(values)[:3]:
        left, right = grid[max(index - 1, 0)], grid[min(index + 1, len(grid) - 1)]
        result = optimize.minimize_scalar(
            lambda b: _total_energy_j(r, b),
            bounds=(left, right),
            method="bounded",
            options={"xatol": 1e-12},
        )
        best = min(best, float(result.fun))
    return best


def _plan(request, rule):
    return plan_request(rule=rule, **request)


def _assert_meets_deadline(plan, request):
    end_s = request["deadline_s"] - request["params"].overhead_s - request["return_s"]
    assert plan.finish_s <= end_s + TIME_ATOL_S


@pytest.mark.parametrize(
    ("radio_heavy", "frugal_compute"), [(False, False), (True, False), (True, True)]
)
def test_deadline_rule_plan_matches_numerical_least_total_energy(radio_heavy, frugal_compute):
    rng = np.random.default_rng(23 + radio_heavy + 2 * frugal_compute)
    feasible = 0
    for _ in range(INSTANCES // 2):
        request = _random_request(rng, radio_heavy, frugal_compute)
        plan = _plan(request, "deadline")
        expected_j = _numerical_least_total_energy(request)
        assert plan.feasible == (expected_j is not None)
        if expected_j is None:
            assert plan.power_w == request["radio"].max_power_w
            continue
        feasible += 1
        assert plan.energy_tx_j + plan.energy_compute_j == pytest.approx(
            expected_j, rel=ENERGY_RTOL
        )
        _assert_meets_deadline(plan, request)
    assert feasible > INSTANCES // 5


def test_energy_rule_plans_least_energy_only_when_server_idle_on_arrival():
    rng = np.random.default_rng(25)
    idle = busy = 0
    for _ in range(INSTANCES // 2):
        request = _random_request(rng, radio_heavy=bool(rng.random() < 0.5))
        plan = _plan(request, "energy")
        if not plan.feasible:
            continue
        _assert_meets_deadline(plan, request)
        r = request
        fastest_s = _shannon_time_s(r["bits"], r["radio"].max_power_w, r["gain"], r["radio"])
        earliest_s = r["now_s"] + fastest_s + r["forward_s"]
        if max(r["cpu_free_s"], r["gpu_free_s"]) <= earliest_s:
            idle += 1
            assert plan.energy_tx_j + plan.energy_compute_j == pytest.approx(
                _numerical_least_total_energy(request), rel=ENERGY_RTOL
            )
        else:
            busy += 1
            assert plan == _plan(request, "max")
    assert idle > 10
    assert busy > 10


def test_max_rule_upload_takes_all_time_left_after_full_speed_compute():
    rng = np.random.default_rng(26)
    stretched = 0
    for _ in range(INSTANCES):
        request = _random_request(rng, radio_heavy=bool(rng.random() < 0.5))
        plan = _plan(request, "max")
        if not plan.feasible:
            continue
        _assert_meets_deadline(plan, request)
        r = request
        params = r["params"]
        end_s = r["deadline_s"] - params.overhead_s - r["return_s"]
        speeds = _speeds(r["work_gpu"], r["work_cpu"], params, r["use_cpu"])
        latest_s = _bisect_latest_arrival_s(end_s, r["cpu_free_s"], r["gpu_free_s"], *speeds)
        if plan.power_w == r["radio"].min_power_w:
            assert plan.arrival_s <= latest_s + TIME_ATOL_S
            continue
        stretched += 1
        assert plan.arrival_s == pytest.approx(latest_s, abs=1e-8)
        assert plan.upload_s == pytest.approx(latest_s - r["forward_s"] - r["now_s"], abs=1e-8)
        assert plan.finish_s == pytest.approx(end_s, abs=1e-8)
        assert plan.energy_tx_j == pytest.approx(plan.power_w * plan.upload_s, rel=1e-12)
    assert stretched > INSTANCES // 5


def test_infeasible_request_is_planned_at_full_power_and_flagged():
    request = _random_request(np.random.default_rng(27), radio_heavy=False)
    request.update(deadline_s=request["now_s"] + 0.5, gpu_free_s=request["now_s"] + 30.0)
    for rule in ("energy", "max", "deadline"):
        plan = _plan(request, rule)
        assert not plan.feasible
        assert plan.power_w == request["radio"].max_power_w
        assert plan.finish_s > request["deadline_s"]


def test_upload_overlapping_queue_wait_costs_no_more_than_additive_split():
    rng = np.random.default_rng(28)
    for _ in range(INSTANCES // 2):
        request = _random_request(rng, radio_heavy=True)
        request.update(cpu_free_s=request["now_s"] + rng.uniform(0.0, 5.0))
        request.update(gpu_free_s=request["cpu_free_s"])
        plan = _plan(request, "deadline")
        if not plan.feasible:
            continue
        r = request
        wait_s = r["gpu_free_s"] - r["now_s"]
        end_s = r["deadline_s"] - r["params"].overhead_s - r["return_s"]
        # The additive split charges the queue wait on top of the upload and compute times.
        budget_s = end_s - r["now_s"] - r["forward_s"] - wait_s
        best_j = math.inf
        for upload_s in np.linspace(0.0, budget_s, 60)[1:-1]:
            power_w = least_power_w(r["bits"], upload_s, r["gain"], r["radio"])
            allocation = energy_optimal_allocation(
                r["work_gpu"],
                r["work_cpu"],
                r["params"],
                budget_s - upload_s,
                use_cpu=r["use_cpu"],
            )
            if math.isfinite(power_w) and allocation is not None:
                sent_s = _shannon_time_s(r["bits"], power_w, r["gain"], r["radio"])
                best_j = min(best_j, power_w * sent_s + allocation.energy_j)
        assert plan.energy_tx_j + plan.energy_compute_j <= best_j * (1 + 1e-9)


def test_allocate_runs_energy_optimal_when_idle_and_full_speed_when_others_wait():
    params = _default_compute()
    work_gpu, work_cpu = work_cycles(30, 512, 2, params)
    idle = allocate("energy", 0.0, 20.0, 0.0, 0.0, work_gpu, work_cpu, params, server_idle=True)
    expected = energy_optimal_allocation(work_gpu, work_cpu, params, 20.0)
    assert idle == expected
    busy = allocate("energy", 0.0, 20.0, 0.0, 0.0, work_gpu, work_cpu, params, server_idle=False)
    assert busy.gpu_hz == params.gpu_max_hz
    assert finish_time_s(0.0, 0.0, 0.0, busy) == pytest.approx(
        max_speed_finish_s(0.0, 0.0, 0.0, *_speeds(work_gpu, work_cpu, params)), rel=1e-12
    )
    late = allocate("deadline", 0.0, 1.0, 0.0, 0.0, work_gpu, work_cpu, params, True)
    assert late.gpu_hz == params.gpu_max_hz


@pytest.mark.parametrize("rule", ["energy", "max", "deadline"])
def test_allocation_on_arrival_as_planned_is_the_plans_known_split(rule):
    rng = np.random.default_rng(9)
    checked = 0
    for _ in range(300):
        request = _random_request(rng, radio_heavy=bool(rng.integers(2)))
        plan = _plan(request, rule)
        if plan.known_split is None:
            continue
        end_s = request["deadline_s"] - request["params"].overhead_s - request["return_s"]
        args = (
            plan.arrival_s,
            end_s,
            request["cpu_free_s"],
            request["gpu_free_s"],
            request["work_gpu"],
            request["work_cpu"],
            request["params"],
            False,
            request["use_cpu"],
        )
        fresh = allocate(rule, *args)
        assert allocate(rule, *args, known=plan.known_split) == fresh
        if rule != "deadline":
            assert plan.known_split.allocation == fresh
        checked += 1
    assert checked > 50


def test_allocate_takes_a_known_split_only_for_the_same_waits_and_at_full_speed():
    params = _default_compute()
    work_gpu, work_cpu = work_cycles(30, 512, 2, params)
    marker = Allocation(0.5, 1e9, 1e9, 1.0, 1.0, 1.0, 1.0)  # no rule would choose it
    known = KnownSplit(1.0, 0.0, marker)
    busy = ("max", 0.0, 20.0, 1.0, 0.0, work_gpu, work_cpu, params, False)
    assert allocate(*busy, known=known) is marker
    assert allocate(*busy, known=KnownSplit(1.0, 0.5, marker)) != marker
    assert allocate(*busy, known=KnownSplit(1.0, 0.5, marker)) == allocate(*busy)
    idle = ("deadline", 0.0, 20.0, 1.0, 0.0, work_gpu, work_cpu, params, True)
    assert allocate(*idle, known=known) == allocate(*idle) != marker


@pytest.mark.parametrize("rule", ["energy", "max", "deadline"])
def test_request_with_nothing_to_upload_arrives_after_forwarding_and_spends_no_radio_energy(
    rule,
):
    request = _random_request(np.random.default_rng(29), radio_heavy=False)
    request.update(bits=0.0, cpu_free_s=0.0, gpu_free_s=0.0, deadline_s=request["now_s"] + 30)
    plan = _plan(request, rule)
    assert plan.feasible
    assert plan.upload_s == 0.0
    assert plan.energy_tx_j == 0.0
    assert plan.arrival_s == pytest.approx(request["now_s"] + request["forward_s"], abs=1e-12)
    _assert_meets_deadline(plan, request)
