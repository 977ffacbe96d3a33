"""Wireless uplinks: each base station's pool of sub-channels, granted in FIFO order."""

from __future__ import annotations

import heapq

__all__ = ["Uplink"]


class Uplink:
    """The sub-channels of one base station; an upload holds one sub-channel throughout.

    Requests take sub-channels in the order they ask (FIFO), each the one that frees first.
    An upload's duration is fixed by its plan before it asks, so every sub-channel's free time
    is known in advance and a request's start is computed when it asks, rather than waited
    for with events: the FIFO queue of identical servers with known service times.
    """

    def __init__(self, subchannels: int) -> None:
        self._free_s = [0.0] * subchannels  # a heap: the first to free is first

    def start_s(self, now: float) -> float:
        """When an upload asked for at ``now`` starts: now, or when a sub-channel frees."""
        first_free_s = self._free_s[0]
        return first_free_s if first_free_s > now else now

    def hold(self, start_s: float, duration_s: float) -> None:
        """Give the first sub-channel to free to an upload from ``start_s`` (its
        :meth:`start_s`) for ``duration_s``."""
        heapq.heapreplace(self._free_s, start_s + duration_s)
