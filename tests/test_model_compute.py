"""CPU/GPU allocations of model section 5 checked against numerical optimisers.

The numerical reference never uses the closed forms: for a share ``rho`` each unit runs at the
slowest frequency that meets its budget (any faster only costs more, since energy grows with
``f**2``), and the share is searched by a dense grid refined with a bounded scalar minimiser
around the best grid points. A second reference solves the full three-variable problem with
SLSQP from several starts.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from edgesim.model.compute import (
    ComputeParams,
    allocation_energy_j,
    energy_optimal_allocation,
    latency_optimal_allocation,
    work_cycles,
)
from edgesim.scenario import load_scenario

RTOL = 1e-6
INSTANCES = 300
GRID_POINTS = 2001
DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"


@functools.cache
def _default_params() -> ComputeParams:
    """The hardware of ``scenarios/default.yaml``, the one source of the model's constants."""
    return ComputeParams.from_scenario(load_scenario(DEFAULT_SCENARIO).servers)


@pytest.fixture(scope="module")
def default_params() -> ComputeParams:
    """The compute parameters of the default scenario."""
    return _default_params()


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(math.log(low), math.log(high))))


def _feasible_shares(work_gpu, work_cpu, p, cpu_budget_s, gpu_budget_s, use_cpu=True):
    """The interval of CPU shares that both units can finish in time at their ceilings."""
    low = 1.0 if gpu_budget_s <= 0.0 else max(0.0, 1.0 - p.gpu_max_hz * gpu_budget_s / work_gpu)
    high = 0.0
    if use_cpu and cpu_budget_s > 0.0:
        high = min(1.0, p.cpu_max_hz * p.cores * cpu_budget_s / work_cpu)
    return low, high


def _energy_at_shares(shares, work_gpu, work_cpu, p, cpu_budget_s, gpu_budget_s):
    """Least energy at each share, each unit at its slowest adequate frequency (inf if none)."""
    shares = np.atleast_1d(np.asarray(shares, dtype=float))
    cpu_cycles = shares * work_cpu
    gpu_cycles = (1.0 - shares) * work_gpu
    with np.errstate(divide="ignore", invalid="ignore"):
        cpu_need = cpu_cycles / (p.cores * max(cpu_budget_s, 1e-300))
        gpu_need = gpu_cycles / max(gpu_budget_s, 1e-300)
    cpu_hz = np.maximum(cpu_need, p.cpu_min_hz)
    gpu_hz = np.maximum(gpu_need, p.gpu_min_hz)
    energy = p.cpu_kappa * cpu_cycles * cpu_hz**2 + p.gpu_kappa * gpu_cycles * gpu_hz**2
    too_fast = ((cpu_cycles > 0) & (cpu_need > p.cpu_max_hz * (1 + 1e-12))) | (
        (gpu_cycles > 0) & (gpu_need > p.gpu_max_hz * (1 + 1e-12))
    )
    return np.where(too_fast, np.inf, energy)


def _numerical_least_energy(work_gpu, work_cpu, p, cpu_budget_s, gpu_budget_s, use_cpu=True):
    """Grid search over the share, refined around the two best grid points; None if infeasible."""
    low, high = _feasible_shares(work_gpu, work_cpu, p, cpu_budget_s, gpu_budget_s, use_cpu)
    if low > high:
        return None

    def energy(share: float) -> float:
        # The grid's formula on one float, in plain Python for speed.
        cpu_cycles, gpu_cycles = share * work_cpu, (1.0 - share) * work_gpu
        total_j = 0.0
        if cpu_cycles > 0.0:
            cpu_need = cpu_cycles / (p.cores * cpu_budget_s)
            if cpu_need > p.cpu_max_hz * (1 + 1e-12):
                return math.inf
            total_j += p.cpu_kappa * cpu_cycles * max(cpu_need, p.cpu_min_hz) ** 2
        if gpu_cycles > 0.0:
            gpu_need = gpu_cycles / gpu_budget_s
            if gpu_need > p.gpu_max_hz * (1 + 1e-12):
                return math.inf
            total_j += p.gpu_kappa * gpu_cycles * max(gpu_need, p.gpu_min_hz) ** 2
        return total_j

    grid = np.linspace(low, high, GRID_POINTS)
    values = _energy_at_shares(grid, work_gpu, work_cpu, p, cpu_budget_s, gpu_budget_s)
    best = float(values.min())
    for index in np.argsort(values)[:2]:
        left, right = grid[max(index - 1, 0)], grid[min(index + 1, GRID_POINTS - 1)]
        if right > left:
            result = optimize.minimize_scalar(
                energy, bounds=(left, right), method="bounded", options={"xatol": 1e-14}
            )
            best = min(best, float(result.fun))
    return best


