"""Buffered random streams: draws taken several at a time are the ones taken one by one."""

from __future__ import annotations

import numpy as np

from edgesim.sim.random import BufferedStream


def streams(seed: int) -> tuple[BufferedStream, BufferedStream]:
    return (
        BufferedStream(np.random.default_rng(seed)),
        BufferedStream(np.random.default_rng(seed)),
    )


def test_uniforms_are_the_draws_of_as_many_uniform_calls_across_refills():
    batched, single = streams(5)
    counts = [4, 3, 1, 4] * 1500  # 18,000 draws: several refills of the 4096-draw buffer
    for count in counts:
        assert batched.uniforms(count) == [single.uniform() for _ in range(count)]


def test_exponential_is_minus_mean_log_of_one_minus_a_uniform():
    drawn, reference = streams(6)
    means = np.linspace(0.1, 10.0, 5000)
    values = [drawn.exponential(mean) for mean in means]
    expected = [-mean * np.log1p(-reference.uniform()) for mean in means]
    assert np.allclose(values, expected, rtol=1e-15, atol=0)
    assert abs(np.mean(np.array(values) / means) - 1.0) < 0.05
