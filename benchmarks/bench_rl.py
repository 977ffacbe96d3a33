"""Speed of the learning environment and of HSAC-IC training on the default scenario.

Run from the repository root:

    python benchmarks/bench_rl.py [--env-steps 20000] [--train-steps 3000] [--updates 300]
                                  [--profile]

It prints (targets: 3,000 environment steps/s, 300 training steps/s):

- the simulator alone, deciding uniformly random (server, level) pairs through an ordinary
  policy, in requests per wall second: the ceiling of the environment;
- :class:`~edgesim.rl.EdgeEnv` with uniformly random actions, in steps per wall second;
- HSAC-IC training in steps per second: act and store at every step and, after a warm-up,
  one update every ``update_every`` steps, first with the default configuration (every 4th
  step), then with an update at every step;
- the time of one HSAC-IC gradient step (one ``update`` call on a full batch, random data of
  the default scenario's sizes), also counted in environment steps.

Torch runs on :data:`edgesim.rl.train.TRAINING_THREADS` threads, as in training. The figures
depend strongly on what else the machine is running. ``--profile`` adds the ten functions with
the most own time during the environment run.
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
from edgesim.rl import EdgeEnv, HSACConfig, observation_size, server_feature_slice
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


def training_rate(steps: int, update_every: int = 4, warmup: int = 1_000) -> float:
    """HSAC-IC training steps per second on the environment, after ``warmup`` steps without
    updates: act and store at every step, update every ``update_every`` steps."""
    from edgesim.rl.hsac import HSACAgent

    _one_thread_as_in_training()
    env = EdgeEnv(load_scenario(SCENARIO), seed=0)
    n_servers, n_levels = env.n_servers, env.n_levels
    config = HSACConfig(learning_starts=warmup, update_every=update_every)
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


def random_mask(rng: np.random.Generator, n_servers: int, n_levels: int) -> np.ndarray:
    """A random action mask with at least one allowed pair."""
    mask = rng.random((n_servers, n_levels)) < 0.7
    mask[rng.integers(n_servers), rng.integers(n_levels)] = True
    return mask


class RandomTransitions:
    """An HSAC agent fed random observations, masks and rewards: the agent's cost alone."""

    def __init__(self, config: HSACConfig, n_servers: int, n_levels: int, seed: int = 0) -> None:
        from edgesim.rl.hsac import HSACAgent

        self.sizes = (n_servers, n_levels)
        self.obs_dim = observation_size(n_servers, n_levels)
        features = server_feature_slice(n_servers)
        self.agent = HSACAgent(self.obs_dim, n_servers, n_levels, features, config, seed)
        self.rng = np.random.default_rng(seed)
        self.obs = self._observation()
        self.mask = random_mask(self.rng, *self.sizes)

    def _observation(self) -> np.ndarray:
        return self.rng.standard_normal(self.obs_dim).astype(np.float32)

    def step(self) -> None:
        """Act on the current observation and store a random transition."""
        action = self.agent.act(self.obs, self.mask)
        next_obs, next_mask = self._observation(), random_mask(self.rng, *self.sizes)
        reward = float(self.rng.random())
        self.agent.store(self.obs, action, reward, next_obs, next_mask, False, mask=self.mask)
        self.obs, self.mask = next_obs, next_mask


def agent_rate(
    steps: int = 1_000,
    variant: str = "hsac-ic",
    update_every: int = 4,
    n_servers: int = 4,
    n_levels: int = 5,
) -> float:
    """Training steps per second of the agent alone on random transitions: ``act`` and
    ``store`` at every step, ``update`` every ``update_every`` steps after 256 stored."""
    _one_thread_as_in_training()
    config = HSACConfig(variant=variant, learning_starts=256, update_every=update_every)
    feed = RandomTransitions(config, n_servers, n_levels)
    for _ in range(config.learning_starts):
        feed.step()
    started = time.perf_counter()
    for _ in range(steps):
        feed.step()
        if feed.agent.wants_update():
            feed.agent.update()
    return steps / (time.perf_counter() - started)


def update_ms(updates: int, n_servers: int = 4, n_levels: int = 5) -> float:
    """Milliseconds per HSAC-IC ``update`` call (one gradient step, default configuration) on
    a buffer of random transitions of the default scenario's sizes."""
    _one_thread_as_in_training()
    config = HSACConfig()
    feed = RandomTransitions(config, n_servers, n_levels)
    for _ in range(config.learning_starts):
        feed.step()
    feed.agent.update()
    started = time.perf_counter()
    for _ in range(updates):
        feed.agent.update()
    return 1_000.0 * (time.perf_counter() - started) / updates


def _one_thread_as_in_training() -> None:
    import torch

    torch.set_num_threads(TRAINING_THREADS)


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
    """Print every figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-steps", type=int, default=20_000)
    parser.add_argument("--train-steps", type=int, default=3_000)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    env_steps_s = env_rate(args.env_steps)
    default_every = HSACConfig().update_every
    print(f"simulator alone, random decisions:   {simulator_rate(args.env_steps):8.0f} requests/s")
    print(f"EdgeEnv, random actions:             {env_steps_s:8.0f} steps/s")
    print(
        f"HSAC-IC training, update every {default_every}:  "
        f"{training_rate(args.train_steps, default_every):8.0f} steps/s"
    )
    print(f"HSAC-IC training, update every step: {training_rate(args.train_steps, 1):8.0f} steps/s")
    gradient_ms = update_ms(args.updates)
    print(
        f"HSAC-IC gradient step:               {gradient_ms:8.1f} ms "
        f"(about {gradient_ms * env_steps_s / 1_000:.0f} environment steps)"
    )
    if args.profile:
        print(profile_env(args.env_steps))


if __name__ == "__main__":
    main()
