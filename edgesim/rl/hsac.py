"""Hierarchical soft actor-critic with intrinsic curiosity (HSAC-IC) for masked (server, level)
actions, plus its two ablations (``"hsac"`` without curiosity, ``"sac"`` flat).

The joint policy is pi(s, l) = pi_hi(s) * pi_lo(l | s). Twin critics give Q(x, s, l) for every
pair, so the soft state value is an exact finite sum (see :func:`exact_soft_value` and
``docs/hsac.md``). The agent owns all its randomness (a numpy generator for action sampling,
another for minibatches, torch generators for initialisation) and sets no global state.

.. note::
   The agent never calls :func:`torch.set_num_threads`. Small networks run fastest with one or
   two threads; choosing the count is the trainer's job because it is process-wide.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from edgesim.rl.buffer import Batch, ReplayBuffer
from edgesim.rl.config import HSACConfig
from edgesim.rl.curiosity import Curiosity
from edgesim.rl.networks import FlatPolicy, HierarchicalPolicy, TwinCritic, masked_log_softmax

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "edgesim-hsac-checkpoint"
CHECKPOINT_VERSION = 1
_LOAD_ERRORS = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    KeyError,
    ValueError,
    OSError,
    zipfile.BadZipFile,
)
"""What ``torch.load`` raises on a file that is truncated, corrupt or not a torch file (a
truncated zip gives ``OSError`` errno 22 from a path and ``ValueError`` from memory)."""


@dataclass(frozen=True)
class PolicyTables:
    """Masked policy of a batch of states.

    For the hierarchical variants ``log_hi`` is log pi_hi(s) ``(B, S)`` and ``log_lo`` is
    log pi_lo(l | s) ``(B, S, L)``; for ``"sac"`` ``log_hi`` is ``None`` and ``log_lo`` holds the
    flat log pi(s, l). Forbidden entries have probability 0 and log probability 0.
    """

    probs_hi: torch.Tensor | None
    log_hi: torch.Tensor | None
    probs_lo: torch.Tensor
    log_lo: torch.Tensor

    @property
    def joint(self) -> torch.Tensor:
        """Joint probability pi(s, l), shape ``(B, S, L)``."""
        if self.probs_hi is None:
            return self.probs_lo
        return self.probs_hi.unsqueeze(-1) * self.probs_lo

    def split(self, size: int) -> tuple[PolicyTables, PolicyTables]:
        """Cut the batch into its first ``size`` rows and the rest."""
        parts = [
            t.split(size) if t is not None else (None, None)
            for t in (self.probs_hi, self.log_hi, self.probs_lo, self.log_lo)
        ]
        return PolicyTables(*(p[0] for p in parts)), PolicyTables(*(p[1] for p in parts))


@dataclass(frozen=True)
class PolicyEvaluation:
    """Numpy view of the policy and critics on a batch (see :meth:`HSACAgent.evaluate`)."""

    q_min: np.ndarray
    """``(B, S, L)`` minimum of the twin online critics."""
    joint_probs: np.ndarray
    """``(B, S, L)`` pi(s, l); exactly 0 on forbidden pairs."""
    integrand: np.ndarray
    """``(B, S, L)`` Q_min - alpha_hi log pi_hi(s) - alpha_lo log pi_lo(l|s) (flat: one log)."""
    value: np.ndarray
    """``(B,)`` exact soft value, the pi-weighted sum of ``integrand``."""


def exact_soft_value(
    q: torch.Tensor, policy: PolicyTables, alpha_hi: float, alpha_lo: float
) -> torch.Tensor:
    """Exact soft value V(x) of each state, shape ``(B,)``.

    Hierarchical: V = sum_s pi_hi(s) [sum_l pi_lo(l|s) (Q(s,l) - alpha_lo log pi_lo(l|s))
    - alpha_hi log pi_hi(s)], which equals sum_{s,l} pi(s,l) [Q - alpha_hi log pi_hi -
    alpha_lo log pi_lo] because each pi_lo(. | s) sums to one. The level entropy therefore
    enters weighted by pi_hi(s). Flat (``policy.log_hi is None``):
    V = sum_a pi(a) (Q(a) - alpha_lo log pi(a)).
    """
    inner = (policy.probs_lo * (q - alpha_lo * policy.log_lo)).sum(dim=-1)
    if policy.probs_hi is None:
        return inner.sum(dim=-1)
    return (policy.probs_hi * (inner - alpha_hi * policy.log_hi)).sum(dim=-1)


def sample_rows(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one index per row of ``probs`` ``(B, K)`` by inversion of the cumulative sum.

    The first index whose cumulative sum exceeds ``u`` is chosen, so a zero-probability entry
    can never be drawn (its cumulative sum equals its predecessor's).
    """
    cdf = np.cumsum(probs, axis=1, dtype=np.float64)
    total = cdf[:, -1]
    u = np.minimum(rng.random(len(probs)) * total, np.nextafter(total, 0.0))
    return (cdf <= u[:, None]).sum(axis=1)


