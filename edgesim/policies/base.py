"""The policy interface: an observation of one waiting request and all servers in, a decision
out.

Policies never see the SimPy environment. An :class:`Observation` carries plain numbers and a
:class:`ModelView` of the scenario's constants, with which a policy can predict, for any server
and level, when the request would finish at maximum speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from edgesim.model.compute import ComputeParams
from edgesim.model.planning import max_speed_finish_s
from edgesim.model.radio import RadioParams, rate_bps

if TYPE_CHECKING:
    from edgesim.sim.random import BufferedStream

__all__ = ["REJECT", "Decision", "ModelView", "Observation", "Policy"]


class Decision(NamedTuple):
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
    _speeds: dict[int, list[tuple[float, float]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def n_levels(self) -> int:
        """Number of quality levels."""
        return len(self.level_steps)

    def max_speeds(self, images: int) -> list[tuple[float, float]]:
        """Per level, the fractions of a job of ``images`` images that the CPU (all cores)
        and the GPU do per second at maximum frequency."""
        speeds = self._speeds.get(images)
        if speeds is None:
            compute = self.compute
            speeds = self._speeds[images] = [
                (
                    compute.cores * compute.cpu_max_hz / (work_cpu * images),
                    compute.gpu_max_hz / (work_gpu * images),
                )
                for work_cpu, work_gpu in zip(self.level_work_cpu, self.level_work_gpu, strict=True)
            ]
        return speeds


class Observation:
    """One waiting request and the state of every server at decision time.

    ``arrival_s`` and ``deadline_s`` are the request's absolute arrival time and deadline.
    Per-server lists are indexed by server. ``cpu_free_s`` and ``gpu_free_s`` are absolute
    predicted times each unit is free, counting requests already decided but still uploading;
    ``forward_s`` and ``return_s`` are this request's backhaul and downlink times to and from
    each server. ``gain`` is the request's channel gain to its own base station (fading
    included), ``station_gain_db`` the device's mean gain to every base station (path loss
    and shadowing, in dB).
    """

    __slots__ = (
        "_basis",
        "arrival_s",
        "base_station",
        "cpu_free_s",
        "cpu_ghz",
        "cpu_queue",
        "deadline_s",
        "epoch_remaining",
        "forward_s",
        "gain",
        "gpu_free_s",
        "gpu_ghz",
        "gpu_queue",
        "images",
        "in_system",
        "input_bits",
        "min_quality",
        "model",
        "now_s",
        "request_id",
        "return_s",
        "station_gain_db",
    )

    def __init__(
        self,
        now_s: float,
        request_id: int,
        arrival_s: float,
        images: int,
        input_bits: float,
        deadline_s: float,
        min_quality: float,
        base_station: int,
        gain: float,
        station_gain_db: list[float],
        cpu_free_s: list[float],
        gpu_free_s: list[float],
        cpu_queue: list[int],
        gpu_queue: list[int],
        in_system: list[int],
        cpu_ghz: list[float],
        gpu_ghz: list[float],
        forward_s: list[float],
        return_s: list[float],
        epoch_remaining: int,
        model: ModelView,
    ) -> None:
        self.now_s = now_s
        self.request_id = request_id
        self.arrival_s = arrival_s
        self.images = images
        self.input_bits = input_bits
        self.deadline_s = deadline_s
        self.min_quality = min_quality
        self.base_station = base_station
        self.gain = gain
        self.station_gain_db = station_gain_db
        self.cpu_free_s = cpu_free_s
        self.gpu_free_s = gpu_free_s
        self.cpu_queue = cpu_queue
        self.gpu_queue = gpu_queue
        self.in_system = in_system
        self.cpu_ghz = cpu_ghz
        self.gpu_ghz = gpu_ghz
        self.forward_s = forward_s
        self.return_s = return_s
        self.epoch_remaining = epoch_remaining
        self.model = model
        self._basis: tuple[float, list[tuple[float, float]]] | None = None

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

    def _prediction_basis(self) -> tuple[float, list[tuple[float, float]]]:
        """Compute and keep (upload end at full power, each level's speeds at maximum
        frequency), which every prediction for this observation shares: predictions read it
        as ``self._basis or self._prediction_basis()``, one attribute read after the first."""
        self._basis = (
            self.now_s + self.upload_at_max_power_s(),
            self.model.max_speeds(self.images),
        )
        return self._basis

    def finish_at_max_s(self, server: int, level: int, use_cpu: bool = True) -> float:
        """Predicted absolute time the result reaches the device, at full power and speed."""
        upload_end_s, speeds = self._basis or self._prediction_basis()
        speed_cpu, speed_gpu = speeds[level]
        finish_s = max_speed_finish_s(
            upload_end_s + self.forward_s[server],
            self.cpu_free_s[server],
            self.gpu_free_s[server],
            speed_cpu if use_cpu else 0.0,
            speed_gpu,
        )
        return finish_s + self.model.compute.overhead_s + self.return_s[server]

    def finish_at_max_by_server_s(self, level: int) -> list[float]:
        """:meth:`finish_at_max_s` of ``level`` on every server, in one pass."""
        upload_end_s, speeds = self._basis or self._prediction_basis()
        speed_cpu, speed_gpu = speeds[level]
        overhead_s = self.model.compute.overhead_s
        return [
            max_speed_finish_s(
                upload_end_s + forward_s, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu
            )
            + overhead_s
            + return_s
            for forward_s, cpu_free_s, gpu_free_s, return_s in zip(
                self.forward_s, self.cpu_free_s, self.gpu_free_s, self.return_s, strict=True
            )
        ]

    def valid_actions(self) -> list[list[bool]]:
        """[server][level]: predicted to meet the deadline and the quality floor."""
        quality_ok = [q >= self.min_quality for q in self.model.level_quality]
        return [
            [
                ok and self.finish_at_max_s(server, level) <= self.deadline_s
                for level, ok in enumerate(quality_ok)
            ]
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
