"""The learning observation: an :class:`~edgesim.policies.Observation` as a scaled vector.

The vector has three blocks, in this order (``S`` servers, ``L`` quality levels):

1. server block, 7 entries per server (the input of the curiosity module, see
   :func:`server_feature_slice`): CPU backlog, GPU backlog, ``log1p`` of the CPU queue, the
   GPU queue and the requests in the system, CPU and GPU frequency over their maximum;
2. request block, ``6 + 4 S`` entries: input size, images, slack, minimum quality, full-power
   SNR of its own (faded) channel, ``log1p`` of the epoch's remaining requests, a one-hot of
   its base station, the full-power SNR of the mean channel to every base station, and the
   forward and return times to every server;
3. level block, ``L + S L`` entries: every level's quality minus the request's minimum
   quality, then, for every (server, level) in row-major order, the time left before the
   deadline when served there at full power and speed.

Times are divided by the scenario's longest deadline; SNRs are in dB divided by 20. Every
entry is clipped to ``[-CLIP, CLIP]``. ``docs/learning.md`` lists each feature and its scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgesim.model.planning import max_speed_finish_s
from edgesim.policies.base import Observation
from edgesim.scenario import Scenario

__all__ = [
    "CLIP",
    "SERVER_FEATURES",
    "FeatureScales",
    "encode",
    "encode_batch",
    "encode_with_mask",
    "finish_table_s",
    "mask",
    "mask_batch",
    "observation_size",
    "server_feature_slice",
]

CLIP = 10.0
"""Bound of every feature; backlogs of more than ten longest deadlines read as ten."""

SERVER_FEATURES = 7
"""Entries per server in the server block."""

_REQUEST_FEATURES = 6
_SNR_SCALE_DB = 20.0


@dataclass(frozen=True)
class FeatureScales:
    """The scenario constants that scale the features.

    A trained policy keeps the scales it was trained with, so it reads observations of another
    scenario (with the same server and level counts) in the units it learned.
    """

    time_s: float
    """The longest deadline, the unit of every time feature."""
    input_bits: float
    """The largest input size (1 Mbit when inputs are empty)."""
    images: float
    """The largest number of images per request."""
    snr_offset_db: float
    """Maximum transmit power over the sub-channel noise, in dB: gain (dB) + offset = SNR."""
    cpu_max_hz: float
    gpu_max_hz: float

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> FeatureScales:
        """Scales of ``scenario``."""
        devices, radio = scenario.devices, scenario.radio
        noise_dbm = (
            radio.noise_dbm_per_hz + 10.0 * math.log10(radio.subchannel_hz) + radio.noise_figure_db
        )
        return cls(
            time_s=float(devices.deadline_s[1]),
            input_bits=max(devices.input_mbit[1], 1.0) * 1e6,
            images=float(max(devices.images)),
            snr_offset_db=radio.max_power_dbm - noise_dbm,
            cpu_max_hz=scenario.servers.cpu.max_ghz * 1e9,
            gpu_max_hz=scenario.servers.gpu.max_ghz * 1e9,
        )

    def to_dict(self) -> dict[str, float]:
        """Plain values, for checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FeatureScales:
        """Rebuild from :meth:`to_dict`."""
        return cls(**{key: float(value) for key, value in values.items()})


def observation_size(n_servers: int, n_levels: int) -> int:
    """Length of the encoded observation."""
    return (SERVER_FEATURES + 4) * n_servers + _REQUEST_FEATURES + (n_servers + 1) * n_levels


def server_feature_slice(n_servers: int) -> slice:
    """Index slice of the server block, the input of the curiosity module."""
    return slice(0, SERVER_FEATURES * n_servers)


