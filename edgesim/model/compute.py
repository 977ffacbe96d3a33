"""Diffusion work, the CPU/GPU split and the frequencies that serve it (model section 5).

A share ``rho`` of a request's work runs on the CPU (``cores`` cores at one frequency) and the
rest on the GPU, both at once (data parallelism). Work is counted in cycles: GPU cycles, and CPU
core-cycles spread over the cores. Dynamic energy of a unit is ``kappa * cycles * f**2``.

Two allocations are offered. :func:`latency_optimal_allocation` runs both units at given
frequencies and splits the work so they finish together. :func:`energy_optimal_allocation`
spends the least dynamic energy that still finishes each unit within its time budget; it is the
closed form of the model with the frequency ceilings and floors handled exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "Allocation",
    "ComputeParams",
    "LeastEnergySplit",
    "allocation_energy_j",
    "energy_optimal_allocation",
    "latency_optimal_allocation",
    "least_compute_energy_j",
    "work_cycles",
]


@dataclass(frozen=True, slots=True)
class ComputeParams:
    """One server's compute hardware, in SI units (cycles, hertz, seconds).

    Fields have no defaults: the scenario holds every constant of the model, so build one with
    :meth:`from_scenario` (``dataclasses.replace`` then varies a field).
    """

    gpu_cycles_per_step: float
    cpu_cycles_per_step: float
    cores: int
    gpu_min_hz: float
    gpu_max_hz: float
    cpu_min_hz: float
    cpu_max_hz: float
    gpu_kappa: float
    cpu_kappa: float
    overhead_s: float
    resolution_exponent: float
    reference_resolution: int

    @classmethod
    def from_scenario(cls, servers) -> ComputeParams:
        """Build from a scenario's ``servers`` section (GHz there)."""
        gpu, cpu = servers.gpu, servers.cpu
        return cls(
            gpu_cycles_per_step=gpu.cycles_per_step,
            cpu_cycles_per_step=cpu.cycles_per_step,
            cores=cpu.cores,
            gpu_min_hz=gpu.min_ghz * 1e9,
            gpu_max_hz=gpu.max_ghz * 1e9,
            cpu_min_hz=cpu.min_ghz * 1e9,
            cpu_max_hz=cpu.max_ghz * 1e9,
            gpu_kappa=gpu.kappa,
            cpu_kappa=cpu.kappa,
            overhead_s=servers.overhead_s,
            resolution_exponent=servers.resolution_exponent,
            reference_resolution=servers.reference_resolution,
        )


class Allocation(NamedTuple):
    """How one request is computed: the CPU share, both frequencies, times and energies.

    A unit that gets no work has frequency 0, time 0 and energy 0. Times exclude the fixed
    overhead and any wait for the unit.
    """

    cpu_share: float
    cpu_hz: float
    gpu_hz: float
    cpu_time_s: float
    gpu_time_s: float
    energy_cpu_j: float
    energy_gpu_j: float

    @property
    def energy_j(self) -> float:
        """Dynamic energy of both units."""
        return self.energy_cpu_j + self.energy_gpu_j


def work_cycles(
    steps: int, resolution: int, images: int, params: ComputeParams
) -> tuple[float, float]:
    """Work of ``images`` images at a level: (GPU cycles, CPU core-cycles)."""
    scale = (
        steps * images * (resolution / params.reference_resolution) ** (params.resolution_exponent)
    )
    return scale * params.gpu_cycles_per_step, scale * params.cpu_cycles_per_step


def _make_allocation(
    share: float,
    cpu_hz: float,
    gpu_hz: float,
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
) -> Allocation:
    cpu_cycles = share * work_cpu
    gpu_cycles = (1.0 - share) * work_gpu
    # Positional fields, in the order of Allocation: this runs at least twice per request.
    if cpu_cycles > 0.0:
        cpu_time_s = cpu_cycles / (params.cores * cpu_hz)
        energy_cpu_j = params.cpu_kappa * cpu_cycles * cpu_hz**2
    else:
        cpu_hz = cpu_time_s = energy_cpu_j = 0.0
    if gpu_cycles > 0.0:
        gpu_time_s = gpu_cycles / gpu_hz
        energy_gpu_j = params.gpu_kappa * gpu_cycles * gpu_hz**2
    else:
        gpu_hz = gpu_time_s = energy_gpu_j = 0.0
    return Allocation(share, cpu_hz, gpu_hz, cpu_time_s, gpu_time_s, energy_cpu_j, energy_gpu_j)


def allocation_energy_j(
    share: float,
    cpu_hz: float,
    gpu_hz: float,
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
) -> float:
    """Dynamic energy of running ``share`` of the work on the CPU at ``cpu_hz``, the rest on
    the GPU at ``gpu_hz``."""
    return (
        params.cpu_kappa * share * work_cpu * cpu_hz**2
        + params.gpu_kappa * (1.0 - share) * work_gpu * gpu_hz**2
    )


