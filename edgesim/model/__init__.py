"""The system model as pure functions: radio, compute, planning, quality and utility.

Nothing here imports SimPy or torch; every function takes SI units (seconds, bits, hertz,
watts, joules) and plain floats, so the simulator's hot loop can call it cheaply.
"""

from edgesim.model.compute import (
    Allocation,
    ComputeParams,
    energy_optimal_allocation,
    latency_optimal_allocation,
    work_cycles,
)
from edgesim.model.planning import Plan, plan_request
from edgesim.model.quality import quality
from edgesim.model.radio import RadioParams, channel_gain, least_power_w, path_loss_db, rate_bps
from edgesim.model.utility import UtilityParams, utility

__all__ = [
    "Allocation",
    "ComputeParams",
    "Plan",
    "RadioParams",
    "UtilityParams",
    "channel_gain",
    "energy_optimal_allocation",
    "latency_optimal_allocation",
    "least_power_w",
    "path_loss_db",
    "plan_request",
    "quality",
    "rate_bps",
    "utility",
    "work_cycles",
]
