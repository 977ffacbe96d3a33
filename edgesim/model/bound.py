"""The best utility one request can reach on an otherwise empty server (model section 9).

Served alone, a request's latency is fixed delays (the wait for its decision, the backhaul, the
overhead, the return trip) plus its upload time ``u`` and its compute time ``t``; its energy is
the transmit energy of the least power that uploads in ``u`` plus the least compute energy
that finishes in ``t``. Utility at a given level is then

    w_q q - a (fixed + u + t) - b (E_tx(u) + E_cmp(t)),   a = w_t / T_max,  b = w_e / (n E_ref)

to be maximised under ``u + t <= B``, the latency limit less the fixed delays. Both energies
are convex and non-increasing in their own time (``E_tx`` is the perspective of an
exponential, ``E_cmp`` the partial minimum over the split of a jointly convex function), so
the two times are first optimised apart; when together they overrun ``B`` the constraint binds
and one convex search along ``u + t = B`` settles it.

Any schedule of the simulator that shares the server with other requests only adds waiting,
and spends at least the least energy of the upload and compute times it actually takes, so no
policy can beat this bound for the same request.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from edgesim.model.compute import ComputeParams, LeastEnergySplit, latency_optimal_allocation
from edgesim.model.planning import convex_minimum
from edgesim.model.radio import RadioParams, least_power_w, rate_bps
from edgesim.model.utility import UtilityParams, utility

__all__ = ["AloneService", "best_service_alone"]


class AloneService(NamedTuple):
    """The best service of a request alone: its utility, upload and compute times (s),
    latency (s) and energy (J)."""

    utility: float
    upload_s: float
    compute_s: float
    latency_s: float
    energy_j: float


def best_service_alone(
    bits: float,
    gain: float,
    radio: RadioParams,
    work_gpu: float,
    work_cpu: float,
    params: ComputeParams,
    quality: float,
    images: int,
    fixed_delay_s: float,
    latency_limit_s: float,
    weights: UtilityParams,
) -> AloneService | None:
    """The service of highest utility within ``latency_limit_s``, or None if none meets it.

    ``fixed_delay_s`` is every delay other than upload and compute: the wait for the decision,
    the backhaul both ways, the overhead and the downlink.
    """
    budget_s = latency_limit_s - fixed_delay_s
    fastest_compute_s = _fastest_compute_s(work_gpu, work_cpu, params)
    if bits > 0.0:
        fastest_upload_s = bits / rate_bps(radio.max_power_w, gain, radio)
        slowest_upload_s = bits / rate_bps(radio.min_power_w, gain, radio)
    else:
        fastest_upload_s = slowest_upload_s = 0.0
    if fastest_upload_s + fastest_compute_s > budget_s:
        return None

    split = LeastEnergySplit(work_gpu, work_cpu, params)
    latency_weight = weights.w_latency / latency_limit_s
    energy_weight = weights.w_energy / (images * weights.energy_ref_j_per_image)

    def upload_energy_j(upload_s: float) -> float:
        if bits <= 0.0:
            return 0.0
        return least_power_w(bits, upload_s, gain, radio) * upload_s

    def compute_energy_j(compute_s: float) -> float:
        return split.least_energy_j(compute_s, compute_s)

    def upload_cost(upload_s: float) -> float:
        return latency_weight * upload_s + energy_weight * upload_energy_j(upload_s)

    def compute_cost(compute_s: float) -> float:
        return latency_weight * compute_s + energy_weight * compute_energy_j(compute_s)

    latest_upload_s = min(slowest_upload_s, budget_s - fastest_compute_s)
    upload_s = convex_minimum(upload_cost, fastest_upload_s, latest_upload_s)
    compute_s = convex_minimum(compute_cost, fastest_compute_s, budget_s - fastest_upload_s)
    if upload_s + compute_s > budget_s:
        upload_s = convex_minimum(
            lambda u: upload_energy_j(u) + compute_energy_j(budget_s - u),
            fastest_upload_s,
            latest_upload_s,
        )
        compute_s = budget_s - upload_s
    energy_j = upload_energy_j(upload_s) + compute_energy_j(compute_s)
    if not math.isfinite(energy_j):
        return None
    latency_s = fixed_delay_s + upload_s + compute_s
    score = utility(quality, latency_s, latency_limit_s, energy_j, images, weights)
    return AloneService(score, upload_s, compute_s, latency_s, energy_j)


def _fastest_compute_s(work_gpu: float, work_cpu: float, params: ComputeParams) -> float:
    """Compute time with both units at full speed and the latency-optimal split."""
    allocation = latency_optimal_allocation(work_gpu, work_cpu, params)
    return max(allocation.cpu_time_s, allocation.gpu_time_s)