def latency_optimal_allocation(
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
    cpu_wait_s: float = 0.0,
    gpu_wait_s: float = 0.0,
    cpu_hz: float | None = None,
    gpu_hz: float | None = None,
    use_cpu: bool = True,
) -> Allocation:
    """Split the work so both units, at fixed frequencies, finish as early as possible.

    With both units free now this is the model's ``rho = v_C / (v_C + v_G)``, where ``v`` is the
    fraction of the work a unit does per second. When a unit is busy for ``*_wait_s`` more
    seconds, it joins later and gets a smaller share; a unit whose wait outlasts the whole job
    on the other unit gets none. Frequencies default to each unit's maximum.
    """
    cpu_hz = params.cpu_max_hz if cpu_hz is None else cpu_hz
    gpu_hz = params.gpu_max_hz if gpu_hz is None else gpu_hz
    speed_gpu = gpu_hz / work_gpu
    speed_cpu = params.cores * cpu_hz / work_cpu if use_cpu else 0.0
    if speed_cpu == 0.0 or gpu_wait_s + 1.0 / speed_gpu <= cpu_wait_s:
        return _make_allocation(0.0, cpu_hz, gpu_hz, work_gpu, work_cpu, params)
    if cpu_wait_s + 1.0 / speed_cpu <= gpu_wait_s:
        return _make_allocation(1.0, cpu_hz, gpu_hz, work_gpu, work_cpu, params)
    finish_s = (1.0 + speed_cpu * cpu_wait_s + speed_gpu * gpu_wait_s) / (speed_cpu + speed_gpu)
    share = speed_cpu * (finish_s - cpu_wait_s)
    share = 1.0 if share >= 1.0 else share if share > 0.0 else 0.0
    return _make_allocation(share, cpu_hz, gpu_hz, work_gpu, work_cpu, params)