def _slsqp_least_energy(work_gpu, work_cpu, p, budget_s, starts):
    """The full problem over (share, f_C, f_G) by SLSQP, frequencies scaled to their ceilings."""
    scale_j = allocation_energy_j(0.5, p.cpu_max_hz, p.gpu_max_hz, work_gpu, work_cpu, p)

    def energy(x):
        share, cpu, gpu = x
        return (
            allocation_energy_j(
                share, cpu * p.cpu_max_hz, gpu * p.gpu_max_hz, work_gpu, work_cpu, p
            )
            / scale_j
        )

    constraints = [
        {
            "type": "ineq",
            "fun": lambda x: x[1] * p.cores * p.cpu_max_hz * budget_s / work_cpu - x[0],
        },
        {"type": "ineq", "fun": lambda x: x[2] * p.gpu_max_hz * budget_s / work_gpu - (1.0 - x[0])},
    ]
    bounds = [(0.0, 1.0), (p.cpu_min_hz / p.cpu_max_hz, 1.0), (p.gpu_min_hz / p.gpu_max_hz, 1.0)]
    best = math.inf
    for start in starts:
        result = optimize.minimize(
            energy,
            start,
            method="SLSQP",
            bounds=bounds,
            constraints=constraints,
            options={"ftol": 1e-14, "maxiter": 500},
        )
        violation = min(c["fun"](result.x) for c in constraints)
        if result.success and violation > -1e-9:
            best = min(best, result.fun * scale_j)
    return best


def _random_params(rng: np.random.Generator) -> ComputeParams:
    gpu_max = _log_uniform(rng, 1e8, 1e10)
    cpu_max = _log_uniform(rng, 1e8, 1e10)
    return dataclasses.replace(
        _default_params(),
        cores=int(rng.integers(1, 129)),
        gpu_max_hz=gpu_max,
        gpu_min_hz=gpu_max * rng.uniform(0.01, 1.0),
        cpu_max_hz=cpu_max,
        cpu_min_hz=cpu_max * rng.uniform(0.01, 1.0),
        gpu_kappa=_log_uniform(rng, 1e-28, 1e-23),
        cpu_kappa=_log_uniform(rng, 1e-30, 1e-25),
    )


