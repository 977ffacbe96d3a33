"""Learning schedulers: the Gymnasium environment, HSAC-IC, the baselines and training.

>>> from edgesim.rl import EdgeEnv  # doctest: +SKIP

The environment (and with it the simulator and gymnasium), the HSAC agent (torch) and
Stable-Baselines3 load on first use: importing this package, or reading :data:`ALGOS`, costs
none of them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from edgesim.rl.algos import ALGOS
from edgesim.rl.config import HSACConfig
from edgesim.rl.features import (
    FeatureScales,
    encode,
    encode_batch,
    mask,
    mask_batch,
    observation_size,
    server_feature_slice,
)
from edgesim.rl.train import train
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

_LAZY = {
    "EdgeEnv": "edgesim.rl.env",
    "FlatActionEnv": "edgesim.rl.env",
    "HSACAgent": "edgesim.rl.hsac",
}


def __getattr__(name: str) -> Any:
    """Import the environment or the agent only when one is asked for."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
