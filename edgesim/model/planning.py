"""End-to-end plan of one request at decision time (model section 6).

Times are absolute seconds. The request uploads from ``now_s`` for ``upload_s`` seconds, is
forwarded over the backhaul for ``forward_s`` seconds and reaches the server; each unit starts
on it once both the request has arrived and the unit has finished the work ahead of it
(``cpu_free_s``, ``gpu_free_s``); it must finish computing, plus the fixed overhead and the
return trip (``return_s``), by its deadline.

Uploading more slowly saves transmit energy but leaves less time to compute. Because a queued
request waits anyway, the upload may take that waiting time for free: the compute budget of a
unit is ``end - max(arrival, unit free)``, so the plan is exact where the model's simpler
additive split ignores the overlap. With a fixed-frequency rule the compute time is known and
the upload takes all the rest at the least power; otherwise the total energy, convex in the
upload time, is minimised by golden-section search.
"""

from __future__ import annotations

import functools
import math
from typing import Literal, NamedTuple

from edgesim.model.compute import (
    Allocation,
    ComputeParams,
    LeastEnergySplit,
    energy_optimal_allocation,
    latency_optimal_allocation,
)
from edgesim.model.radio import RadioParams, least_power_w, rate_bps

__all__ = [
    "KnownSplit",
    "Plan",
    "allocate",
    "convex_minimum",
    "finish_time_s",
    "latest_arrival_s",
    "max_speed_finish_s",
    "plan_request",
]

DvfsRule = Literal["energy", "max", "deadline"]
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_SEARCH_STEPS = 40


class KnownSplit(NamedTuple):
    """A latency-optimal allocation at maximum frequencies and the unit waits it was computed
    for; :func:`allocate` returns it instead of computing it again for the same waits."""

    cpu_wait_s: float
    gpu_wait_s: float
    allocation: Allocation


class Plan(NamedTuple):
    """A request's planned upload and predicted compute.

    ``feasible`` is False when no plan meets the deadline; the request is then planned at
    maximum power and frequencies (best effort). ``cpu_end_s`` and ``gpu_end_s`` are when each
    unit is predicted to be free again after this request (unchanged for an unused unit), and
    ``finish_s`` when its computing ends (before the overhead and return trip).
    ``known_split`` is the plan's allocation when it runs both units at maximum frequencies
    (``None`` otherwise), to pass to :func:`allocate` when the request reaches its server.
    """

    feasible: bool
    power_w: float
    upload_s: float
    arrival_s: float
    cpu_end_s: float
    gpu_end_s: float
    finish_s: float
    energy_tx_j: float
    energy_compute_j: float
    known_split: KnownSplit | None = None


def _make_plan(
    feasible: bool,
    power_w: float,
    upload_s: float,
    arrival_s: float,
    cpu_free_s: float,
    gpu_free_s: float,
    allocation: Allocation,
    known_split: KnownSplit | None = None,
) -> Plan:
    cpu_end_s, gpu_end_s, finish_s = _unit_ends_s(arrival_s, cpu_free_s, gpu_free_s, allocation)
    return Plan(
        feasible,
        power_w,
        upload_s,
        arrival_s,
        cpu_end_s,
        gpu_end_s,
        finish_s,
        power_w * upload_s,
        allocation.energy_j,
        known_split,
    )


def finish_time_s(
    arrival_s: float, cpu_free_s: float, gpu_free_s: float, allocation: Allocation
) -> float:
    """When the last unit finishes its part, each starting once it is free and the request
    has arrived (no overhead)."""
    return _unit_ends_s(arrival_s, cpu_free_s, gpu_free_s, allocation)[2]