def _designed_instance(rng: np.random.Generator, regime: str):
    """An instance whose unconstrained optimum is a chosen interior share, with frequency
    bounds placed so that ``regime`` binds (or none does)."""
    work_gpu = _log_uniform(rng, 1e9, 1e11)
    work_cpu = _log_uniform(rng, 1e12, 1e14)
    cores = int(rng.integers(4, 65))
    budget_s = _log_uniform(rng, 0.5, 30.0)
    share = rng.uniform(0.05, 0.95)
    gpu_kappa = _log_uniform(rng, 1e-27, 1e-24)
    cubic_gpu = gpu_kappa * work_gpu**3 / budget_s**2
    cubic_cpu = cubic_gpu * ((1.0 - share) / share) ** 2
    cpu_kappa = cubic_cpu * cores**2 * budget_s**2 / work_cpu**3
    cpu_hz = share * work_cpu / (cores * budget_s)
    gpu_hz = (1.0 - share) * work_gpu / budget_s

    cpu_min, cpu_max = cpu_hz * rng.uniform(0.1, 0.9), cpu_hz * rng.uniform(1.1, 3.0)
    gpu_min, gpu_max = gpu_hz * rng.uniform(0.1, 0.9), gpu_hz * rng.uniform(1.1, 3.0)
    if regime == "gpu_ceiling":
        gpu_max = gpu_hz * rng.uniform(0.3, 0.95)
        gpu_min = gpu_max * rng.uniform(0.1, 0.9)
        share_low = 1.0 - gpu_max * budget_s / work_gpu
        cpu_max = share_low * work_cpu / (cores * budget_s) * rng.uniform(1.05, 3.0)
    elif regime == "cpu_ceiling":
        cpu_max = cpu_hz * rng.uniform(0.3, 0.95)
        cpu_min = cpu_max * rng.uniform(0.1, 0.9)
        share_high = cpu_max * cores * budget_s / work_cpu
        gpu_max = (1.0 - share_high) * work_gpu / budget_s * rng.uniform(1.05, 3.0)
    if regime in ("gpu_floor", "both_floors"):
        gpu_min = gpu_hz * rng.uniform(1.1, 3.0)
        gpu_max = gpu_min * rng.uniform(5.0, 20.0)
    if regime in ("cpu_floor", "both_floors"):
        cpu_min = cpu_hz * rng.uniform(1.1, 3.0)
        cpu_max = cpu_min * rng.uniform(5.0, 20.0)
    params = dataclasses.replace(
        _default_params(),
        cores=cores,
        gpu_min_hz=gpu_min,
        gpu_max_hz=gpu_max,
        cpu_min_hz=cpu_min,
        cpu_max_hz=cpu_max,
        gpu_kappa=gpu_kappa,
        cpu_kappa=cpu_kappa,
    )
    return work_gpu, work_cpu, params, budget_s, share


def _assert_meets_budgets_and_bounds(allocation, params, cpu_budget_s, gpu_budget_s):
    slack = 1e-9
    assert 0.0 <= allocation.cpu_share <= 1.0
    if allocation.cpu_time_s > 0.0:
        assert allocation.cpu_time_s <= cpu_budget_s * (1 + slack)
        assert params.cpu_min_hz * (1 - slack) <= allocation.cpu_hz
        assert allocation.cpu_hz <= params.cpu_max_hz * (1 + slack)
    else:
        assert allocation.energy_cpu_j == 0.0
    if allocation.gpu_time_s > 0.0:
        assert allocation.gpu_time_s <= gpu_budget_s * (1 + slack)
        assert params.gpu_min_hz * (1 - slack) <= allocation.gpu_hz
        assert allocation.gpu_hz <= params.gpu_max_hz * (1 + slack)
    else:
        assert allocation.energy_gpu_j == 0.0


def _assert_matches_reference(work_gpu, work_cpu, params, cpu_budget_s, gpu_budget_s, use_cpu=True):
    allocation = energy_optimal_allocation(
        work_gpu, work_cpu, params, cpu_budget_s, gpu_budget_s, use_cpu=use_cpu
    )
    reference = _numerical_least_energy(
        work_gpu, work_cpu, params, cpu_budget_s, gpu_budget_s, use_cpu
    )
    if reference is None:
        assert allocation is None
        return None
    assert allocation is not None
    _assert_meets_budgets_and_bounds(allocation, params, cpu_budget_s, gpu_budget_s)
    assert allocation.energy_j == pytest.approx(reference, rel=RTOL)
    recomputed = allocation_energy_j(
        allocation.cpu_share, allocation.cpu_hz, allocation.gpu_hz, work_gpu, work_cpu, params
    )
    assert allocation.energy_j == pytest.approx(recomputed, rel=1e-12)
    return allocation


