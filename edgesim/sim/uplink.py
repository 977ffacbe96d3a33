"""Wireless uplinks: each base station's pool of sub-channels, granted in FIFO order."""

from __future__ import annotations

from collections import deque

from edgesim.sim.request import Request

__all__ = ["Uplink"]


class Uplink:
    """The sub-channels of one base station; one uploading request holds one sub-channel.

    A request that finds every sub-channel busy waits in FIFO order. This is a counting
    resource like :class:`simpy.Resource` without its events: the simulation starts an upload
    as soon as :meth:`acquire` or :meth:`release` hands it a sub-channel.
    """

    def __init__(self, subchannels: int) -> None:
        self.free = subchannels
        self.waiting: deque[Request] = deque()

    def acquire(self, request: Request) -> bool:
        """Take a sub-channel for ``request``: True if one was free, else it queues."""
        if self.free > 0:
            self.free -= 1
            return True
        self.waiting.append(request)
        return False

    def release(self) -> Request | None:
        """Give a sub-channel back: to the longest waiter, which is returned, if any."""
        if self.waiting:
            return self.waiting.popleft()
        self.free += 1
        return None
