"""Numpy ring replay buffer for masked (server, level) transitions.

Only the extrinsic reward is stored. The intrinsic curiosity reward depends on a module that
keeps learning, so it is recomputed for every sampled batch (see :mod:`edgesim.rl.curiosity`).

``done`` means *terminated*: a transition cut by a time limit (truncated) must be stored with
``done=False`` so that its target still bootstraps from the next state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Batch:
    """A sampled minibatch as CPU tensors (``B`` rows)."""

    obs: torch.Tensor
    """``(B, obs_dim)`` float32 observations."""
    mask: torch.Tensor
    """``(B, S, L)`` bool action masks of ``obs``."""
    server: torch.Tensor
    """``(B,)`` int64 chosen servers."""
    level: torch.Tensor
    """``(B,)`` int64 chosen levels."""
    reward: torch.Tensor
    """``(B,)`` float32 extrinsic rewards."""
    next_obs: torch.Tensor
    """``(B, obs_dim)`` float32 next observations."""
    next_mask: torch.Tensor
    """``(B, S, L)`` bool action masks of ``next_obs``."""
    done: torch.Tensor
    """``(B,)`` float32, 1.0 where the episode terminated (never for truncation)."""


_FIELDS = ("obs", "mask", "server", "level", "reward", "next_obs", "next_mask", "done")


class ReplayBuffer:
    """Fixed-capacity ring of transitions; the oldest is overwritten when full."""

    def __init__(self, capacity: int, obs_dim: int, n_servers: int, n_levels: int) -> None:
        self.capacity = capacity
        self.obs_dim = obs_dim
        self.n_servers = n_servers
        self.n_levels = n_levels
        shape_mask = (capacity, n_servers, n_levels)
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.mask = np.zeros(shape_mask, dtype=bool)
        self.server = np.zeros(capacity, dtype=np.int64)
        self.level = np.zeros(capacity, dtype=np.int64)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_mask = np.zeros(shape_mask, dtype=bool)
        self.done = np.zeros(capacity, dtype=np.float32)
        self.position = 0
        self.size = 0

    def __len__(self) -> int:
        """Number of stored transitions."""
        return self.size

    def add(
        self,
        obs: np.ndarray,
        mask: np.ndarray,
        action: tuple[int, int],
        reward: float,
        next_obs: np.ndarray,
        next_mask: np.ndarray,
        done: bool,
    ) -> None:
        """Store one transition, overwriting the oldest when the ring is full."""
        i = self.position
        self.obs[i] = obs
        self.mask[i] = mask
        self.server[i], self.level[i] = int(action[0]), int(action[1])
        self.reward[i] = reward
        self.next_obs[i] = next_obs
        self.next_mask[i] = next_mask
        self.done[i] = float(done)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """Draw ``batch_size`` transitions uniformly with replacement using ``rng``."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, self.size, size=batch_size)
        return Batch(**{name: torch.from_numpy(getattr(self, name)[idx]) for name in _FIELDS})

    def state_dict(self) -> dict[str, object]:
        """Return the stored part of the ring as tensors, plus the write position."""
        state: dict[str, object] = {
            name: torch.from_numpy(getattr(self, name)[: self.size].copy()) for name in _FIELDS
        }
        state["position"] = self.position
        state["size"] = self.size
        return state

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore contents saved by :meth:`state_dict` into this (same-capacity) ring."""
        size = int(state["size"])  # type: ignore[arg-type]
        if size > self.capacity:
            raise ValueError(f"saved buffer holds {size} transitions, capacity {self.capacity}")
        for name in _FIELDS:
            getattr(self, name)[:size] = state[name].numpy()  # type: ignore[attr-defined]
        self.size = size
        self.position = int(state["position"])  # type: ignore[arg-type]