def _close(value: float, target: float) -> bool:
    return math.isclose(value, target, rel_tol=1e-9)


def test_work_grows_with_steps_images_and_resolution_power(default_params):
    params = default_params
    gpu, cpu = work_cycles(30, 768, 4, params)
    scale = 30 * 4 * 1.5**2.2
    assert gpu == pytest.approx(scale * 6.5e7, rel=1e-12)
    assert cpu == pytest.approx(scale * 1.6e11, rel=1e-12)
    assert work_cycles(10, 512, 1, params) == pytest.approx((6.5e8, 1.6e12), rel=1e-12)


def test_energy_optimal_split_is_closed_form_share_when_no_bound_binds():
    rng = np.random.default_rng(101)
    for _ in range(INSTANCES):
        work_gpu, work_cpu, params, budget_s, share = _designed_instance(rng, "interior")
        allocation = _assert_matches_reference(work_gpu, work_cpu, params, budget_s, budget_s)
        assert allocation.cpu_share == pytest.approx(share, rel=1e-9)
        assert allocation.cpu_time_s == pytest.approx(budget_s, rel=1e-9)
        assert allocation.gpu_time_s == pytest.approx(budget_s, rel=1e-9)
        cubic_cpu = params.cpu_kappa * work_cpu**3 / params.cores**2
        cubic_gpu = params.gpu_kappa * work_gpu**3
        expected_j = (cubic_cpu * share**3 + cubic_gpu * (1 - share) ** 3) / budget_s**2
        assert allocation.energy_j == pytest.approx(expected_j, rel=1e-9)
        assert share == pytest.approx(1 / (1 + math.sqrt(cubic_cpu / cubic_gpu)), rel=1e-9)


@pytest.mark.parametrize(
    ("regime", "binds"),
    [
        ("gpu_ceiling", lambda a, p: _close(a.gpu_hz, p.gpu_max_hz)),
        ("cpu_ceiling", lambda a, p: _close(a.cpu_hz, p.cpu_max_hz)),
        ("gpu_floor", lambda a, p: a.gpu_hz == 0.0 or _close(a.gpu_hz, p.gpu_min_hz)),
        ("cpu_floor", lambda a, p: a.cpu_hz == 0.0 or _close(a.cpu_hz, p.cpu_min_hz)),
        (
            "both_floors",
            # Both floors sit above the unconstrained frequencies: the unit that is cheaper
            # at its floor may take more work and leave it, but the other stays on its own.
            lambda a, p: (
                a.cpu_hz == 0.0
                or a.gpu_hz == 0.0
                or _close(a.cpu_hz, p.cpu_min_hz)
                or _close(a.gpu_hz, p.gpu_min_hz)
            ),
        ),
    ],
)
def test_energy_optimal_split_matches_numerical_optimum_when_a_bound_binds(regime, binds):
    rng = np.random.default_rng(sum(map(ord, regime)))
    for _ in range(INSTANCES):
        work_gpu, work_cpu, params, budget_s, _ = _designed_instance(rng, regime)
        allocation = _assert_matches_reference(work_gpu, work_cpu, params, budget_s, budget_s)
        assert binds(allocation, params)


def test_energy_optimal_split_matches_numerical_optimum_on_random_parameters():
    rng = np.random.default_rng(202)
    feasible = 0
    for _ in range(INSTANCES):
        params = _random_params(rng)
        work_gpu = _log_uniform(rng, 1e7, 1e12)
        work_cpu = _log_uniform(rng, 1e9, 1e15)
        cpu_budget_s = _log_uniform(rng, 0.01, 100.0)
        gpu_budget_s = cpu_budget_s if rng.random() < 0.5 else _log_uniform(rng, 0.01, 100.0)
        allocation = _assert_matches_reference(
            work_gpu, work_cpu, params, cpu_budget_s, gpu_budget_s
        )
        feasible += allocation is not None
    assert 0.2 * INSTANCES < feasible < 0.95 * INSTANCES


