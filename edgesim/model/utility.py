"""Per-request utility (model section 8)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UtilityParams", "utility"]


@dataclass(frozen=True, slots=True)
class UtilityParams:
    """Weights of quality, normalised latency and normalised energy, and the failure penalty.

    Fields have no defaults: the scenario's ``utility`` section holds them
    (:meth:`from_scenario`).
    """

    w_quality: float
    w_latency: float
    w_energy: float
    energy_ref_j_per_image: float
    fail_penalty: float

    @classmethod
    def from_scenario(cls, section) -> UtilityParams:
        """Build from a scenario's ``utility`` section."""
        return cls(**section.model_dump())


def utility(
    quality: float,
    latency_s: float,
    deadline_s: float,
    energy_j: float,
    images: int,
    params: UtilityParams,
) -> float:
    """Utility of a request served within its deadline at an acceptable quality.

    ``deadline_s`` is the latency limit relative to arrival. Failed requests (missed, dropped,
    rejected, or below their quality floor) score ``-params.fail_penalty`` instead; the caller
    decides which case applies.
    """
    return (
        params.w_quality * quality
        - params.w_latency * latency_s / deadline_s
        - params.w_energy * energy_j / (images * params.energy_ref_j_per_image)
    )