def masked_probs(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``logits`` ``(B, K)`` over ``mask``, in float64.

    Forbidden entries get exactly 0 (``exp(-inf)``); every row needs one allowed entry.
    """
    z = np.where(mask, logits.astype(np.float64), -np.inf)
    z -= z.max(axis=1, keepdims=True)
    probs = np.exp(z)
    return probs / probs.sum(axis=1, keepdims=True)


def _validate_mask(mask: np.ndarray, batch: int, n_servers: int, n_levels: int) -> None:
    """Raise ValueError if ``mask`` has the wrong shape or a row allows no action."""
    if mask.shape != (batch, n_servers, n_levels):
        raise ValueError(f"mask shape {mask.shape} != expected {(batch, n_servers, n_levels)}")
    empty = ~mask.reshape(batch, -1).any(axis=1)
    if empty.any():
        rows = np.flatnonzero(empty).tolist()
        raise ValueError(f"action mask allows no (server, level) pair in row(s) {rows}")


class HSACAgent:
    """HSAC-IC agent over masked (server, level) actions.

    :param obs_dim: length of the observation vector.
    :param n_servers: number of servers (high-level choices).
    :param n_levels: number of quality levels (low-level choices).
    :param server_features: slice of the observation holding the server-side features, the
        input of the curiosity module.
    :param config: hyperparameters; ``config.variant`` selects HSAC-IC, HSAC or flat SAC.
    :param seed: seed of every random stream the agent owns.
    """

    def __init__(
        self,
        obs_dim: int,
        n_servers: int,
        n_levels: int,
        server_features: slice,
        config: HSACConfig | None = None,
        seed: int = 0,
    ) -> None:
        if min(obs_dim, n_servers, n_levels) < 1:
            raise ValueError("obs_dim, n_servers and n_levels must all be >= 1")
        self.config = config if config is not None else HSACConfig()
        self.obs_dim, self.n_servers, self.n_levels = obs_dim, n_servers, n_levels
        self.server_features = server_features
        self.seed = seed
        self.env_steps = 0
        self.gradient_steps = 0
        self._warned_no_mask = False
        self._build(seed)

    def _build(self, seed: int) -> None:
        """Create random streams, networks, the optimiser and the replay buffer."""
        cfg = self.config
        act_seq, batch_seq, net_seq, icm_seq = np.random.SeedSequence(seed).spawn(4)
        self._act_rng = np.random.default_rng(act_seq)
        self._batch_rng = np.random.default_rng(batch_seq)
        net_gen = torch.Generator().manual_seed(int(net_seq.generate_state(1)[0]))
        icm_gen = torch.Generator().manual_seed(int(icm_seq.generate_state(1)[0]))

        dims = (self.obs_dim, self.n_servers, self.n_levels, cfg.hidden_sizes, net_gen)
        self.critic = TwinCritic(*dims)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor = HierarchicalPolicy(*dims) if cfg.hierarchical else FlatPolicy(*dims)
        n_temps = 2 if cfg.hierarchical else 1
        self.log_alpha = torch.nn.Parameter(torch.full((n_temps,), math.log(cfg.initial_alpha)))
        self.curiosity = None
        if cfg.curiosity:
            self.curiosity = Curiosity(
                self.server_features, self.obs_dim, self.n_servers, self.n_levels, cfg, icm_gen
            )
        self.optimizer = torch.optim.Adam(self._param_groups(), fused=True)
        self.buffer = ReplayBuffer(cfg.buffer_size, self.obs_dim, self.n_servers, self.n_levels)

    def _param_groups(self) -> list[dict[str, Any]]:
        """Adam parameter groups: the parameters of every learner, grouped by step size.

        The losses of critics, policies, temperatures and curiosity touch disjoint parameters,
        and Adam works element by element, so one backward pass and one fused Adam step equal
        separate optimisers, at a fraction of their cost on a small CPU.
        """
        cfg = self.config
        learners = [
            (cfg.critic_lr, list(self.critic.parameters())),
            (cfg.actor_lr, list(self.actor.parameters())),
            (cfg.alpha_lr, [self.log_alpha]),
        ]
        if self.curiosity is not None:
            learners.append((cfg.icm_lr, list(self.curiosity.networks.parameters())))
        by_lr: dict[float, list[torch.nn.Parameter]] = {}
        for lr, params in learners:
            by_lr.setdefault(lr, []).extend(params)
        return [{"params": params, "lr": lr} for lr, params in by_lr.items()]

    @property
    def alphas(self) -> tuple[float, float]:
        """Current temperatures ``(alpha_hi, alpha_lo)``; for ``"sac"`` both are the one alpha."""
        values = self.log_alpha.detach().exp().tolist()
        return (values[0], values[-1])

    @property
    def eta(self) -> float:
        """Current intrinsic-reward coefficient (0 when curiosity is off)."""
        return self.config.eta_at(self.env_steps) if self.config.curiosity else 0.0

    def policy(self, obs: torch.Tensor, mask: torch.Tensor) -> PolicyTables:
        """Masked policy tables of a batch (differentiable; callers choose ``no_grad``)."""
        if not self.config.hierarchical:
            probs, log = masked_log_softmax(self.actor(obs).flatten(1), mask.flatten(1))
            shape = mask.shape
            return PolicyTables(None, None, probs.view(shape), log.view(shape))
        logits_hi, logits_lo = self.actor(obs)
        probs_hi, log_hi = masked_log_softmax(logits_hi, mask.any(dim=-1))
        probs_lo, log_lo = masked_log_softmax(logits_lo, mask)
        return PolicyTables(probs_hi, log_hi, probs_lo, log_lo)

    def act_batch(
        self, obs: np.ndarray, mask: np.ndarray, deterministic: bool = False
    ) -> np.ndarray:
        """Choose one (server, level) per row in one forward pass.

        :param obs: ``(B, obs_dim)`` observations.
        :param mask: ``(B, n_servers, n_levels)`` booleans, True where allowed.
        :param deterministic: greedy choice instead of sampling. Hierarchical variants take the
            most likely server, then its most likely level; ``"sac"`` the most likely pair.
        :returns: ``(B, 2)`` int64 array of ``(server, level)``.
        :raises ValueError: if a row of ``mask`` allows nothing or shapes do not match.
        """
        obs = np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        mask = np.asarray(mask, dtype=bool)
        _validate_mask(mask, len(obs), self.n_servers, self.n_levels)
        with torch.inference_mode():
            logits = self.actor(torch.from_numpy(obs))
        if not self.config.hierarchical:
            flat_probs = masked_probs(logits.flatten(1).numpy(), mask.reshape(len(obs), -1))
            pair = self._choose(flat_probs, deterministic)
            return np.stack(np.divmod(pair, self.n_levels), axis=1)
        logits_hi, logits_lo = (t.numpy() for t in logits)
        server = self._choose(masked_probs(logits_hi, mask.any(axis=2)), deterministic)
        rows = np.arange(len(obs))
        level_probs = masked_probs(logits_lo[rows, server], mask[rows, server])
        return np.stack([server, self._choose(level_probs, deterministic)], axis=1)

    def act(
        self, obs: np.ndarray, mask: np.ndarray, deterministic: bool = False
    ) -> tuple[int, int]:
        """Choose the ``(server, level)`` of one observation; see :meth:`act_batch`."""
        mask = np.asarray(mask, dtype=bool)[None]
        server, level = self.act_batch(np.asarray(obs)[None], mask, deterministic)[0]
        return int(server), int(level)

    def _choose(self, probs: np.ndarray, deterministic: bool) -> np.ndarray:
        """Argmax or a draw from the agent's action stream, row by row."""
        if deterministic:
            return probs.argmax(axis=1)
        return sample_rows(probs, self._act_rng)

    def evaluate(self, obs: np.ndarray, mask: np.ndarray) -> PolicyEvaluation:
        """Q values, policy, soft-value integrand and exact soft value of a batch."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim))
        mask = np.asarray(mask, dtype=bool)
        _validate_mask(mask, len(obs_t), self.n_servers, self.n_levels)
        mask_t = torch.from_numpy(mask)
        with torch.no_grad():
            tables = self.policy(obs_t, mask_t)
            q_min = self.critic(obs_t).min(dim=0).values
            alpha_hi, alpha_lo = self.alphas
            value = exact_soft_value(q_min, tables, alpha_hi, alpha_lo)
            integrand = q_min - alpha_lo * tables.log_lo
            if tables.log_hi is not None:
                integrand = integrand - alpha_hi * tables.log_hi.unsqueeze(-1)
        return PolicyEvaluation(
            q_min.numpy(), tables.joint.numpy(), integrand.numpy(), value.numpy()
        )

    def soft_value(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Exact soft value V(x) of each row under the online critics, shape ``(B,)``."""
        return self.evaluate(obs, mask).value

    def store(
        self,
        obs: np.ndarray,
        action: tuple[int, int] | np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        next_mask: np.ndarray,
        done: bool,
        mask: np.ndarray | None = None,
    ) -> None:
        """Store one transition with its *extrinsic* reward.

        :param done: True only when the episode terminated; pass False on truncation so the
            target bootstraps.
        :param mask: action mask of ``obs`` (the one given to :meth:`act`). It restricts the
            policy improvement at ``obs`` to allowed actions. If omitted, every action is treated
            as allowed at ``obs`` and a warning is issued once.
        """
        if mask is None:
            mask = np.ones((self.n_servers, self.n_levels), dtype=bool)
            if not self._warned_no_mask:
                warnings.warn(
                    "HSACAgent.store called without the mask of obs; the actor will also be "
                    "trained on forbidden actions. Pass mask=<the mask given to act>.",
                    stacklevel=2,
                )
                self._warned_no_mask = True
        action = (int(action[0]), int(action[1]))
        if not (0 <= action[0] < self.n_servers and 0 <= action[1] < self.n_levels):
            raise ValueError(f"action {action} outside {self.n_servers} x {self.n_levels}")
        self.buffer.add(obs, mask, action, reward, next_obs, next_mask, done)
        self.env_steps += 1

    def wants_update(self) -> bool:
        """True when the trainer should call :meth:`update` after the latest :meth:`store`."""
        warm = len(self.buffer) >= max(self.config.learning_starts, self.config.batch_size)
        return warm and self.env_steps % self.config.update_every == 0

    def update(self) -> dict[str, float]:
        """Run ``config.gradient_steps`` gradient steps and return their mean diagnostics.

        Returns an empty dict (and changes nothing) before ``learning_starts`` transitions.
        Keys: ``critic_loss``, ``q_mean``, ``eta``; hierarchical variants add
        ``actor_hi_loss``, ``actor_lo_loss``, ``alpha_hi``, ``alpha_lo``, ``entropy_hi``,
        ``entropy_lo``; ``"sac"`` adds ``actor_loss``, ``alpha``, ``entropy``; ``"hsac-ic"``
        adds ``icm_forward_loss``, ``icm_inverse_loss``, ``intrinsic_reward_mean``.
        """
        if len(self.buffer) < max(self.config.learning_starts, self.config.batch_size):
            return {}
        totals: dict[str, float] = {}
        for _ in range(self.config.gradient_steps):
            for key, value in self._gradient_step().items():
                totals[key] = totals.get(key, 0.0) + value
        return {key: value / self.config.gradient_steps for key, value in totals.items()}

    def _gradient_step(self) -> dict[str, float]:
        """One joint step of critics, policies, temperatures (and curiosity for HSAC-IC)."""
        batch = self.buffer.sample(self.config.batch_size, self._batch_rng)
        stats: dict[str, float] = {"eta": self.eta}
        losses, intrinsic = self._curiosity_terms(batch, stats)
        reward = batch.reward + intrinsic

        both_obs = torch.cat([batch.obs, batch.next_obs])
        tables = self.policy(both_obs, torch.cat([batch.mask, batch.next_mask]))
        current, following = tables.split(len(reward))
        critic_loss, q_min = self._critic_loss(batch, reward, following, stats)
        losses += [critic_loss, *self._actor_losses(q_min, current, batch.mask, stats)]

        self.optimizer.zero_grad(set_to_none=True)
        torch.stack(losses).sum().backward()
        self.optimizer.step()
        self._polyak()
        self.gradient_steps += 1
        return stats

    def _curiosity_terms(
        self, batch: Batch, stats: dict[str, float]
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """ICM loss (as a list, empty without curiosity) and the batch's intrinsic reward."""
        if self.curiosity is None:
            return [], torch.zeros_like(batch.reward)
        loss, reward, icm = self.curiosity.loss_and_reward(
            batch.obs, batch.server, batch.level, batch.next_obs, stats["eta"]
        )
        stats["icm_forward_loss"] = icm.forward_loss
        stats["icm_inverse_loss"] = icm.inverse_loss
        stats["intrinsic_reward_mean"] = icm.intrinsic_reward_mean
        return [loss], reward.detach()

    def _critic_loss(
        self,
        batch: Batch,
        reward: torch.Tensor,
        following: PolicyTables,
        stats: dict[str, float],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Twin regression on y = r + gamma (1 - done) V_target(x'); also returns Q_min.

        Q_min (detached, from the critics before this step) feeds the policy losses.
        """
        alpha_hi, alpha_lo = self.alphas
        with torch.no_grad():
            q_next = self.critic_target(batch.next_obs).min(dim=0).values
            v_next = exact_soft_value(q_next, following, alpha_hi, alpha_lo)
            target = reward + self.config.gamma * (1.0 - batch.done) * v_next

        q_all = self.critic(batch.obs)
        rows = torch.arange(len(reward))
        q_taken = q_all[:, rows, batch.server, batch.level]
        loss = 0.5 * (q_taken - target).pow(2).mean(dim=1).sum()
        stats["critic_loss"] = loss.item()
        stats["q_mean"] = q_taken.mean().item()
        return loss, q_all.detach().min(dim=0).values

    def _actor_losses(
        self,
        q_min: torch.Tensor,
        tables: PolicyTables,
        mask: torch.Tensor,
        stats: dict[str, float],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy-improvement loss and temperature loss at the batch's current states.

        Each log-temperature follows the gradient of log_alpha * (H - H_target): it falls when
        the policy is more random than its target entropy and rises when it is less.
        """
        if tables.probs_hi is None:
            loss, entropies, targets = self._flat_actor_loss(q_min, tables, mask, stats)
        else:
            loss, entropies, targets = self._hier_actor_loss(q_min, tables, mask, stats)
        gap = (entropies - targets).detach().mean(dim=1)
        return loss, (self.log_alpha * gap).sum()

    def _hier_actor_loss(
        self,
        q_min: torch.Tensor,
        tables: PolicyTables,
        mask: torch.Tensor,
        stats: dict[str, float],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Losses of both levels; returns ``(loss, entropies[2, B], targets[2, B])``.

        High level: minimise sum_s pi_hi(s) [alpha_hi log pi_hi(s) - W(s)] with
        W(s) = sum_l pi_lo(l|s) (Q_min - alpha_lo log pi_lo) held fixed. Low level: minimise
        sum_l pi_lo(l|s) [alpha_lo log pi_lo - Q_min] for every valid server s, averaged
        uniformly over valid servers (same fixed point as pi_hi weighting, but servers the
        high level rarely picks still learn their levels).
        """
        alpha_hi, alpha_lo = self.alphas
        p_hi, log_hi, p_lo, log_lo = tables.probs_hi, tables.log_hi, tables.probs_lo, tables.log_lo
        per_server = (p_lo * (alpha_lo * log_lo - q_min)).sum(dim=-1)
        hi_loss = (p_hi * (alpha_hi * log_hi + per_server.detach())).sum(dim=-1).mean()

        server_valid = mask.any(dim=-1).float()
        weights = server_valid / server_valid.sum(dim=-1, keepdim=True)
        lo_loss = (weights * per_server).sum(dim=-1).mean()

        p_hi_fixed = p_hi.detach()
        entropy_hi = -(p_hi_fixed * log_hi.detach()).sum(dim=-1)
        entropy_lo_s = -(p_lo * log_lo).detach().sum(dim=-1)
        entropy_lo = (p_hi_fixed * entropy_lo_s).sum(dim=-1)
        cfg = self.config
        target_hi = cfg.target_entropy_ratio_hi * torch.log(server_valid.sum(dim=-1))
        log_levels = torch.log(mask.sum(dim=-1).clamp(min=1).float())
        target_lo = cfg.target_entropy_ratio_lo * (p_hi_fixed * log_levels).sum(dim=-1)

        stats.update(
            actor_hi_loss=hi_loss.item(),
            actor_lo_loss=lo_loss.item(),
            alpha_hi=alpha_hi,
            alpha_lo=alpha_lo,
            entropy_hi=entropy_hi.mean().item(),
            entropy_lo=entropy_lo.mean().item(),
        )
        entropies = torch.stack([entropy_hi, entropy_lo])
        return hi_loss + lo_loss, entropies, torch.stack([target_hi, target_lo])

    def _flat_actor_loss(
        self,
        q_min: torch.Tensor,
        tables: PolicyTables,
        mask: torch.Tensor,
        stats: dict[str, float],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Discrete SAC loss sum_a pi(a) [alpha log pi(a) - Q_min(a)] over allowed pairs."""
        alpha = self.alphas[0]
        probs, log_probs = tables.probs_lo, tables.log_lo
        loss = (probs * (alpha * log_probs - q_min)).sum(dim=(1, 2)).mean()
        entropy = -(probs * log_probs).detach().sum(dim=(1, 2))
        target = self.config.target_entropy_ratio_flat * torch.log(mask.sum(dim=(1, 2)).float())
        stats.update(actor_loss=loss.item(), alpha=alpha, entropy=entropy.mean().item())
        return loss, entropy.unsqueeze(0), target.unsqueeze(0)

    def _polyak(self) -> None:
        """Move the target critics a fraction tau towards the online critics."""
        with torch.no_grad():
            for target, online in zip(
                self.critic_target.parameters(), self.critic.parameters(), strict=True
            ):
                target.lerp_(online, self.config.tau)

    def save(self, path: str | Path | BinaryIO, include_buffer: bool = True) -> None:
        """Write a checkpoint from which :meth:`load` resumes training exactly.

        :param include_buffer: also store the replay buffer; without it a resumed run starts
            from an empty buffer and no longer matches an uninterrupted one.
        """
        checkpoint = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": self.config.to_dict(),
            "dims": self._dims(),
            "seed": self.seed,
            "counters": {"env_steps": self.env_steps, "gradient_steps": self.gradient_steps},
            "modules": self._module_states(),
            "rng": json.dumps(
                {
                    "act": self._act_rng.bit_generator.state,
                    "batch": self._batch_rng.bit_generator.state,
                }
            ),
            "curiosity": self.curiosity.state_dict() if self.curiosity else None,
            "buffer": self.buffer.state_dict() if include_buffer else None,
        }
        torch.save(checkpoint, path)
        logger.info(
            "saved %s agent after %d env steps to %s", self.config.variant, self.env_steps, path
        )

    @classmethod
    def load(
        cls,
        path: str | Path | BinaryIO,
        obs_dim: int | None = None,
        n_servers: int | None = None,
        n_levels: int | None = None,
        *,
        label: str | None = None,
    ) -> HSACAgent:
        """Rebuild an agent saved by :meth:`save`, including optimisers and random streams.

        Dimensions given here are checked against the checkpoint.

        :param label: how error messages name the checkpoint; by default its path, or the
            ``name`` of a file object. Give one for data read from memory.
        :raises ValueError: if ``path`` is corrupt, not an HSAC checkpoint, or a dimension
            differs (one line, naming the checkpoint).
        """
        where = label if label is not None else _describe(path)
        checkpoint = _read_checkpoint(path, where)
        expected = {"obs_dim": obs_dim, "n_servers": n_servers, "n_levels": n_levels}
        dims = _checked_dims(checkpoint, where, expected)
        try:
            agent = cls(
                dims["obs_dim"],
                dims["n_servers"],
                dims["n_levels"],
                slice(*dims["server_features"]),
                HSACConfig.from_dict(checkpoint["config"]),
                checkpoint["seed"],
            )
            agent._restore(checkpoint)
        except (RuntimeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"checkpoint {where} cannot be restored: {err}") from err
        return agent

    def _dims(self) -> dict[str, Any]:
        """Dimensions that define the network shapes."""
        sf = self.server_features
        return {
            "obs_dim": self.obs_dim,
            "n_servers": self.n_servers,
            "n_levels": self.n_levels,
            "server_features": (sf.start, sf.stop, sf.step),
        }

    def _module_states(self) -> dict[str, Any]:
        """State dicts of every network and optimiser."""
        return {
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "actor": self.actor.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "optimizer": self.optimizer.state_dict(),
        }

    def _restore(self, checkpoint: dict[str, Any]) -> None:
        """Load modules, optimisers, counters, random streams and buffer from a checkpoint."""
        modules = checkpoint["modules"]
        self.critic.load_state_dict(modules["critic"])
        self.critic_target.load_state_dict(modules["critic_target"])
        self.actor.load_state_dict(modules["actor"])
        with torch.no_grad():
            self.log_alpha.copy_(modules["log_alpha"])
        if self.curiosity is not None:
            self.curiosity.load_state_dict(checkpoint["curiosity"])
        self.optimizer.load_state_dict(modules["optimizer"])
        if checkpoint["buffer"] is not None:
            self.buffer.load_state_dict(checkpoint["buffer"])
        rng = json.loads(checkpoint["rng"])
        self._act_rng.bit_generator.state = rng["act"]
        self._batch_rng.bit_generator.state = rng["batch"]
        self.env_steps = checkpoint["counters"]["env_steps"]
        self.gradient_steps = checkpoint["counters"]["gradient_steps"]


def _describe(source: str | Path | BinaryIO) -> str:
    """The name of a checkpoint source for messages: a path, or a file object's own name."""
    if isinstance(source, str | os.PathLike):
        return str(source)
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, str | os.PathLike) else "(checkpoint data in memory)"


def _checked_dims(
    checkpoint: dict[str, Any], where: str, expected: dict[str, int | None]
) -> dict[str, Any]:
    """The checkpoint's dimensions; ValueError when they are missing or differ from a given one."""
    dims = checkpoint.get("dims")
    if not isinstance(dims, dict) or any(
        name not in dims for name in (*expected, "server_features")
    ):
        raise ValueError(f"checkpoint {where} records no valid dimensions")
    for name, value in expected.items():
        if value is not None and value != dims[name]:
            raise ValueError(f"checkpoint {where} has {name}={dims[name]}, expected {name}={value}")
    return dims


def _read_checkpoint(path: str | Path | BinaryIO, where: str) -> dict[str, Any]:
    """Load and sanity-check a checkpoint file; ValueError (naming ``where``) if it is not one."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"{where}: no such HSAC checkpoint") from None
    except _LOAD_ERRORS as err:
        raise ValueError(
            f"{where} is corrupt or not an HSAC checkpoint ({type(err).__name__})"
        ) from err
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{where} is not an HSAC checkpoint (missing format marker)")
    if checkpoint.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"{where} is checkpoint version {checkpoint.get('version')}, "
            f"this code reads version {CHECKPOINT_VERSION}"
        )
    return checkpoint