class LeastEnergySplit:
    """The least-energy split of one job, for any pair of unit budgets.

    The constants of the job (its work, the hardware, whether the CPU is used) are computed
    once, so that a search over budgets, such as the planner's over the upload time, pays only
    for what changes. :meth:`solve` gives the same numbers as evaluating from scratch.
    """

    __slots__ = (
        "_cores_squared",
        "_cpu_max_rate",
        "_cpu_min_rate",
        "_cubic_cpu_work",
        "_cubic_gpu_work",
        "_slope_cpu_floor",
        "_slope_gpu_floor",
        "params",
        "use_cpu",
        "work_cpu",
        "work_gpu",
    )

    def __init__(
        self, work_gpu: float, work_cpu: float, params: ComputeParams, use_cpu: bool = True
    ) -> None:
        self.work_gpu = work_gpu
        self.work_cpu = work_cpu
        self.params = params
        self.use_cpu = use_cpu
        self._cpu_max_rate = params.cpu_max_hz * params.cores
        self._cpu_min_rate = params.cpu_min_hz * params.cores
        self._cores_squared = params.cores**2
        self._cubic_cpu_work = params.cpu_kappa * work_cpu**3
        self._cubic_gpu_work = params.gpu_kappa * work_gpu**3
        self._slope_cpu_floor = params.cpu_kappa * work_cpu * params.cpu_min_hz**2
        self._slope_gpu_floor = params.gpu_kappa * work_gpu * params.gpu_min_hz**2

    def solve(
        self, cpu_budget_s: float, gpu_budget_s: float
    ) -> tuple[float, float, float, float] | None:
        """(share, energy, CPU Hz, GPU Hz) of the least-energy allocation, or None if
        infeasible."""
        work_gpu, work_cpu, params = self.work_gpu, self.work_cpu, self.params
        share_low = 0.0
        if gpu_budget_s <= 0.0:
            share_low = 1.0
        elif params.gpu_max_hz * gpu_budget_s < work_gpu:
            share_low = 1.0 - params.gpu_max_hz * gpu_budget_s / work_gpu
        share_high = 0.0
        if self.use_cpu and cpu_budget_s > 0.0:
            share_high = min(1.0, self._cpu_max_rate * cpu_budget_s / work_cpu)
        if share_low > share_high * (1.0 + 1e-12) + 1e-15:
            return None
        share_low = min(share_low, share_high)

        candidates = [share_low, share_high]
        if share_high > share_low:
            interior = (
                self._cpu_min_rate * cpu_budget_s / work_cpu,
                1.0 - params.gpu_min_hz * gpu_budget_s / work_gpu,
                *self._stationary_shares(cpu_budget_s, gpu_budget_s),
            )
            candidates += [s for s in interior if share_low < s < share_high]
        best = None
        for share, (energy_j, cpu_hz, gpu_hz) in zip(
            candidates,
            self._energies_at_shares(candidates, cpu_budget_s, gpu_budget_s),
            strict=True,
        ):
            if best is None or energy_j < best[1]:
                best = (share, energy_j, cpu_hz, gpu_hz)
        return best

    def _stationary_shares(
        self, cpu_budget_s: float, gpu_budget_s: float
    ) -> tuple[float, float, float]:
        """Shares where the energy's slope is zero, one for each pairing of the two units'
        pieces.

        Each unit's energy, as a function of its own share x, is linear while its frequency
        sits on the floor (slope ``kappa W f_min^2``) and cubic once it must run faster
        (``kappa W^3 x^3 / (n^2 tau^2)``); equating the two units' slopes gives these points.
        """
        cubic_cpu = self._cubic_cpu_work / (self._cores_squared * cpu_budget_s**2)
        cubic_gpu = self._cubic_gpu_work / gpu_budget_s**2
        return (
            1.0 / (1.0 + math.sqrt(cubic_cpu / cubic_gpu)),
            1.0 - math.sqrt(self._slope_cpu_floor / (3.0 * cubic_gpu)),
            math.sqrt(self._slope_gpu_floor / (3.0 * cubic_cpu)),
        )

    def _energies_at_shares(
        self, shares: list[float], cpu_budget_s: float, gpu_budget_s: float
    ) -> list[tuple[float, float, float]]:
        """(energy, CPU Hz, GPU Hz) of each share run at the least frequencies that meet the
        budgets.

        Each frequency is floored at the unit's minimum and capped at its maximum; a unit with
        no work spends nothing. (One loop over all shares: this is the planner's inner loop.)
        """
        params, work_cpu, work_gpu = self.params, self.work_cpu, self.work_gpu
        cpu_min_hz, cpu_max_hz, cpu_kappa = params.cpu_min_hz, params.cpu_max_hz, params.cpu_kappa
        gpu_min_hz, gpu_max_hz, gpu_kappa = params.gpu_min_hz, params.gpu_max_hz, params.gpu_kappa
        cpu_capacity = params.cores * cpu_budget_s
        energies = []
        for share in shares:
            energy_j = 0.0
            cpu_hz = cpu_min_hz
            if share > 0.0:
                needed_hz = share * work_cpu / cpu_capacity
                if needed_hz > cpu_hz:
                    cpu_hz = needed_hz if needed_hz < cpu_max_hz else cpu_max_hz
                energy_j += cpu_kappa * share * work_cpu * cpu_hz * cpu_hz
            gpu_hz = gpu_min_hz
            if share < 1.0:
                needed_hz = (1.0 - share) * work_gpu / gpu_budget_s
                if needed_hz > gpu_hz:
                    gpu_hz = needed_hz if needed_hz < gpu_max_hz else gpu_max_hz
                energy_j += gpu_kappa * (1.0 - share) * work_gpu * gpu_hz * gpu_hz
            energies.append((energy_j, cpu_hz, gpu_hz))
        return energies

    def allocation(self, solution: tuple[float, float, float, float]) -> Allocation:
        """The allocation of a :meth:`solve` result."""
        share, _, cpu_hz, gpu_hz = solution
        return _make_allocation(share, cpu_hz, gpu_hz, self.work_gpu, self.work_cpu, self.params)

    def least_energy_j(self, cpu_budget_s: float, gpu_budget_s: float) -> float:
        """The least dynamic energy within the budgets, or ``inf`` when none is feasible."""
        best = self.solve(cpu_budget_s, gpu_budget_s)
        return math.inf if best is None else best[1]


def least_compute_energy_j(
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
    cpu_budget_s: float,
    gpu_budget_s: float,
    use_cpu: bool = True,
) -> float:
    """The energy of :func:`energy_optimal_allocation`, or ``inf`` when it is infeasible."""
    split = LeastEnergySplit(work_gpu, work_cpu, params, use_cpu)
    return split.least_energy_j(cpu_budget_s, gpu_budget_s)


def energy_optimal_allocation(
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
    cpu_budget_s: float,
    gpu_budget_s: float | None = None,
    use_cpu: bool = True,
) -> Allocation | None:
    """The least-energy split and frequencies that finish each unit within its budget.

    ``cpu_budget_s`` and ``gpu_budget_s`` are the seconds each unit may compute (the budget
    ``tau`` of the model, less any wait for that unit); with one budget both are equal. Returns
    ``None`` when no split meets the budgets even at maximum frequencies.

    For a given share the least energy takes each unit at the lowest frequency that meets its
    budget, floored at the unit's minimum. The energy is then convex in the share, smooth
    between the kinks where a unit leaves its floor, so the minimum lies at an end of the
    feasible interval, at a kink, or at a stationary point of one smooth piece: all are
    evaluated.
    """
    gpu_budget_s = cpu_budget_s if gpu_budget_s is None else gpu_budget_s
    split = LeastEnergySplit(work_gpu, work_cpu, params, use_cpu)
    best = split.solve(cpu_budget_s, gpu_budget_s)
    return None if best is None else split.allocation(best)
