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

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        """One draw from U[low, high)."""
        if not self._uniform:
            self._uniform = self.generator.random(_BLOCK).tolist()
        return low + (high - low) * self._uniform.pop()

    def exponential(self, mean: float = 1.0) -> float:
        """One draw from an exponential distribution with the given mean."""
        return -mean * math.log1p(-self.uniform())

    def normal(self, mean: float = 0.0, std: float = 1.0) -> float:
        """One draw from a normal distribution."""
        if not self._normal:
            self._normal = self.generator.standard_normal(_BLOCK).tolist()
        return mean + std * self._normal.pop()

    def choice(self, options: list) -> object:
        """One element of ``options``, uniformly."""
        return options[min(int(self.uniform() * len(options)), len(options) - 1)]


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