def test_energy_optimal_split_matches_numerical_optimum_at_default_hardware(default_params):
    rng = np.random.default_rng(303)
    params = default_params
    levels = [(10, 512), (20, 512), (30, 512), (50, 512), (30, 768)]
    floors = 0
    for _ in range(INSTANCES):
        steps, resolution = levels[rng.integers(len(levels))]
        work_gpu, work_cpu = work_cycles(steps, resolution, int(rng.choice([1, 2, 4])), params)
        cpu_budget_s = rng.uniform(0.5, 30.0)
        gpu_budget_s = cpu_budget_s - rng.uniform(0.0, 3.0) * (rng.random() < 0.5)
        allocation = _assert_matches_reference(
            work_gpu, work_cpu, params, cpu_budget_s, gpu_budget_s
        )
        floors += allocation is not None and _close(allocation.gpu_hz, params.gpu_min_hz)
    assert floors > 0


def test_energy_optimal_split_agrees_with_slsqp_on_the_full_problem():
    rng = np.random.default_rng(404)
    starts = [(0.5, 1.0, 1.0), (0.05, 1.0, 1.0), (0.95, 1.0, 1.0), (0.3, 0.7, 0.9)]
    for regime in ("interior", "gpu_ceiling", "cpu_ceiling", "gpu_floor", "cpu_floor"):
        for _ in range(12):
            work_gpu, work_cpu, params, budget_s, _ = _designed_instance(rng, regime)
            allocation = energy_optimal_allocation(work_gpu, work_cpu, params, budget_s)
            slsqp_j = _slsqp_least_energy(work_gpu, work_cpu, params, budget_s, starts)
            # SLSQP stops on its own tolerances: it may only be slightly worse, never better.
            assert allocation.energy_j <= slsqp_j * (1 + 1e-9)
            assert allocation.energy_j == pytest.approx(slsqp_j, rel=1e-5)


def test_energy_optimal_split_returns_none_exactly_when_max_frequencies_miss_the_budget():
    rng = np.random.default_rng(505)
    for _ in range(INSTANCES):
        params = _random_params(rng)
        work_gpu = _log_uniform(rng, 1e8, 1e11)
        work_cpu = _log_uniform(rng, 1e11, 1e14)
        fastest = latency_optimal_allocation(work_gpu, work_cpu, params)
        fastest_s = max(fastest.cpu_time_s, fastest.gpu_time_s)
        ratio = rng.uniform(0.3, 3.0)
        if abs(ratio - 1.0) < 1e-6:
            continue
        allocation = energy_optimal_allocation(work_gpu, work_cpu, params, fastest_s * ratio)
        assert (allocation is None) == (ratio < 1.0)


def test_energy_optimal_split_with_unequal_budgets_is_feasible_iff_latency_optimum_meets_them():
    rng = np.random.default_rng(606)
    for _ in range(INSTANCES):
        params = _random_params(rng)
        work_gpu = _log_uniform(rng, 1e8, 1e11)
        work_cpu = _log_uniform(rng, 1e11, 1e14)
        cpu_budget_s = rng.uniform(-1.0, 10.0)
        gpu_budget_s = rng.uniform(-1.0, 10.0)
        end_s = max(cpu_budget_s, gpu_budget_s)
        cpu_wait_s, gpu_wait_s = end_s - cpu_budget_s, end_s - gpu_budget_s
        fastest = latency_optimal_allocation(work_gpu, work_cpu, params, cpu_wait_s, gpu_wait_s)
        finish_s = max(
            cpu_wait_s + fastest.cpu_time_s if fastest.cpu_time_s > 0 else 0.0,
            gpu_wait_s + fastest.gpu_time_s if fastest.gpu_time_s > 0 else 0.0,
        )
        if end_s <= 0.0 or abs(finish_s - end_s) < 1e-7 * end_s:
            continue
        allocation = _assert_matches_reference(
            work_gpu, work_cpu, params, cpu_budget_s, gpu_budget_s
        )
        assert (allocation is None) == (finish_s > end_s)


