"""Reference scheduling schemes: random, round-robin, greedy and GPU-max."""

from __future__ import annotations

from edgesim.policies.base import REJECT, Decision, Observation, Policy

__all__ = ["GpuMaxPolicy", "GreedyPolicy", "RandomPolicy", "RoundRobinPolicy"]


class RandomPolicy(Policy):
    """A server and a level drawn uniformly at random."""

    name = "random"

    def decide(self, observation: Observation) -> Decision:
        return Decision(
            int(self.rng.uniform() * self.model.n_servers) % self.model.n_servers,
            int(self.rng.uniform() * self.model.n_levels) % self.model.n_levels,
        )


class RoundRobinPolicy(Policy):
    """Servers in turn, always at the middle quality level."""

    name = "round-robin"

    def reset(self, model, rng) -> None:
        super().reset(model, rng)
        self._next_server = 0

    def decide(self, observation: Observation) -> Decision:
        server = self._next_server
        self._next_server = (server + 1) % self.model.n_servers
        return Decision(server, self.model.n_levels // 2)


class GreedyPolicy(Policy):
    """The server with the earliest predicted finish, then the best level that still fits.

    Servers are ranked by the predicted finish of the lowest level at full speed. On the best
    one, the highest-quality level predicted to meet the deadline (and the request's quality
    floor) is chosen; a request that no level can serve in time is rejected.
    """

    name = "greedy"

    def reset(self, model, rng) -> None:
        super().reset(model, rng)
        self._levels_by_quality = sorted(
            range(model.n_levels), key=lambda level: model.level_quality[level], reverse=True
        )
        self._fastest_level = min(
            range(model.n_levels), key=lambda level: model.level_work_gpu[level]
        )
        self._decisions = [
            [Decision(server, level) for level in range(model.n_levels)]
            for server in range(model.n_servers)
        ]

    def decide(self, observation: Observation) -> Decision:
        finish_s = observation.finish_at_max_by_server_s(self._fastest_level)
        server = finish_s.index(min(finish_s))
        level_quality = self.model.level_quality
        for level in self._levels_by_quality:
            if level_quality[level] < observation.min_quality:
                break
            if observation.finish_at_max_s(server, level) <= observation.deadline_s:
                return self._decisions[server][level]
        return REJECT


class GpuMaxPolicy(Policy):
    """GPU only, at maximum frequency and the highest quality, on the earliest-free GPU."""

    name = "gpu-max"

    def reset(self, model, rng) -> None:
        super().reset(model, rng)
        self._best_level = max(range(model.n_levels), key=lambda lv: model.level_quality[lv])

    def decide(self, observation: Observation) -> Decision:
        server = min(range(self.model.n_servers), key=lambda s: observation.gpu_free_s[s])
        return Decision(server, self._best_level, use_cpu=False, dvfs="max")