def _unit_ends_s(
    arrival_s: float, cpu_free_s: float, gpu_free_s: float, allocation: Allocation
) -> tuple[float, float, float]:
    """(CPU free again, GPU free again, last part done) after the request's parts, each
    starting once its unit is free and the request has arrived; a unit without a part keeps
    its free time, and with no part at all the request is done on arrival."""
    # Conditional expressions rather than max(): this runs for every decided request.
    cpu_end_s, gpu_end_s, finish_s = cpu_free_s, gpu_free_s, arrival_s
    if allocation.cpu_time_s > 0.0:
        cpu_end_s = (cpu_free_s if cpu_free_s > arrival_s else arrival_s) + allocation.cpu_time_s
        finish_s = cpu_end_s
    if allocation.gpu_time_s > 0.0:
        gpu_end_s = (gpu_free_s if gpu_free_s > arrival_s else arrival_s) + allocation.gpu_time_s
        if gpu_end_s > finish_s:
            finish_s = gpu_end_s
    return cpu_end_s, gpu_end_s, finish_s


def max_speed_finish_s(
    arrival_s: float, cpu_free_s: float, gpu_free_s: float, speed_cpu: float, speed_gpu: float
) -> float:
    """When a request arriving at ``arrival_s`` finishes at maximum frequencies (no overhead)."""
    # Conditional expressions rather than max(): this runs for every server and level the
    # policies look at, and a builtin call costs several times more.
    start_cpu = cpu_free_s if cpu_free_s > arrival_s else arrival_s
    start_gpu = gpu_free_s if gpu_free_s > arrival_s else arrival_s
    if speed_cpu == 0.0 or start_gpu + 1.0 / speed_gpu <= start_cpu:
        return start_gpu + 1.0 / speed_gpu
    if start_cpu + 1.0 / speed_cpu <= start_gpu:
        return start_cpu + 1.0 / speed_cpu
    return (1.0 + speed_cpu * start_cpu + speed_gpu * start_gpu) / (speed_cpu + speed_gpu)


def latest_arrival_s(
    end_s: float, cpu_free_s: float, gpu_free_s: float, speed_cpu: float, speed_gpu: float
) -> float:
    """The latest arrival at the server that still finishes by ``end_s`` at full speed.

    ``speed_*`` are the fractions of the job each unit does per second at maximum frequency
    (``speed_cpu`` is 0 when the CPU is not used). Returns ``-inf`` when even an arrival now
    is too late. The finish time is piecewise linear and non-decreasing in the arrival time,
    constant before the first unit frees up, so each piece is solved in closed form.
    """
    early_free, late_free = (
        (cpu_free_s, gpu_free_s) if cpu_free_s <= gpu_free_s else (gpu_free_s, cpu_free_s)
    )
    if max_speed_finish_s(early_free, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu) > end_s:
        return -math.inf
    total_speed = speed_cpu + speed_gpu
    both_running = end_s - 1.0 / total_speed
    if both_running >= late_free or speed_cpu == 0.0:
        if speed_cpu == 0.0:
            return end_s - 1.0 / speed_gpu
        return both_running
    speed_early = speed_cpu if cpu_free_s <= gpu_free_s else speed_gpu
    speed_late = total_speed - speed_early
    if end_s <= late_free:
        return end_s - 1.0 / speed_early
    return (total_speed * end_s - 1.0 - speed_late * late_free) / speed_early


def _upload(bits: float, budget_s: float, gain: float, radio: RadioParams) -> tuple[float, float]:
    """(power, actual upload time) of the least-energy upload within ``budget_s``; full power
    when no power meets the budget."""
    power_w = least_power_w(bits, budget_s, gain, radio)
    if power_w > radio.max_power_w:
        power_w = radio.max_power_w
    if bits <= 0.0:
        return power_w, 0.0
    return power_w, bits / rate_bps(power_w, gain, radio)