def test_energy_optimal_split_without_cpu_runs_gpu_at_slowest_adequate_frequency():
    rng = np.random.default_rng(707)
    for _ in range(INSTANCES):
        params = _random_params(rng)
        work_gpu = _log_uniform(rng, 1e8, 1e11)
        budget_s = _log_uniform(rng, 0.01, 100.0)
        allocation = _assert_matches_reference(
            work_gpu, 1e13, params, budget_s, budget_s, use_cpu=False
        )
        needed_hz = work_gpu / budget_s
        if needed_hz > params.gpu_max_hz:
            assert allocation is None
            continue
        gpu_hz = max(needed_hz, params.gpu_min_hz)
        assert allocation.cpu_share == 0.0
        assert allocation.energy_cpu_j == 0.0
        assert allocation.gpu_hz == pytest.approx(gpu_hz, rel=1e-12)
        assert allocation.energy_j == pytest.approx(
            params.gpu_kappa * work_gpu * gpu_hz**2, rel=1e-12
        )


def _finish_s(share, work_gpu, work_cpu, cpu_hz, gpu_hz, cores, cpu_wait_s, gpu_wait_s):
    """When the later unit finishes; a unit given no work does not count."""
    finish_s = 0.0
    if share > 0.0:
        finish_s = cpu_wait_s + share * work_cpu / (cores * cpu_hz)
    if share < 1.0:
        finish_s = max(finish_s, gpu_wait_s + (1.0 - share) * work_gpu / gpu_hz)
    return finish_s


def _numerical_least_finish(work_gpu, work_cpu, cpu_hz, gpu_hz, cores, cpu_wait_s, gpu_wait_s):
    args = (work_gpu, work_cpu, cpu_hz, gpu_hz, cores, cpu_wait_s, gpu_wait_s)
    best = min(_finish_s(0.0, *args), _finish_s(1.0, *args))
    result = optimize.minimize_scalar(
        lambda s: _finish_s(s, *args),
        bounds=(0.0, 1.0),
        method="bounded",
        options={"xatol": 1e-14},
    )
    best = min(best, float(result.fun))

    def gap(share):
        return (
            cpu_wait_s
            + share * work_cpu / (cores * cpu_hz)
            - (gpu_wait_s + (1.0 - share) * work_gpu / gpu_hz)
        )

    if gap(0.0) < 0.0 < gap(1.0):
        best = min(best, _finish_s(optimize.brentq(gap, 0.0, 1.0, xtol=1e-16), *args))
    return best


def test_latency_optimal_split_minimises_finish_time_with_unit_waits():
    rng = np.random.default_rng(808)
    for _ in range(INSTANCES):
        params = _random_params(rng)
        work_gpu = _log_uniform(rng, 1e8, 1e11)
        work_cpu = _log_uniform(rng, 1e10, 1e14)
        cpu_hz = rng.uniform(params.cpu_min_hz, params.cpu_max_hz)
        gpu_hz = rng.uniform(params.gpu_min_hz, params.gpu_max_hz)
        alone_s = work_gpu / gpu_hz
        cpu_wait_s = alone_s * rng.uniform(0.0, 1.5) * (rng.random() < 0.7)
        gpu_wait_s = alone_s * rng.uniform(0.0, 1.5) * (rng.random() < 0.7)
        allocation = latency_optimal_allocation(
            work_gpu, work_cpu, params, cpu_wait_s, gpu_wait_s, cpu_hz, gpu_hz
        )
        args = (work_gpu, work_cpu, cpu_hz, gpu_hz, params.cores, cpu_wait_s, gpu_wait_s)
        achieved_s = _finish_s(allocation.cpu_share, *args)
        assert achieved_s == pytest.approx(_numerical_least_finish(*args), rel=1e-9)
        cpu_part_s = allocation.cpu_share * work_cpu / (params.cores * cpu_hz)
        assert allocation.cpu_time_s == pytest.approx(cpu_part_s, rel=1e-12)


