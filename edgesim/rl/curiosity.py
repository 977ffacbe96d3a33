"""Intrinsic curiosity module (ICM) on the server-side part of the observation.

Following the idea of Pathak et al. (2017), an encoder phi maps the server features (backlogs,
queue lengths, frequencies) to a small embedding. An inverse model must recover the action
(server and level) from phi(s) and phi(s'); this shapes phi to keep what the action controls.
A forward model predicts phi(s') from phi(s) and the action; its squared error is the surprise.

The intrinsic reward of a transition is ``eta * e / m`` where ``e`` is the forward error, ``m``
an exponential running mean of the batch-mean error, and ``eta`` a coefficient that decays
over training. It is recomputed whenever a batch is sampled, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edgesim.rl.config import HSACConfig
from edgesim.rl.networks import make_mlp

_SCALE_FLOOR = 1e-8
"""Smallest running scale used as a divisor, to survive a perfectly predicted batch."""


class CuriosityNetworks(nn.Module):
    """Encoder, inverse model and forward model of the ICM."""

    def __init__(
        self,
        n_features: int,
        n_servers: int,
        n_levels: int,
        config: HSACConfig,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        hidden = (config.icm_hidden_size,)
        dim = config.icm_feature_dim
        self.n_servers = n_servers
        self.n_levels = n_levels
        self.encoder = make_mlp(n_features, hidden, dim, generator)
        self.inverse = make_mlp(2 * dim, hidden, n_servers + n_levels, generator)
        self.forward_model = make_mlp(dim + n_servers + n_levels, hidden, dim, generator)

    def action_one_hot(self, server: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """Concatenate one-hot codes of ``server`` and ``level``, shape ``(B, S + L)``."""
        return torch.cat(
            [
                F.one_hot(server, self.n_servers).float(),
                F.one_hot(level, self.n_levels).float(),
            ],
            dim=-1,
        )

    def losses(
        self,
        features: torch.Tensor,
        server: torch.Tensor,
        level: torch.Tensor,
        next_features: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(forward_loss, inverse_loss, per_sample_forward_error)``.

        The target phi(s') of the forward model is detached: otherwise the encoder could lower
        the forward loss by shrinking every embedding, and only the inverse loss shapes phi.
        """
        phi = self.encoder(torch.cat([features, next_features], dim=0))
        phi_s, phi_next = phi.chunk(2, dim=0)
        predicted = self.forward_model(torch.cat([phi_s, self.action_one_hot(server, level)], 1))
        error = 0.5 * (predicted - phi_next.detach()).pow(2).sum(dim=-1)
        logits = self.inverse(torch.cat([phi_s, phi_next], dim=-1))
        inverse_loss = F.cross_entropy(logits[:, : self.n_servers], server) + F.cross_entropy(
            logits[:, self.n_servers :], level
        )
        return error.mean(), inverse_loss, error.detach()


@dataclass
class CuriosityStats:
    """Diagnostics of one curiosity step."""

    forward_loss: float
    inverse_loss: float
    intrinsic_reward_mean: float
    running_scale: float


class Curiosity:
    """ICM networks and the running scale of the forward error.

    ``server_features`` selects the server-side entries of the observation vector. The module
    has no optimiser of its own: :meth:`loss_and_reward` returns a loss that the agent adds to
    its single optimisation step (the parameter sets are disjoint, so this equals a separate
    step).
    """

    def __init__(
        self,
        server_features: slice,
        obs_dim: int,
        n_servers: int,
        n_levels: int,
        config: HSACConfig,
        generator: torch.Generator,
    ) -> None:
        n_features = len(range(obs_dim)[server_features])
        if n_features == 0:
            raise ValueError(f"server_features {server_features} selects no observation entry")
        self.server_features = server_features
        self.config = config
        self.networks = CuriosityNetworks(n_features, n_servers, n_levels, config, generator)
        self.running_scale = 0.0
        self.scale_initialised = False

    def loss_and_reward(
        self,
        obs: torch.Tensor,
        server: torch.Tensor,
        level: torch.Tensor,
        next_obs: torch.Tensor,
        eta: float,
    ) -> tuple[torch.Tensor, torch.Tensor, CuriosityStats]:
        """Return ``(icm_loss, intrinsic_reward, stats)`` for a batch.

        The reward uses the forward error *before* the module learns from this batch, so a
        transition is rewarded for how surprising it was. The running scale is updated with the
        batch-mean error first, then divides every error of the batch.
        """
        forward_loss, inverse_loss, error = self.networks.losses(
            obs[:, self.server_features], server, level, next_obs[:, self.server_features]
        )
        self._update_scale(float(error.mean()))
        reward = eta * error / max(self.running_scale, _SCALE_FLOOR)
        beta = self.config.icm_beta
        loss = (1.0 - beta) * inverse_loss + beta * forward_loss
        stats = CuriosityStats(
            forward_loss.item(), inverse_loss.item(), reward.mean().item(), self.running_scale
        )
        return loss, reward, stats

    def forward_error(
        self,
        obs: torch.Tensor,
        server: torch.Tensor,
        level: torch.Tensor,
        next_obs: torch.Tensor,
    ) -> torch.Tensor:
        """Per-transition forward error, without training or touching the running scale."""
        with torch.no_grad():
            _, _, error = self.networks.losses(
                obs[:, self.server_features], server, level, next_obs[:, self.server_features]
            )
        return error

    def _update_scale(self, batch_error: float) -> None:
        """Fold the batch-mean forward error into the exponential running mean."""
        if not self.scale_initialised:
            self.running_scale = batch_error
            self.scale_initialised = True
            return
        momentum = self.config.intrinsic_scale_momentum
        self.running_scale = momentum * self.running_scale + (1.0 - momentum) * batch_error

    def state_dict(self) -> dict[str, object]:
        """Networks and running scale, for checkpoints."""
        return {
            "networks": self.networks.state_dict(),
            "running_scale": self.running_scale,
            "scale_initialised": self.scale_initialised,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.networks.load_state_dict(state["networks"])  # type: ignore[arg-type]
        self.running_scale = float(state["running_scale"])  # type: ignore[arg-type]
        self.scale_initialised = bool(state["scale_initialised"])