def allocate(
    rule: DvfsRule,
    now_s: float,
    end_s: float,
    cpu_free_s: float,
    gpu_free_s: float,
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
    server_idle: bool,
    use_cpu: bool = True,
    known: KnownSplit | None = None,
) -> Allocation:
    """The split and frequencies fixed when a request starts computing (model section 5.2).

    ``end_s`` is when computing must be done (deadline less overhead and return trip). The
    energy-optimal allocation applies under ``deadline``, and under ``energy`` when the server
    is idle; otherwise, or when no energy-optimal allocation meets the budget, both units run at
    maximum frequency with the latency-optimal split. That split is taken from ``known`` (the
    request's plan) when it was computed for the same waits.
    """
    cpu_wait_s = cpu_free_s - now_s if cpu_free_s > now_s else 0.0
    gpu_wait_s = gpu_free_s - now_s if gpu_free_s > now_s else 0.0
    if rule == "deadline" or (rule == "energy" and server_idle):
        allocation = energy_optimal_allocation(
            work_gpu,
            work_cpu,
            params,
            end_s - now_s - cpu_wait_s,
            end_s - now_s - gpu_wait_s,
            use_cpu=use_cpu,
        )
        if allocation is not None:
            return allocation
    if known is not None and known.cpu_wait_s == cpu_wait_s and known.gpu_wait_s == gpu_wait_s:
        return known.allocation
    return latency_optimal_allocation(
        work_gpu, work_cpu, params, cpu_wait_s, gpu_wait_s, None, None, use_cpu
    )


def _fixed_frequency_plan(
    feasible: bool,
    now_s: float,
    bits: float,
    upload_budget_s: float,
    gain: float,
    radio: RadioParams,
    forward_s: float,
    cpu_free_s: float,
    gpu_free_s: float,
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
    use_cpu: bool,
) -> Plan:
    power_w, upload_s = _upload(bits, upload_budget_s, gain, radio)
    arrival_s = now_s + upload_s + forward_s
    cpu_wait_s = cpu_free_s - arrival_s if cpu_free_s > arrival_s else 0.0
    gpu_wait_s = gpu_free_s - arrival_s if gpu_free_s > arrival_s else 0.0
    allocation = latency_optimal_allocation(
        work_gpu, work_cpu, params, cpu_wait_s, gpu_wait_s, None, None, use_cpu
    )
    return _make_plan(
        feasible,
        power_w,
        upload_s,
        arrival_s,
        cpu_free_s,
        gpu_free_s,
        allocation,
        KnownSplit(cpu_wait_s, gpu_wait_s, allocation),
    )


def plan_request(
    now_s: float,
    bits: float,
    gain: float,
    radio: RadioParams,
    forward_s: float,
    cpu_free_s: float,
    gpu_free_s: float,
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
    deadline_s: float,
    return_s: float,
    rule: DvfsRule,
    use_cpu: bool = True,
) -> Plan:
    """Plan the upload power and predict when and at what energy the request finishes.

    ``finish_s`` is the predicted end of computing (before the overhead and return trip).
    Under ``energy`` the request is planned energy-optimally only if the server will be idle
    by the time it can first arrive; otherwise it is planned at maximum frequencies.
    """
    speed_gpu = params.gpu_max_hz / work_gpu
    speed_cpu = params.cores * params.cpu_max_hz / work_cpu if use_cpu else 0.0
    end_s = deadline_s - params.overhead_s - return_s
    fastest_upload_s = bits / rate_bps(radio.max_power_w, gain, radio) if bits > 0.0 else 0.0
    latest_s = latest_arrival_s(end_s, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu)
    earliest_s = now_s + fastest_upload_s + forward_s
    if latest_s < earliest_s:
        return _fixed_frequency_plan(
            False,
            now_s,
            bits,
            0.0,
            gain,
            radio,
            forward_s,
            cpu_free_s,
            gpu_free_s,
            work_gpu,
            work_cpu,
            params,
            use_cpu,
        )
    idle_on_arrival = cpu_free_s <= earliest_s and gpu_free_s <= earliest_s
    if rule == "max" or (rule == "energy" and not idle_on_arrival):
        return _fixed_frequency_plan(
            True,
            now_s,
            bits,
            latest_s - forward_s - now_s,
            gain,
            radio,
            forward_s,
            cpu_free_s,
            gpu_free_s,
            work_gpu,
            work_cpu,
            params,
            use_cpu,
        )
    return _least_energy_plan(
        now_s,
        bits,
        gain,
        radio,
        forward_s,
        earliest_s,
        latest_s,
        cpu_free_s,
        gpu_free_s,
        work_gpu,
        work_cpu,
        params,
        end_s,
        use_cpu,
    )


