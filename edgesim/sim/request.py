"""The record of one request as it moves through the system."""

from __future__ import annotations

import math
import operator

__all__ = ["COLUMNS", "NUMBER_COLUMNS", "Request"]

NAN = math.nan

COLUMNS = (
    "request_id",
    "device",
    "base_station",
    "arrival",
    "deadline",
    "images",
    "input_bits",
    "min_quality",
    "server",
    "level",
    "steps",
    "decided",
    "upload_start",
    "upload_end",
    "server_arrival",
    "compute_start",
    "compute_end",
    "server_departure",
    "finish",
    "outcome",
    "latency",
    "tx_power_w",
    "cpu_share",
    "cpu_ghz",
    "gpu_ghz",
    "energy_tx_j",
    "energy_cpu_j",
    "energy_gpu_j",
    "quality",
    "utility",
)
NUMBER_COLUMNS = tuple(name for name in COLUMNS if name != "outcome")


class Request:
    """One image-generation request: its attributes, decisions, times and energies.

    Times are absolute simulated seconds (``deadline`` too); a time that never happened stays
    NaN. The working fields after ``utility`` are not recorded.
    """

    __slots__ = (
        *COLUMNS,
        "gain",
        "work_gpu",
        "work_cpu",
        "use_cpu",
        "dvfs",
        "parts_left",
        "ended",
        "forward_s",
        "return_s",
        "upload_s",
        "cpu_time_s",
        "gpu_time_s",
        "predicted_utility",
        "known_split",
    )

    def __init__(
        self,
        request_id: int,
        device: int,
        base_station: int,
        arrival: float,
        deadline: float,
        images: int,
        input_bits: float,
        min_quality: float,
        gain: float,
    ) -> None:
        self.request_id = request_id
        self.device = device
        self.base_station = base_station
        self.arrival = arrival
        self.deadline = deadline
        self.images = images
        self.input_bits = input_bits
        self.min_quality = min_quality
        self.gain = gain
        self.server = -1
        self.level = -1
        self.steps = 0
        self.decided = self.upload_start = self.upload_end = self.server_arrival = NAN
        self.compute_start = self.compute_end = self.server_departure = NAN
        self.finish = self.latency = NAN
        self.outcome = "pending"
        self.tx_power_w = self.cpu_share = self.cpu_ghz = self.gpu_ghz = NAN
        self.energy_tx_j = self.energy_cpu_j = self.energy_gpu_j = 0.0
        self.quality = self.utility = NAN
        self.work_gpu = self.work_cpu = 0.0
        self.use_cpu = True
        self.dvfs = ""
        self.parts_left = 0
        self.ended = False
        self.forward_s = self.return_s = self.upload_s = 0.0
        self.cpu_time_s = self.gpu_time_s = 0.0
        self.predicted_utility = NAN
        self.known_split = None

    numbers = property(
        operator.attrgetter(*NUMBER_COLUMNS),
        doc="The recorded columns but ``outcome``, in the order of :data:`NUMBER_COLUMNS`.",
    )

    @property
    def energy_j(self) -> float:
        """Transmit plus dynamic compute energy."""
        return self.energy_tx_j + self.energy_cpu_j + self.energy_gpu_j
