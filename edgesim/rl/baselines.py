"""Deep-RL baselines from Stable-Baselines3: PPO (multi-discrete action) and DQN (flat action).

Both act on the same :class:`~edgesim.rl.env.EdgeEnv` as HSAC-IC and ignore the action mask
(neither algorithm of the maintained library supports one): a masked action is carried out
and its request most likely fails, which the reward teaches them to avoid. Hyperparameters
and their sources are listed in ``docs/learning.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgesim.rl.algos import BASELINES
from edgesim.rl.env import EdgeEnv, FlatActionEnv

__all__ = [
    "BASELINES",
    "DQN_HYPERPARAMETERS",
    "PPO_HYPERPARAMETERS",
    "load_baseline",
    "make_baseline",
    "make_env",
]

_NET_ARCH = [128, 128]

PPO_HYPERPARAMETERS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "n_steps": 1024,
    "batch_size": 128,
    "n_epochs": 10,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_range": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "policy_kwargs": {"net_arch": _NET_ARCH},
}
"""PPO settings: Schulman et al. (2017) and the Stable-Baselines3 defaults, with a shorter
rollout (1024 decisions, about a quarter of a default episode), a small entropy bonus so the
level choice keeps exploring, and the same two 128-unit layers as HSAC-IC."""

DQN_HYPERPARAMETERS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "buffer_size": 100_000,
    "learning_starts": 1_000,
    "batch_size": 128,
    "gamma": 0.99,
    "tau": 1.0,
    "train_freq": 4,
    "gradient_steps": 1,
    "target_update_interval": 1_000,
    "exploration_fraction": 0.2,
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": 0.02,
    "policy_kwargs": {"net_arch": _NET_ARCH},
}
"""DQN settings: Mnih et al. (2015) with the replay size, warm-up, batch, discount and
network of HSAC-IC so the comparison changes only the algorithm; epsilon falls from 1 to 0.02
over the first fifth of training (RL Baselines3 Zoo uses 0.1 to 0.2 on small tasks)."""


def _short_rollout(hyperparameters: dict[str, Any], steps: int) -> dict[str, Any]:
    """PPO's rollout shortened to the budget (in multiples of 64), so a short run still trains."""
    n_steps = max(64, min(hyperparameters["n_steps"], steps // 64 * 64))
    batch_size = min(hyperparameters["batch_size"], n_steps)
    return {**hyperparameters, "n_steps": n_steps, "batch_size": batch_size}


def make_env(env: EdgeEnv, algo: str) -> EdgeEnv | FlatActionEnv:
    """The environment as the baseline sees it: flat actions for DQN."""
    return FlatActionEnv(env) if algo == "dqn" else env


def make_baseline(
    algo: str, env: EdgeEnv, seed: int, steps: int, tensorboard_dir: Path | None = None
) -> Any:
    """A new PPO or DQN model on ``env`` (wrapped for DQN), seeded with ``seed``.

    :param steps: the run's step budget; PPO's rollout is never longer.
    :param tensorboard_dir: where Stable-Baselines3 writes TensorBoard logs, or ``None``.
    """
    from stable_baselines3 import DQN, PPO

    common = {
        "seed": seed,
        "verbose": 0,
        "device": "cpu",
        "tensorboard_log": None if tensorboard_dir is None else str(tensorboard_dir),
    }
    if algo == "ppo":
        return PPO("MlpPolicy", env, **_short_rollout(PPO_HYPERPARAMETERS, steps), **common)
    if algo == "dqn":
        return DQN("MlpPolicy", make_env(env, algo), **DQN_HYPERPARAMETERS, **common)
    raise ValueError(f"unknown baseline {algo!r}: use one of {', '.join(BASELINES)}")


def load_baseline(algo: str, source: Any, env: EdgeEnv | None = None) -> Any:
    """A PPO or DQN model saved by Stable-Baselines3 (a path or a binary file object)."""
    from stable_baselines3 import DQN, PPO

    classes = {"ppo": PPO, "dqn": DQN}
    if algo not in classes:
        raise ValueError(f"unknown baseline {algo!r}: use one of {', '.join(BASELINES)}")
    wrapped = None if env is None else make_env(env, algo)
    return classes[algo].load(source, env=wrapped, device="cpu")