def _least_energy_plan(
    now_s: float,
    bits: float,
    gain: float,
    radio: RadioParams,
    forward_s: float,
    earliest_s: float,
    latest_s: float,
    cpu_free_s: float,
    gpu_free_s: float,
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
    end_s: float,
    use_cpu: bool,
) -> Plan:
    split = LeastEnergySplit(work_gpu, work_cpu, params, use_cpu)

    @functools.cache
    def split_after(upload_s: float) -> tuple[float, float, float, float] | None:
        # The search evaluates some upload times twice, and the plan takes the best one's.
        arrival_s = now_s + upload_s + forward_s
        return split.solve(end_s - max(arrival_s, cpu_free_s), end_s - max(arrival_s, gpu_free_s))

    def compute_energy_after_j(upload_s: float) -> float:
        solution = split_after(upload_s)
        return math.inf if solution is None else solution[1]

    def compute_energy_j(upload_budget_s: float) -> float:
        return compute_energy_after_j(_upload(bits, upload_budget_s, gain, radio)[1])

    def total_energy_j(upload_budget_s: float) -> float:
        power_w, upload_s = _upload(bits, upload_budget_s, gain, radio)
        return power_w * upload_s + compute_energy_after_j(upload_s)

    budget_s = earliest_s - forward_s - now_s
    if bits > 0.0:
        best_s = _best_upload_budget_s(
            total_energy_j,
            compute_energy_j,
            budget_s,
            latest_s - forward_s - now_s,
            bits / rate_bps(radio.min_power_w, gain, radio),
        )
        if math.isfinite(total_energy_j(best_s)):
            budget_s = best_s
    power_w, upload_s = _upload(bits, budget_s, gain, radio)
    arrival_s = now_s + upload_s + forward_s
    solution = split_after(upload_s)
    if solution is not None:
        allocation = split.allocation(solution)
    else:
        allocation = latency_optimal_allocation(
            work_gpu,
            work_cpu,
            params,
            max(0.0, cpu_free_s - arrival_s),
            max(0.0, gpu_free_s - arrival_s),
            use_cpu=use_cpu,
        )
    return _make_plan(True, power_w, upload_s, arrival_s, cpu_free_s, gpu_free_s, allocation)


def _best_upload_budget_s(
    total_energy_j, compute_energy_j, low_s: float, high_s: float, slowest_s: float
) -> float:
    """The upload budget in ``[low_s, high_s]`` of least total energy.

    Upload energy falls with the budget until the device reaches its least power, at
    ``slowest_s``, and stays flat after; compute energy never falls as the upload takes
    longer. So nothing beyond ``slowest_s`` helps, and when compute energy is the same at both
    ends (frequencies on their floors) the slowest upload is best.
    """
    high_s = min(high_s, slowest_s)
    if high_s <= low_s:
        return low_s
    if compute_energy_j(high_s) <= compute_energy_j(low_s):
        return high_s
    return convex_minimum(total_energy_j, low_s, high_s)


def convex_minimum(f, low: float, high: float) -> float:
    """Where a convex ``f`` is least on ``[low, high]``.

    When ``f`` does not fall just right of ``low`` it cannot fall later (convexity), which
    settles the common case of a tight deadline in two evaluations; otherwise golden-section
    search narrows the bracket and the cheaper of its ends is returned.
    """
    f_low = f(low)
    if f(low + 1e-9 * (high - low)) >= f_low:
        return low
    bracket_low, bracket_high = _golden_section(f, low, high)
    return bracket_low if f(bracket_low) <= f(bracket_high) else bracket_high


def _golden_section(f, low: float, high: float) -> tuple[float, float]:
    """Narrow ``[low, high]`` around the minimum of a convex ``f``; returns the final bracket."""
    inner_low = high - _GOLDEN * (high - low)
    inner_high = low + _GOLDEN * (high - low)
    f_low, f_high = f(inner_low), f(inner_high)
    for _ in range(_SEARCH_STEPS):
        if f_low <= f_high:
            high, inner_high, f_high = inner_high, inner_low, f_low
            inner_low = high - _GOLDEN * (high - low)
            f_low = f(inner_low)
        else:
            low, inner_low, f_low = inner_low, inner_high, f_high
            inner_high = low + _GOLDEN * (high - low)
            f_high = f(inner_high)
    return low, high
