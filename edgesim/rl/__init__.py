"""Learning schedulers: the Gymnasium environment, HSAC-IC, the baselines and training.

>>> from edgesim.rl import EdgeEnv  # doctest: +SKIP

Torch and Stable-Baselines3 load on first use: importing this package costs neither.
"""

from __future__ import annotations

from typing import Any

from edgesim.rl.config import HSACConfig
from edgesim.rl.env import EdgeEnv, FlatActionEnv
from edgesim.rl.features import (
    FeatureScales,
    encode,
    encode_batch,
    mask,
    mask_batch,
    observation_size,
    server_feature_slice,
)
from edgesim.rl.train import ALGOS, train
from edgesim.rl.trained import TrainedPolicy, load_trained_policy

__all__ = [
    "ALGOS",
    "EdgeEnv",
    "FeatureScales",
    "FlatActionEnv",
    "HSACAgent",
    "HSACConfig",
    "TrainedPolicy",
    "encode",
    "encode_batch",
    "load_trained_policy",
    "mask",
    "mask_batch",
    "observation_size",
    "server_feature_slice",
    "train",
]


def __getattr__(name: str) -> Any:
    """Import :class:`HSACAgent` (and with it torch) only when it is asked for."""
    if name == "HSACAgent":
        from edgesim.rl.hsac import HSACAgent

        return HSACAgent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
