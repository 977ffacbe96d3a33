"""The Gymnasium environment: one step per scheduling decision of a running simulation.

:class:`EdgeEnv` drives a :class:`~edgesim.sim.simulation.Simulation` built with
``external=True``: the SimPy events run until the scheduler asks for a decision, the agent
answers with a (server, level) pair, and the events run on to the next question. Requests that
no pair can serve in time (an all-False mask) are rejected without asking the agent.

Reward of a step (``scenario.scheduler.reward``):

- ``"delayed"``: the utility of every request that ended (completed, missed, dropped or
  rejected) since the previous step, as in reality;
- ``"predicted"``: the utility the planner predicts for the request just decided, at once.

Episodes are never terminated; they are truncated when the next event lies at or beyond
``duration_s``, the same instant :meth:`Simulation.run` stops at.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from edgesim.policies.base import REJECT, Decision, Observation
from edgesim.rl.features import CLIP, FeatureScales, encode_with_mask, observation_size
from edgesim.scenario import Scenario
from edgesim.sim.request import Request
from edgesim.sim.simulation import Simulation

__all__ = ["EdgeEnv", "FlatActionEnv", "episode_stats"]

_SEED_BOUND = 2**31 - 1


def _training_copy(scenario: Scenario) -> Scenario:
    """The scenario without the server time series, which the environment never reads."""
    return scenario.model_copy(
        update={"recording": scenario.recording.model_copy(update={"servers_timeseries": False})}
    )


def episode_stats(simulation: Simulation) -> dict[str, float]:
    """Mean utility and deadline-hit ratio of the requests that have ended so far."""
    outcomes = simulation.recorder.outcomes
    ended = simulation.ended_count
    return {
        "requests": float(ended),
        "mean_utility": simulation.ended_utility / ended if ended else float("nan"),
        "deadline_hit_ratio": outcomes["completed"] / ended if ended else float("nan"),
    }


class EdgeEnv(gym.Env):
    """Scheduling as a Gymnasium environment: which server and quality level for a request.

    :param scenario: the scenario to simulate; each episode is one run of ``duration_s``.
    :param seed: seeds the generator that draws a simulation seed at each unseeded
        :meth:`reset`. ``reset(seed=n)`` simulates with seed ``n`` itself.

    The observation is :func:`edgesim.rl.features.encode` of the waiting request; ``info``
    holds ``action_mask`` (``(S, L)`` bool, the pairs predicted to meet the deadline and
    quality floor) and ``action_mask_flat``. Masked actions are still carried out (the request
    is served and will most likely fail), so learners that ignore the mask work too.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, scenario: Scenario, seed: int | None = None) -> None:
        self.scenario = _training_copy(scenario)
        self.n_servers = scenario.servers.count
        self.n_levels = len(scenario.quality.levels)
        self.scales = FeatureScales.from_scenario(scenario)
        self.predicted_reward = scenario.scheduler.reward == "predicted"
        self.action_space = spaces.MultiDiscrete([self.n_servers, self.n_levels])
        size = observation_size(self.n_servers, self.n_levels)
        self.observation_space = spaces.Box(-CLIP, CLIP, shape=(size,), dtype=np.float32)
        self.simulation: Simulation | None = None
        self._np_random, _ = gym.utils.seeding.np_random(seed)
        self._request: Request | None = None
        self._obs = np.zeros(size, dtype=np.float32)
        self._mask = np.ones((self.n_servers, self.n_levels), dtype=bool)
        self._ended_utility = 0.0
        self._done = True

    @property
    def action_mask(self) -> np.ndarray:
        """``(S, L)`` mask of the request waiting for the agent."""
        return self._mask

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new simulation and run it to the first decision."""
        super().reset(seed=seed)
        sim_seed = seed if seed is not None else int(self.np_random.integers(_SEED_BOUND))
        self._drop_simulation()
        self.simulation = Simulation(self.scenario, seed=sim_seed, external=True)
        self._ended_utility = 0.0
        self._done = not self._advance()
        return self._obs.copy(), self._info()

    def step(
        self, action: np.ndarray | tuple[int, int]
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Serve the waiting request with ``action = (server, level)``; run to the next one."""
        if self._done or self.simulation is None:
            raise RuntimeError("step() called on a finished episode: call reset() first")
        server, level = int(action[0]), int(action[1])
        if not (0 <= server < self.n_servers and 0 <= level < self.n_levels):
            raise ValueError(f"action {(server, level)} outside {self.action_space}")
        decided = self._request
        self.simulation.scheduler.provide(Decision(server, level))
        self._done = not self._advance()
        reward = self._reward(decided)
        info = self._info()
        if self._done:
            info["episode_stats"] = episode_stats(self.simulation)
        return self._obs.copy(), reward, False, self._done, info

    def _reward(self, decided: Request) -> float:
        if self.predicted_reward:
            return float(decided.predicted_utility)
        ended_utility = self.simulation.ended_utility
        reward = ended_utility - self._ended_utility
        self._ended_utility = ended_utility
        return float(reward)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self._mask.copy(), "action_mask_flat": self._mask.reshape(-1)}

    def _advance(self) -> bool:
        """Run the events to the next decision the agent must take; False at the end."""
        simulation = self.simulation
        scheduler, env = simulation.scheduler, simulation.env
        end_s = self.scenario.duration_s
        while True:
            while scheduler.pending is None:
                if env.peek() >= end_s:
                    return False
                env.step()
            request, observation = scheduler.pending
            if self._take(observation):
                self._request = request
                return True
            scheduler.provide(REJECT)

    def _take(self, observation: Observation) -> bool:
        """Encode an observation; False (nothing to ask) when its mask is all False."""
        vector, mask = encode_with_mask(observation, self.scales)
        if not mask.any():
            return False
        self._obs, self._mask = vector, mask
        return True

    def _drop_simulation(self) -> None:
        """Close the previous run's trace and remove its staging folder."""
        if self.simulation is not None:
            self.simulation.recorder.close()
            self.simulation.recorder.discard()
            self.simulation = None

    def close(self) -> None:
        """Release the simulation in progress."""
        self._drop_simulation()
        self._done = True


class FlatActionEnv(gym.ActionWrapper):
    """:class:`EdgeEnv` with one ``Discrete(S * L)`` action: ``a = server * L + level``."""

    def __init__(self, env: EdgeEnv) -> None:
        super().__init__(env)
        self.n_levels = env.n_levels
        self.action_space = spaces.Discrete(env.n_servers * env.n_levels)

    def action(self, action: int | np.integer | np.ndarray) -> tuple[int, int]:
        """The (server, level) pair of a flat action."""
        server, level = divmod(int(action), self.n_levels)
        return server, level
