"""Speed of the learning environment and of HSAC-IC training on the default scenario.

Run from the repository root:

    python benchmarks/bench_rl.py [--env-steps 20000] [--train-steps 3000] [--profile]

It prints three figures (targets: 3,000 environment steps/s, 300 training steps/s):

- the simulator alone, deciding uniformly random (server, level) pairs through an ordinary
  policy, in requests per wall second: the ceiling of the environment;
- :class:`~edgesim.rl.EdgeEnv` with uniformly random actions, in steps per wall second;
- HSAC-IC training with its default configuration (act and store every step, an update
  every `update_every` steps after a warm-up) in steps per second.

``--profile`` adds the ten functions with the most own time during the environment run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from pathlib import Path

import numpy as np

from edgesim import Simulation, load_scenario
from edgesim.policies import Decision, Policy
from edgesim.rl import EdgeEnv, HSACConfig, server_feature_slice
from edgesim.rl.train import TRAINING_THREADS

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "default.yaml"


class UniformPolicy(Policy):
    """Any (server, level) pair, uniformly: what the environment benchmark's agent does."""

    name = "uniform"

    def decide(self, observation) -> Decision:
        model = self.model
        server = int(self.rng.uniform() * model.n_servers) % model.n_servers
        return Decision(server, int(self.rng.uniform() * model.n_levels) % model.n_levels)


def simulator_rate(steps: int) -> float:
    """Requests per second of a plain run with uniformly random decisions."""
    scenario = load_scenario(SCENARIO, {"recording.servers_timeseries": False})
    total_rate = scenario.devices.count * scenario.devices.arrival.rate_per_s
    scenario = load_scenario(
        SCENARIO,
        {"recording.servers_timeseries": False, "duration_s": steps / total_rate},
    )
    started = time.perf_counter()
    result = Simulation(scenario, policy=UniformPolicy(), seed=1).run()
    return result.summary["requests"] / (time.perf_counter() - started)


def env_rate(steps: int) -> float:
    """Environment steps per second with uniformly random actions (resets included)."""
    env = EdgeEnv(load_scenario(SCENARIO), seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(env.action_space.nvec, size=(steps, 2))
    env.reset(seed=1)
    started = time.perf_counter()
    for action in actions:
        truncated = env.step(action)[3]
        if truncated:
            env.reset()
    return steps / (time.perf_counter() - started)


def training_rate(steps: int, warmup: int = 1_000) -> float:
    """HSAC-IC steps per second once updates run at every step."""
    import torch

    from edgesim.rl.hsac import HSACAgent

    torch.set_num_threads(TRAINING_THREADS)
    env = EdgeEnv(load_scenario(SCENARIO), seed=0)
    n_servers, n_levels = env.n_servers, env.n_levels
    config = HSACConfig(learning_starts=warmup)
    obs_dim = env.observation_space.shape[0]
    agent = HSACAgent(obs_dim, n_servers, n_levels, server_feature_slice(n_servers), config, 0)
    obs, info = env.reset(seed=1)
    started = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            started = time.perf_counter()
        mask = info["action_mask"]
        action = agent.act(obs, mask)
        next_obs, reward, _, truncated, info = env.step(action)
        agent.store(obs, action, reward, next_obs, info["action_mask"], False, mask=mask)
        if agent.wants_update():
            agent.update()
        obs = next_obs
        if truncated:
            obs, info = env.reset()
    return steps / (time.perf_counter() - started)


def profile_env(steps: int) -> str:
    """The ten functions with the most own time in an environment run."""
    profiler = cProfile.Profile()
    profiler.enable()
    env_rate(steps)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(10)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-steps", type=int, default=20_000)
    parser.add_argument("--train-steps", type=int, default=3_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"simulator alone, random decisions: {simulator_rate(args.env_steps):8.0f} requests/s")
    print(f"EdgeEnv, random actions:           {env_rate(args.env_steps):8.0f} steps/s")
    print(f"HSAC-IC training with updates:     {training_rate(args.train_steps):8.0f} steps/s")
    if args.profile:
        print(profile_env(args.env_steps))


if __name__ == "__main__":
    main()
