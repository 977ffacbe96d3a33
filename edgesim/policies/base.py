"""The policy interface: an observation of one waiting request and all servers in, a decision
out.

Policies never see the SimPy environment. An :class:`Observation` carries plain numbers and a
:class:`ModelView` of the scenario's constants, with which a policy can predict, for any server
and level, when the request would finish at maximum speed.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgesim.model.compute import ComputeParams
from edgesim.model.planning import max_speed_finish_s
from edgesim.model.radio import RadioParams, rate_bps
from edgesim.sim.random import BufferedStream

__all__ = ["REJECT", "Decision", "ModelView", "Observation", "Policy"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Serve the request on ``server`` at quality ``level``, or reject it (server -1).

    ``use_cpu=False`` keeps the whole job on the GPU; ``dvfs`` overrides the scenario's DVFS
    rule for this request.
    """

    server: int
    level: int
    use_cpu: bool = True
    dvfs: str | None = None

    @property
    def rejected(self) -> bool:
        """Whether the request is turned away."""
        return self.server < 0


REJECT = Decision(-1, -1)


@dataclass(frozen=True)
class ModelView:
    """The scenario's constants that a policy may use to predict."""

    n_servers: int
    level_steps: tuple[int, ...]
    level_quality: tuple[float, ...]
    level_work_gpu: tuple[float, ...]
    level_work_cpu: tuple[float, ...]
    compute: ComputeParams
    radio: RadioParams
    dvfs: str

    @property
    def n_levels(self) -> int:
        """Number of quality levels."""
        return len(self.level_steps)


class Observation:
    """One waiting request and the state of every server at decision time.

    Per-server lists are indexed by server. ``cpu_free_s`` and ``gpu_free_s`` are absolute
    predicted times each unit is free, counting requests already decided but still uploading;
    ``forward_s`` and ``return_s`` are this request's backhaul and downlink times to and from
    each server. ``gain`` is the request's channel gain to its own base station (fading
    included), ``station_gain_db`` the device's mean gain to every base station (path loss
    and shadowing, in dB).
    """

    __slots__ = (
        "now_s", "request_id", "images", "input_bits", "deadline_s", "min_quality",
        "base_station", "gain", "station_gain_db", "cpu_free_s", "gpu_free_s", "cpu_queue", "gpu_queue",
        "in_system", "cpu_ghz", "gpu_ghz", "forward_s", "return_s", "epoch_remaining", "model",
    )

    def __init__(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self, name, value)

    @property
    def slack_s(self) -> float:
        """Seconds left until the deadline."""
        return self.deadline_s - self.now_s

    def upload_at_max_power_s(self) -> float:
        """Upload time at full power (0 with nothing to send)."""
        if self.input_bits <= 0.0:
            return 0.0
        radio = self.model.radio
        return self.input_bits / rate_bps(radio.max_power_w, self.gain, radio)

    def finish_at_max_s(self, server: int, level: int, use_cpu: bool = True) -> float:
        """Predicted absolute time the result reaches the device, at full power and speed."""
        model = self.model
        work_gpu = model.level_work_gpu[level] * self.images
        work_cpu = model.level_work_cpu[level] * self.images
        compute = model.compute
        speed_cpu = compute.cores * compute.cpu_max_hz / work_cpu if use_cpu else 0.0
        arrival_s = self.now_s + self.upload_at_max_power_s() + self.forward_s[server]
        finish_s = max_speed_finish_s(
            arrival_s, self.cpu_free_s[server], self.gpu_free_s[server], speed_cpu,
            compute.gpu_max_hz / work_gpu,
        )
        return finish_s + compute.overhead_s + self.return_s[server]

    def valid_actions(self) -> list[list[bool]]:
        """[server][level]: predicted to meet the deadline and the quality floor."""
        quality_ok = [q >= self.min_quality for q in self.model.level_quality]
        return [
            [ok and self.finish_at_max_s(server, level) <= self.deadline_s
             for level, ok in enumerate(quality_ok)]
            for server in range(self.model.n_servers)
        ]


class Policy:
    """Base class of scheduling policies.

    Subclasses implement :meth:`decide`. A policy whose :meth:`decide_batch` decides a whole
    epoch at once (one forward pass of a network) sets ``batched = True``; the scheduler then
    builds every observation of the epoch first, all from the state at the epoch's start.
    Otherwise requests are decided one at a time, each seeing the reservations of the ones
    before.
    """

    name = "policy"
    batched = False

    def reset(self, model: ModelView, rng: BufferedStream) -> None:
        """Called once before a simulation starts."""
        self.model = model
        self.rng = rng

    def decide(self, observation: Observation) -> Decision:
        """Choose a server and level for one request, or :data:`REJECT`."""
        raise NotImplementedError

    def decide_batch(self, observations: list[Observation]) -> list[Decision]:
        """Decide several requests; by default one at a time."""
        return [self.decide(observation) for observation in observations]
