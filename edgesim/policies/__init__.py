"""Scheduling policies: the interface and the reference schemes."""

from __future__ import annotations

from pathlib import Path

from edgesim.policies.base import REJECT, Decision, ModelView, Observation, Policy
from edgesim.policies.reference import (
    GpuMaxPolicy,
    GreedyPolicy,
    RandomPolicy,
    RoundRobinPolicy,
)

__all__ = [
    "REFERENCE_POLICIES",
    "REJECT",
    "Decision",
    "ModelView",
    "Observation",
    "Policy",
    "make_policy",
]

REFERENCE_POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in (RandomPolicy, RoundRobinPolicy, GreedyPolicy, GpuMaxPolicy)
}


def make_policy(spec: str | Policy) -> Policy:
    """A policy from a name (``greedy``...), a trained checkpoint path, or a Policy instance."""
    if isinstance(spec, Policy):
        return spec
    if spec in REFERENCE_POLICIES:
        return REFERENCE_POLICIES[spec]()
    path = Path(spec)
    if path.is_dir() and (path / "policy.pt").is_file():
        path = path / "policy.pt"
    if path.is_file():
        from edgesim.rl.trained import load_trained_policy

        return load_trained_policy(path)
    names = ", ".join(REFERENCE_POLICIES)
    raise ValueError(f"unknown policy {spec!r}: use one of {names} or a checkpoint path")