def finish_table_s(observation: Observation) -> np.ndarray:
    """``(S, L)`` predicted times the result reaches the device at full power and speed.

    Equal, entry by entry, to :meth:`Observation.finish_at_max_s`, with the upload time and
    the level speeds computed once (plain Python beats numpy on arrays this small).
    """
    model = observation.model
    compute = model.compute
    images = observation.images
    overhead_s = compute.overhead_s
    upload_end_s = observation.now_s + observation.upload_at_max_power_s()
    cpu_rate_hz = compute.cores * compute.cpu_max_hz
    speeds = [
        (cpu_rate_hz / (work_cpu * images), compute.gpu_max_hz / (work_gpu * images))
        for work_cpu, work_gpu in zip(model.level_work_cpu, model.level_work_gpu, strict=True)
    ]
    table = []
    for arrival_s, cpu_free_s, gpu_free_s, return_s in zip(
        (upload_end_s + forward_s for forward_s in observation.forward_s),
        observation.cpu_free_s,
        observation.gpu_free_s,
        observation.return_s,
        strict=True,
    ):
        table.append(
            [
                max_speed_finish_s(arrival_s, cpu_free_s, gpu_free_s, speed_cpu, speed_gpu)
                + overhead_s
                + return_s
                for speed_cpu, speed_gpu in speeds
            ]
        )
    return np.array(table)


def _mask_from(observation: Observation, finish_s: np.ndarray) -> np.ndarray:
    quality_ok = np.array(observation.model.level_quality) >= observation.min_quality
    return (finish_s <= observation.deadline_s) & quality_ok


def mask(observation: Observation) -> np.ndarray:
    """``(S, L)`` bool: the pairs predicted to meet the deadline and the quality floor.

    The same as :meth:`Observation.valid_actions`, as an array.
    """
    return _mask_from(observation, finish_table_s(observation))


def mask_batch(observations: Sequence[Observation]) -> np.ndarray:
    """``(B, S, L)`` masks of several observations."""
    return np.stack([mask(observation) for observation in observations])


def _server_block(observation: Observation, scales: FeatureScales) -> list[float]:
    now_s, time_s = observation.now_s, scales.time_s
    values: list[float] = []
    for cpu_free_s, gpu_free_s, cpu_queue, gpu_queue, in_system, cpu_ghz, gpu_ghz in zip(
        observation.cpu_free_s,
        observation.gpu_free_s,
        observation.cpu_queue,
        observation.gpu_queue,
        observation.in_system,
        observation.cpu_ghz,
        observation.gpu_ghz,
        strict=True,
    ):
        values += [
            (cpu_free_s - now_s) / time_s,
            (gpu_free_s - now_s) / time_s,
            math.log1p(cpu_queue),
            math.log1p(gpu_queue),
            math.log1p(in_system),
            cpu_ghz * 1e9 / scales.cpu_max_hz,
            gpu_ghz * 1e9 / scales.gpu_max_hz,
        ]
    return values


def _request_block(observation: Observation, scales: FeatureScales) -> list[float]:
    time_s, offset_db = scales.time_s, scales.snr_offset_db
    own_gain_db = 10.0 * math.log10(max(observation.gain, 1e-30))
    station = [0.0] * observation.model.n_servers
    station[observation.base_station] = 1.0
    return [
        observation.input_bits / scales.input_bits,
        observation.images / scales.images,
        observation.slack_s / time_s,
        observation.min_quality,
        (own_gain_db + offset_db) / _SNR_SCALE_DB,
        math.log1p(observation.epoch_remaining),
        *station,
        *((gain_db + offset_db) / _SNR_SCALE_DB for gain_db in observation.station_gain_db),
        *(forward_s / time_s for forward_s in observation.forward_s),
        *(return_s / time_s for return_s in observation.return_s),
    ]


def encode_with_mask(
    observation: Observation, scales: FeatureScales
) -> tuple[np.ndarray, np.ndarray]:
    """The encoded observation and its ``(S, L)`` mask, sharing one finish-time table."""
    finish_s = finish_table_s(observation)
    values = _server_block(observation, scales)
    values += _request_block(observation, scales)
    values += [q - observation.min_quality for q in observation.model.level_quality]
    slack_s = (observation.deadline_s - finish_s) / scales.time_s
    vector = np.concatenate([values, slack_s.ravel()]).astype(np.float32)
    np.minimum(vector, CLIP, out=vector)
    np.maximum(vector, -CLIP, out=vector)
    return vector, _mask_from(observation, finish_s)


def encode(observation: Observation, scales: FeatureScales) -> np.ndarray:
    """The observation as a float32 vector of :func:`observation_size` entries."""
    return encode_with_mask(observation, scales)[0]


def encode_batch(observations: Sequence[Observation], scales: FeatureScales) -> np.ndarray:
    """``(B, D)`` encoded observations."""
    return np.stack([encode(observation, scales) for observation in observations])