def test_latency_optimal_split_without_waits_is_proportional_to_speeds():
    rng = np.random.default_rng(909)
    for _ in range(INSTANCES):
        params = _random_params(rng)
        work_gpu = _log_uniform(rng, 1e8, 1e11)
        work_cpu = _log_uniform(rng, 1e10, 1e14)
        allocation = latency_optimal_allocation(work_gpu, work_cpu, params)
        speed_cpu = params.cores * params.cpu_max_hz / work_cpu
        speed_gpu = params.gpu_max_hz / work_gpu
        assert allocation.cpu_share == pytest.approx(speed_cpu / (speed_cpu + speed_gpu), rel=1e-12)
        assert allocation.cpu_time_s == pytest.approx(1 / (speed_cpu + speed_gpu), rel=1e-12)
        assert allocation.gpu_time_s == pytest.approx(1 / (speed_cpu + speed_gpu), rel=1e-12)
        args = (work_gpu, work_cpu, params.cpu_max_hz, params.gpu_max_hz, params.cores, 0, 0)
        assert allocation.cpu_time_s == pytest.approx(_numerical_least_finish(*args), rel=1e-9)


def test_latency_optimal_split_leaves_cpu_idle_when_its_wait_outlasts_gpu_job(default_params):
    params = default_params
    allocation = latency_optimal_allocation(1e10, 1e13, params, cpu_wait_s=8.0, gpu_wait_s=0.0)
    assert allocation.cpu_share == 0.0
    assert allocation.cpu_time_s == 0.0
    assert allocation.gpu_time_s == pytest.approx(1e10 / 1.41e9, rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.integers(1, 100),
    images=st.integers(1, 8),
    resolution=st.sampled_from([256, 512, 768, 1024]),
    budget_factor=st.floats(1.0, 20.0),
    gpu_max_ghz=st.floats(0.7, 3.0),
    cpu_max_ghz=st.floats(1.1, 5.0),
)
def test_energy_optimal_never_costs_more_than_latency_optimal_at_max_frequency(
    steps, images, resolution, budget_factor, gpu_max_ghz, cpu_max_ghz
):
    params = dataclasses.replace(
        _default_params(), gpu_max_hz=gpu_max_ghz * 1e9, cpu_max_hz=cpu_max_ghz * 1e9
    )
    work_gpu, work_cpu = work_cycles(steps, resolution, images, params)
    fastest = latency_optimal_allocation(work_gpu, work_cpu, params)
    budget_s = max(fastest.cpu_time_s, fastest.gpu_time_s) * budget_factor * (1 + 1e-9)
    allocation = energy_optimal_allocation(work_gpu, work_cpu, params, budget_s)
    assert allocation is not None
    assert allocation.energy_j <= fastest.energy_j * (1 + 1e-12)
    _assert_meets_budgets_and_bounds(allocation, params, budget_s, budget_s)


@settings(max_examples=150, deadline=None)
@given(
    budget_s=st.floats(0.05, 60.0),
    longer_budget_s=st.floats(0.0, 10.0),
    use_cpu=st.booleans(),
)
def test_energy_optimal_energy_never_rises_with_a_longer_budget(budget_s, longer_budget_s, use_cpu):
    params = _default_params()
    work_gpu, work_cpu = work_cycles(30, 512, 2, params)
    shorter = energy_optimal_allocation(work_gpu, work_cpu, params, budget_s, use_cpu=use_cpu)
    longer = energy_optimal_allocation(
        work_gpu, work_cpu, params, budget_s + longer_budget_s, use_cpu=use_cpu
    )
    if shorter is not None:
        assert longer is not None
        assert longer.energy_j <= shorter.energy_j * (1 + 1e-12)
