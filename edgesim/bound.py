"""The contention-free upper bound: every request served alone on its best server.

The model's comparisons include a bound that no policy can beat (``system-model.md``,
section 9). For each request of a run, :func:`contention_free_bound` takes the best utility
the request could reach if the system held nothing else when it is decided: every server
idle, every sub-channel free, and the upload power, split and frequencies chosen for utility
itself (:func:`edgesim.model.bound.best_service_alone`), not by the planner's rules. Sharing
the system only adds waiting and never lowers the least energy of the times a request takes,
so no policy does better for any request. The bound replays the same requests as any policy's
run of the scenario and seed, because arrivals and request attributes come from random streams
of their own (:mod:`edgesim.sim.random`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from edgesim.model.bound import best_service_alone
from edgesim.model.utility import UtilityParams
from edgesim.policies.base import REJECT, Decision, Observation, Policy
from edgesim.scenario import Scenario

__all__ = ["contention_free_bound", "summarise_bound"]


class _Choice(NamedTuple):
    utility: float
    quality: float
    energy_j: float
    server: int
    level: int


class _BestAlone(Policy):
    """Scores each request's best contention-free service, then rejects it.

    Rejecting keeps every server idle, so the run costs little and each request's arrivals and
    attributes are those of any other policy's run of the same scenario and seed.
    """

    name = "contention-free-bound"

    def __init__(self, params: UtilityParams) -> None:
        self.params = params
        self.best: list[tuple[int, _Choice | None]] = []

    def decide(self, observation: Observation) -> Decision:
        self.best.append((observation.request_id, self._best_choice(observation)))
        return REJECT

    def _best_choice(self, obs: Observation) -> _Choice | None:
        """The (server, level) of highest utility, or None when none succeeds."""
        model = obs.model
        best = None
        for server in _undominated_servers(obs.forward_s, obs.return_s):
            fixed_delay_s = (
                obs.now_s
                - obs.arrival_s
                + obs.forward_s[server]
                + model.compute.overhead_s
                + obs.return_s[server]
            )
            for level, quality in enumerate(model.level_quality):
                if quality < obs.min_quality:
                    continue
                service = best_service_alone(
                    obs.input_bits,
                    obs.gain,
                    model.radio,
                    model.level_work_gpu[level] * obs.images,
                    model.level_work_cpu[level] * obs.images,
                    model.compute,
                    quality,
                    obs.images,
                    fixed_delay_s,
                    obs.deadline_s - obs.arrival_s,
                    self.params,
                )
                if service is not None and (best is None or service.utility > best.utility):
                    best = _Choice(service.utility, quality, service.energy_j, server, level)
        return best


def _undominated_servers(forward_s: list[float], return_s: list[float]) -> list[int]:
    """Servers that no other server beats on both backhaul times (servers share hardware, so
    a server with no longer trips is never worse)."""
    return [
        server
        for server, trip in enumerate(zip(forward_s, return_s, strict=True))
        if not any(
            other[0] <= trip[0] and other[1] <= trip[1] and other != trip
            for other in zip(forward_s, return_s, strict=True)
        )
    ]


def contention_free_bound(scenario: Scenario, seed: int | None = None) -> pd.DataFrame:
    """The bound of every request decided in a run of ``scenario`` with ``seed``.

    One row per request, sorted by ``request_id``: ``utility`` (its best contention-free
    utility, the failure penalty when no choice meets its deadline and quality floor),
    ``feasible``, and the best service's ``quality``, ``energy_j``, ``server`` and ``level``
    (NaN or -1 when infeasible). Requests still waiting for a decision when the run ends have
    no row.
    """
    from edgesim.sim.simulation import Simulation

    params = UtilityParams.from_scenario(scenario.utility)
    policy = _BestAlone(params)
    Simulation(scenario, policy=policy, seed=seed).run()
    rows = [_row(request_id, choice, params.fail_penalty) for request_id, choice in policy.best]
    return pd.DataFrame(rows, columns=_COLUMNS).sort_values("request_id", ignore_index=True)


_COLUMNS = ("request_id", "utility", "feasible", "quality", "energy_j", "server", "level")


def _row(request_id: int, choice: _Choice | None, fail_penalty: float) -> tuple:
    if choice is None:
        return (request_id, -fail_penalty, False, math.nan, math.nan, -1, -1)
    return (
        request_id,
        choice.utility,
        True,
        choice.quality,
        choice.energy_j,
        choice.server,
        choice.level,
    )


def summarise_bound(bound: pd.DataFrame) -> dict[str, float]:
    """Summarise a :func:`contention_free_bound` table: ``requests``, ``mean_utility`` over
    every request, ``feasible_ratio``, and ``mean_quality`` and ``mean_energy_j`` over the
    feasible ones."""
    feasible = bound[bound["feasible"]]
    return {
        "requests": len(bound),
        "mean_utility": float(bound["utility"].mean()) if len(bound) else math.nan,
        "feasible_ratio": float(bound["feasible"].mean()) if len(bound) else math.nan,
        "mean_quality": float(feasible["quality"].mean()) if len(feasible) else math.nan,
        "mean_energy_j": float(feasible["energy_j"].mean()) if len(feasible) else math.nan,
    }
