"""Seeded random streams with buffered draws.

Each concern (placement, arrivals, request attributes, fading, the policy) draws from its own
stream, spawned from the run's seed, so that changing the policy never changes the arrivals or
the channels the requests see (common random numbers across policies). Draws are taken from
numpy in blocks, which keeps the per-event cost of a scalar draw low.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BufferedStream", "RandomStreams"]

_BLOCK = 4096


class BufferedStream:
    """Scalar uniform, exponential and normal draws from one numpy ``Generator``."""

    def __init__(self, generator: np.random.Generator) -> None:
        self.generator = generator
        self._uniform: list[float] = []
        self._normal: list[float] = []

    def _refill_uniform(self) -> list[float]:
        self._uniform = self.generator.random(_BLOCK).tolist()
        return self._uniform

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        """One draw from U[low, high)."""
        return low + (high - low) * (self._uniform or self._refill_uniform()).pop()

    def uniforms(self, count: int) -> list[float]:
        """``count`` draws from U[0, 1), the same numbers as ``count`` calls of
        :meth:`uniform`, in one call."""
        buffer = self._uniform
        if len(buffer) < count:
            return [self.uniform() for _ in range(count)]
        draws = buffer[-count:]
        del buffer[-count:]
        draws.reverse()
        return draws

    def exponential(self, mean: float = 1.0) -> float:
        """One draw from an exponential distribution with the given mean."""
        return -mean * math.log1p(-(self._uniform or self._refill_uniform()).pop())

    def normal(self, mean: float = 0.0, std: float = 1.0) -> float:
        """One draw from a normal distribution."""
        if not self._normal:
            self._normal = self.generator.standard_normal(_BLOCK).tolist()
        return mean + std * self._normal.pop()


class RandomStreams:
    """The independent streams of one simulation, all derived from ``seed``."""

    NAMES = ("placement", "arrivals", "requests", "fading", "policy")

    def __init__(self, seed: int) -> None:
        children = np.random.SeedSequence(seed).spawn(len(self.NAMES))
        streams = {
            name: BufferedStream(np.random.default_rng(child))
            for name, child in zip(self.NAMES, children, strict=True)
        }
        self.placement = streams["placement"]
        self.arrivals = streams["arrivals"]
        self.requests = streams["requests"]
        self.fading = streams["fading"]
        self.policy = streams["policy"]
