"""The scheduler process: at each decision epoch, every waiting request gets a decision."""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from edgesim.policies.base import Decision, Observation, Policy
from edgesim.sim.request import Request

__all__ = ["Scheduler"]


class Scheduler:
    """Collects arriving requests and hands them to the policy every ``epoch_s`` seconds.

    With ``epoch_s == 0`` each request is decided the moment it arrives. The process sleeps
    while nothing waits, so idle epochs cost no events. ``observe`` builds a request's
    observation and ``apply`` carries out a decision; both belong to the simulation.

    An external decider (the Gymnasium environment) sets ``external = True``: the process then
    stops at each request with ``decision_needed`` triggered and the observation in
    ``pending``, and resumes when :meth:`provide` gives the decision.
    """

    def __init__(
        self,
        env: simpy.Environment,
        policy: Policy | None,
        epoch_s: float,
        observe: Callable[[Request, int], Observation],
        apply: Callable[[Request, Decision], None],
    ) -> None:
        self.env = env
        self.policy = policy
        self.epoch_s = epoch_s
        self.observe = observe
        self.apply = apply
        self.waiting: list[Request] = []
        self.external = policy is None
        self.pending: tuple[Request, Observation] | None = None
        self.decision_needed: simpy.Event = env.event()
        self._decision: simpy.Event | None = None
        self._arrived: simpy.Event | None = None
        env.process(self._run())

    def submit(self, request: Request) -> None:
        """A request arrived and waits for the next epoch."""
        self.waiting.append(request)
        if self._arrived is not None:
            self._arrived.succeed()
            self._arrived = None

    def provide(self, decision: Decision) -> None:
        """Give the decision the external decider was asked for."""
        event, self._decision = self._decision, None
        self.pending = None
        event.succeed(decision)

    def _next_epoch_s(self) -> float:
        return math.ceil(self.env.now / self.epoch_s - 1e-9) * self.epoch_s

    def _run(self):
        env = self.env
        while True:
            if not self.waiting:
                self._arrived = env.event()
                yield self._arrived
            if self.epoch_s > 0.0:
                wait_s = self._next_epoch_s() - env.now
                if wait_s > 0.0:
                    yield env.timeout(wait_s)
            batch, self.waiting = self.waiting, []
            if self.external:
                yield from self._ask_external(batch)
            elif self.policy.batched:
                self._decide_batch(batch)
            else:
                self._decide_each(batch)

    def _decide_each(self, batch: list[Request]) -> None:
        remaining = len(batch)
        for request in batch:
            remaining -= 1
            self.apply(request, self.policy.decide(self.observe(request, remaining)))

    def _decide_batch(self, batch: list[Request]) -> None:
        count = len(batch)
        observations = [self.observe(r, count - 1 - i) for i, r in enumerate(batch)]
        for request, decision in zip(batch, self.policy.decide_batch(observations), strict=True):
            self.apply(request, decision)

    def _ask_external(self, batch: list[Request]):
        remaining = len(batch)
        for request in batch:
            remaining -= 1
            self.pending = (request, self.observe(request, remaining))
            self._decision = self.env.event()
            needed, self.decision_needed = self.decision_needed, self.env.event()
            needed.succeed()
            decision = yield self._decision
            self.apply(request, decision)
