"""Uplink channel, Shannon rate and least-energy transmit power (model section 4)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

__all__ = [
    "RadioParams",
    "channel_gain",
    "db_to_linear",
    "dbm_to_w",
    "least_power_w",
    "path_loss_db",
    "rate_bps",
    "upload_energy_j",
    "upload_time_s",
]


ArrayOrFloat = TypeVar("ArrayOrFloat", float, np.ndarray)
_LN2 = math.log(2.0)


def db_to_linear(value_db: float) -> float:
    """A ratio in decibels as a plain ratio."""
    return 10.0 ** (value_db / 10.0)


def dbm_to_w(power_dbm: float) -> float:
    """A power in dBm as watts."""
    return 10.0 ** ((power_dbm - 30.0) / 10.0)


@dataclass(frozen=True, slots=True)
class RadioParams:
    """One sub-channel's bandwidth, its noise power and the transmit-power bounds, in SI units.

    Built from the scenario's ``radio`` section with :meth:`from_scenario`.
    """

    bandwidth_hz: float
    noise_w: float
    min_power_w: float
    max_power_w: float

    @classmethod
    def from_scenario(cls, radio) -> RadioParams:
        """Build from a scenario's ``radio`` section (dBm, dB and Hz there)."""
        noise_w = (
            dbm_to_w(radio.noise_dbm_per_hz)
            * radio.subchannel_hz
            * db_to_linear(radio.noise_figure_db)
        )
        return cls(
            bandwidth_hz=radio.subchannel_hz,
            noise_w=noise_w,
            min_power_w=dbm_to_w(radio.min_power_dbm),
            max_power_w=dbm_to_w(radio.max_power_dbm),
        )


def path_loss_db(
    distance_m: ArrayOrFloat,
    intercept_db: float,
    slope_db: float,
    min_distance_m: float,
) -> ArrayOrFloat:
    """Log-distance path loss in dB, with the distance floored at ``min_distance_m``.

    The constants come from the scenario's ``radio.path_loss`` section. Works on a float or
    elementwise on a numpy array of distances.
    """
    distance_km = np.maximum(distance_m, min_distance_m) / 1000.0
    return intercept_db + slope_db * np.log10(distance_km)


def channel_gain(path_loss: float, shadowing_db: float, fading: float) -> float:
    """Linear power gain from path loss (dB), shadowing (dB) and a fading power sample."""
    return 10.0 ** ((shadowing_db - path_loss) / 10.0) * fading


def rate_bps(power_w: float, gain: float, params: RadioParams) -> float:
    """Shannon rate of one sub-channel at transmit power ``power_w``."""
    snr = power_w * gain / params.noise_w
    # log1p keeps full precision at the tiny SNRs of far, deeply faded devices.
    return params.bandwidth_hz * math.log1p(snr) / _LN2


def upload_time_s(bits: float, power_w: float, gain: float, params: RadioParams) -> float:
    """Time to send ``bits`` at ``power_w``; zero bits take no time."""
    if bits <= 0.0:
        return 0.0
    return bits / rate_bps(power_w, gain, params)


def upload_energy_j(bits: float, power_w: float, gain: float, params: RadioParams) -> float:
    """Device energy to send ``bits`` at ``power_w``."""
    return power_w * upload_time_s(bits, power_w, gain, params)


def least_power_w(bits: float, budget_s: float, gain: float, params: RadioParams) -> float:
    """The least power that sends ``bits`` within ``budget_s``, clipped to the power bounds.

    Upload energy falls with power, so this is the energy-optimal power for the budget. Returns
    ``math.inf`` when even the maximum power cannot meet the budget. With nothing to send the
    device stays at the minimum power (and spends no energy).
    """
    if bits <= 0.0:
        return params.min_power_w
    if budget_s <= 0.0:
        return math.inf
    exponent = bits / (params.bandwidth_hz * budget_s)
    if exponent > 1000.0:
        return math.inf
    power_w = math.expm1(exponent * _LN2) * params.noise_w / gain
    if power_w > params.max_power_w * (1.0 + 1e-12):
        return math.inf
    # Clipped to the bounds with comparisons: this runs for every decided request.
    if power_w < params.min_power_w:
        return params.min_power_w
    return power_w if power_w < params.max_power_w else params.max_power_w
