"""Simulator speed against a bare SimPy M/M/1 loop measured in the same process.

Run from the repository root:

    python benchmarks/bench_sim.py [--requests 50000] [--policy greedy] [--repeat 3]

It runs ``scenarios/default.yaml`` long enough for at least ``--requests`` requests, and a bare
SimPy M/M/1 queue (one process per customer, one ``simpy.Resource``) for the same number of
customers, alternating the two ``--repeat`` times. It prints requests per second of each (best
of the repeats) and their ratio, then the median of the ratios run by run (each edgesim run
over the bare run after it), which shows how much noise the machine added. Each run is timed
whole, trace writing included, in CPU seconds of this process (``time.process_time``), which
other work on a shared machine disturbs far less than wall-clock time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import simpy

from edgesim import Simulation, load_scenario

ROOT = Path(__file__).resolve().parent.parent


def bare_mm1(customers: int, seed: int = 1) -> float:
    """Customers per CPU second of a minimal SimPy M/M/1 simulation at load 0.8."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    rng = random.Random(seed)

    def customer():
        with server.request() as turn:
            yield turn
            yield env.timeout(rng.expovariate(1.0))

    def source():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(0.8))
            env.process(customer())

    started = time.process_time()
    env.process(source())
    env.run()
    return customers / (time.process_time() - started)


def edgesim_rate(requests: int, policy: str) -> tuple[float, int]:
    """Requests per CPU second of a default-scenario run with at least ``requests``."""
    scenario = load_scenario(ROOT / "scenarios" / "default.yaml")
    total_rate = scenario.devices.count * scenario.devices.arrival.rate_per_s
    duration_s = 1.05 * requests / total_rate
    scenario = load_scenario(
        ROOT / "scenarios" / "default.yaml", overrides={"duration_s": duration_s}
    )
    started = time.process_time()
    result = Simulation(scenario, policy=policy).run()
    cpu_s = time.process_time() - started
    return result.summary["requests"] / cpu_s, result.summary["requests"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--policy", default="greedy")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sim_rates, bare_rates = [], []
    for _ in range(args.repeat):
        rate, count = edgesim_rate(args.requests, args.policy)
        sim_rates.append(rate)
        bare_rates.append(bare_mm1(count))
    sim_best, bare_best = max(sim_rates), max(bare_rates)
    paired = [sim / bare for sim, bare in zip(sim_rates, bare_rates, strict=True)]
    print(f"edgesim default scenario, policy {args.policy}: {count} requests")
    sim_runs = ", ".join(f"{rate:.0f}" for rate in sim_rates)
    bare_runs = ", ".join(f"{rate:.0f}" for rate in bare_rates)
    paired_runs = ", ".join(f"{ratio:.3f}" for ratio in paired)
    print(f"  edgesim      {sim_best:10.0f} requests/s  (runs: {sim_runs})")
    print(f"  bare M/M/1   {bare_best:10.0f} customers/s (runs: {bare_runs})")
    print(f"  ratio        {sim_best / bare_best:10.3f}  (target >= 0.3)")
    print(f"  run by run   {statistics.median(paired):10.3f}  median (runs: {paired_runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
