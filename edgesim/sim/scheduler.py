"""The scheduler: at each decision epoch, every waiting request gets a decision."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import simpy

from edgesim.policies.base import Decision, Observation, Policy
from edgesim.sim.request import Request

__all__ = ["Scheduler"]


class Scheduler:
    """Collects arriving requests and hands them to the policy every ``epoch_s`` seconds.

    With ``epoch_s == 0`` each request is decided the moment it arrives. The scheduler is
    driven by SimPy events: the first arrival after an epoch schedules a wake-up at the next
    epoch boundary, so idle epochs cost no events. ``observe`` builds a request's observation
    and ``apply`` carries out a decision; both belong to the simulation.

    An external decider (the Gymnasium environment) is used when ``policy`` is ``None``: at
    each request the scheduler puts the request and its observation in ``pending`` and waits;
    the decider runs the events until ``pending`` is set, then answers with :meth:`provide`.
    """

    def __init__(
        self,
        env: simpy.Environment,
        policy: Policy | None,
        epoch_s: float,
        observe: Callable[[Request, int], Observation],
        apply: Callable[[Request, Decision, Observation], None],
    ) -> None:
        self.env = env
        self.policy = policy
        self.epoch_s = epoch_s
        self.observe = observe
        self.apply = apply
        self.waiting: list[Request] = []
        self.external = policy is None
        self.pending: tuple[Request, Observation] | None = None
        self._wake_scheduled = False
        self._asking: deque[Request] = deque()

    def submit(self, request: Request) -> None:
        """A request arrived and waits for the next epoch."""
        self.waiting.append(request)
        if not self._wake_scheduled:
            self._schedule_wake()

    def provide(self, decision: Decision) -> None:
        """Carry out the decision the external decider was asked for, then ask the next."""
        if self.pending is None:
            raise RuntimeError("no decision was asked for")
        request, observation = self.pending
        self.pending = None
        self.apply(request, decision, observation)
        self._ask_next()

    def _schedule_wake(self) -> None:
        delay_s = 0.0
        if self.epoch_s > 0.0:
            now = self.env.now
            next_epoch_s = math.ceil(now / self.epoch_s - 1e-9) * self.epoch_s
            if next_epoch_s > now:
                delay_s = next_epoch_s - now
        self._wake_scheduled = True
        self.env.timeout(delay_s).callbacks.append(self._on_epoch)

    def _on_epoch(self, _event: simpy.Event) -> None:
        self._wake_scheduled = False
        if self.pending is not None or self._asking:
            # The external decider is still answering the last epoch; this one follows it.
            return
        batch, self.waiting = self.waiting, []
        if self.external:
            self._asking.extend(batch)
            self._ask_next()
        elif self.policy.batched:
            self._decide_batch(batch)
        else:
            self._decide_each(batch)

    def _decide_each(self, batch: list[Request]) -> None:
        remaining = len(batch)
        for request in batch:
            remaining -= 1
            observation = self.observe(request, remaining)
            self.apply(request, self.policy.decide(observation), observation)

    def _decide_batch(self, batch: list[Request]) -> None:
        count = len(batch)
        observations = [self.observe(r, count - 1 - i) for i, r in enumerate(batch)]
        decisions = self.policy.decide_batch(observations)
        for request, decision, observation in zip(batch, decisions, observations, strict=True):
            self.apply(request, decision, observation)

    def _ask_next(self) -> None:
        """Ask the external decider about the next request of the epoch, if any is left."""
        if not self._asking:
            if self.waiting and not self._wake_scheduled:
                self._schedule_wake()
            return
        request = self._asking.popleft()
        self.pending = (request, self.observe(request, len(self._asking)))
