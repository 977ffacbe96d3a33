"""Scheduling policies: the interface and the reference schemes.

:data:`REFERENCE_POLICIES` is the one list of policy names; the scenario validation
(:mod:`edgesim.scenario`) and the command line read it from here.
"""

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
    "check_policy",
    "make_policy",
]

REFERENCE_POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in (RandomPolicy, RoundRobinPolicy, GreedyPolicy, GpuMaxPolicy)
}


def _checkpoint_file(spec: str) -> Path | None:
    """The checkpoint file a spec names (a file, or a folder holding ``policy.pt``)."""
    path = Path(spec)
    if path.is_dir() and (path / "policy.pt").is_file():
        return path / "policy.pt"
    return path if path.is_file() else None


def check_policy(spec: str) -> None:
    """Check that ``spec`` names a reference policy or an existing checkpoint.

    Checkpoint paths are relative to the working folder, as :func:`make_policy` reads them.

    :raises ValueError: with a one-line message that does not name the key (the caller does).
    """
    if spec in REFERENCE_POLICIES or _checkpoint_file(spec) is not None:
        return
    path = Path(spec)
    if path.is_dir():
        raise ValueError(f"folder {spec} holds no policy.pt")
    if path.suffix == ".pt" or len(path.parts) > 1:
        raise ValueError(f"no such checkpoint: {spec}")
    names = ", ".join(REFERENCE_POLICIES)
    raise ValueError(f"unknown policy {spec!r} (use one of {names} or a checkpoint path)")


def make_policy(spec: str | Policy) -> Policy:
    """A policy from a name (``greedy``...), a trained checkpoint path, or a Policy instance.

    :raises ValueError: when ``spec`` is neither a reference name nor an existing checkpoint.
    """
    if isinstance(spec, Policy):
        return spec
    check_policy(spec)
    if spec in REFERENCE_POLICIES:
        return REFERENCE_POLICIES[spec]()
    from edgesim.rl.trained import load_trained_policy

    return load_trained_policy(_checkpoint_file(spec))
