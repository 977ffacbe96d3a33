"""Wireless uplinks: each base station's pool of sub-channels, granted in FIFO order."""

from __future__ import annotations

from collections import deque

import simpy

__all__ = ["Uplink"]


class Uplink:
    """The sub-channels of one base station; one uploading request holds one sub-channel.

    A request that finds every sub-channel busy waits in FIFO order. This is a counting
    resource like :class:`simpy.Resource`, but a request that finds a free sub-channel gets it
    without an event, which keeps the common case cheap.
    """

    def __init__(self, env: simpy.Environment, subchannels: int) -> None:
        self.env = env
        self.free = subchannels
        self.waiting: deque[simpy.Event] = deque()

    def acquire(self) -> simpy.Event | None:
        """Take a sub-channel: ``None`` if one was free, else an event to wait for."""
        if self.free > 0:
            self.free -= 1
            return None
        grant = self.env.event()
        self.waiting.append(grant)
        return grant

    def release(self) -> None:
        """Give a sub-channel back, to the longest waiter if any."""
        if self.waiting:
            self.waiting.popleft().succeed()
        else:
            self.free += 1
