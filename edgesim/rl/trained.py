"""A trained ``policy.pt`` as a scheduling :class:`~edgesim.policies.Policy`.

``edgesim run SCENARIO --policy DIR/policy.pt`` reaches :func:`load_trained_policy` through
:func:`edgesim.policies.make_policy`. The policy is batched: the scheduler hands it a whole
epoch's observations, which are encoded, stacked and decided in one forward pass.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgesim.policies.base import REJECT, Decision, ModelView, Observation, Policy
from edgesim.rl.algos import ALGOS, HSAC_VARIANTS
from edgesim.rl.features import FeatureScales, encode_with_mask, observation_size
from edgesim.sim.random import BufferedStream

__all__ = [
    "POLICY_FORMAT",
    "POLICY_VERSION",
    "TrainedPolicy",
    "load_trained_policy",
    "read_policy_file",
]

POLICY_FORMAT = "edgesim-policy"
"""The ``format`` marker of every ``policy.pt``."""
POLICY_VERSION = 1
"""The ``version`` of ``policy.pt`` this code writes and reads."""
_READ_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError)

Decider = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(observations ``(B, D)``, masks ``(B, S, L)``) -> ``(B, 2)`` (server, level) pairs."""


def read_policy_file(path: str | Path) -> dict[str, Any]:
    """The content of a ``policy.pt`` written by :func:`edgesim.rl.train.train`, its
    ``payload`` (the learner's own saved file) as bytes.

    :raises ValueError: when the file is not such a policy (one-line message).
    """
    import torch

    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except _READ_ERRORS as error:
        raise ValueError(f"{path}: not an edgesim policy file ({type(error).__name__})") from None
    if not isinstance(content, dict) or content.get("format") != POLICY_FORMAT:
        raise ValueError(f"{path}: not an edgesim policy file (no format marker)")
    if content.get("version") != POLICY_VERSION:
        raise ValueError(f"{path}: policy file version {content.get('version')} is not supported")
    if content.get("algo") not in ALGOS:
        raise ValueError(f"{path}: unknown algo {content.get('algo')!r} in the policy file")
    payload = content.get("payload")
    if not isinstance(payload, torch.Tensor) or payload.dtype != torch.uint8:
        raise ValueError(f"{path}: the policy file holds no model payload")
    return {**content, "payload": payload.numpy().tobytes()}


def _hsac_decider(content: dict[str, Any], path: Path) -> Decider:
    """Greedy batched decisions of the HSAC agent held in the policy file's payload."""
    from edgesim.rl.hsac import HSACAgent

    try:
        agent = HSACAgent.load(
            io.BytesIO(content["payload"]),
            content["obs_dim"],
            content["n_servers"],
            content["n_levels"],
            label=f"{path} (its {content['algo']} payload)",
        )
    except (KeyError, TypeError) as error:
        raise ValueError(
            f"{path}: the {content['algo']} agent cannot be read ({error!r})"
        ) from None
    return lambda obs, masks: agent.act_batch(obs, masks, deterministic=True)


def _baseline_decider(content: dict[str, Any], path: Path) -> Decider:
    """Deterministic batched decisions of the Stable-Baselines3 model in the payload."""
    from edgesim.rl.baselines import load_baseline

    algo = content["algo"]
    try:
        model = load_baseline(algo, io.BytesIO(content["payload"]))
    except (*_READ_ERRORS, KeyError, ValueError, AssertionError) as error:
        # Stable-Baselines3's own messages name the in-memory stream, not this file.
        raise ValueError(
            f"{path}: the {algo} model in this policy file is corrupt ({type(error).__name__})"
        ) from None
    n_levels = content["n_levels"]

    def decide(obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        actions, _ = model.predict(obs, deterministic=True)
        actions = np.asarray(actions, dtype=np.int64)
        if algo == "dqn":
            return np.stack(np.divmod(actions.reshape(-1), n_levels), axis=1)
        return actions.reshape(-1, 2)

    return decide


class TrainedPolicy(Policy):
    """A learned scheduler deciding an epoch's requests in one batched forward pass.

    Requests that no (server, level) pair can serve in time are rejected, as in training. The
    HSAC variants choose among unmasked pairs only; PPO and DQN were trained without the
    mask and act as they learned, masked pairs included.
    """

    batched = True

    def __init__(self, content: dict[str, Any], decider: Decider, path: Path) -> None:
        self.name = str(content["name"])
        self.algo = str(content["algo"])
        self.path = path
        self.n_servers = int(content["n_servers"])
        self.n_levels = int(content["n_levels"])
        self.obs_dim = int(content["obs_dim"])
        self.scales = FeatureScales.from_dict(content["scales"])
        self.trained_steps = int(content.get("steps", 0))
        self.scenario = json.loads(content.get("scenario", "{}"))
        self._decide = decider

    def reset(self, model: ModelView, rng: BufferedStream) -> None:
        """Check that the scenario has the server and level counts the policy was trained on.

        :raises ValueError: on a mismatch, naming both counts.
        """
        super().reset(model, rng)
        found = (model.n_servers, model.n_levels)
        if found != (self.n_servers, self.n_levels):
            raise ValueError(
                f"{self.path}: trained for {self.n_servers} servers and {self.n_levels} levels, "
                f"the scenario has {found[0]} and {found[1]}"
            )
        if observation_size(*found) != self.obs_dim:
            raise ValueError(f"{self.path}: observation size {self.obs_dim} does not match")

    def decide(self, observation: Observation) -> Decision:
        """Decide one request (a batch of one)."""
        return self.decide_batch([observation])[0]

    def decide_batch(self, observations: list[Observation]) -> list[Decision]:
        """Decide every request of an epoch in one forward pass."""
        decisions: list[Decision] = [REJECT] * len(observations)
        if not observations:
            return decisions
        encoded = [encode_with_mask(observation, self.scales) for observation in observations]
        rows = [row for row, (_, mask) in enumerate(encoded) if mask.any()]
        if not rows:
            return decisions
        vectors = np.stack([encoded[row][0] for row in rows])
        masks = np.stack([encoded[row][1] for row in rows])
        pairs = self._decide(vectors, masks)
        for row, (server, level) in zip(rows, pairs.tolist(), strict=True):
            decisions[row] = Decision(int(server), int(level))
        return decisions


def load_trained_policy(path: str | Path) -> TrainedPolicy:
    """The policy saved in ``path`` (a ``policy.pt``), for any training algorithm.

    :raises ValueError: when the file is not a readable policy.
    """
    path = Path(path)
    content = read_policy_file(path)
    if content["algo"] in HSAC_VARIANTS:
        decider = _hsac_decider(content, path)
    else:
        decider = _baseline_decider(content, path)
    return TrainedPolicy(content, decider, path)
