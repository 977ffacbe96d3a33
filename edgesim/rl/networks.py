"""Neural networks of the HSAC-IC agent: policies, twin critics and masking helpers.

All layers are initialised from a :class:`torch.Generator` owned by the agent, never from
torch's global random state, so two agents in one process cannot disturb each other. Layers are
first built on the ``meta`` device, which allocates nothing and draws no random numbers.

The level policy has one head that outputs the level logits of every server at once,
``(B, n_servers, n_levels)``, rather than a network fed with a one-hot server. The exact soft
value needs pi_lo(l | s) for every server s of every state in the batch; one head gives all of
them in a single pass, where the one-hot design would need ``n_servers`` passes.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

MASKED_LOGIT = -1e9
"""Logit given to forbidden actions: its softmax is exactly 0.0 in float32, yet it stays finite,
so ``p * log p`` and its gradient are 0 rather than NaN."""

POLICY_OUTPUT_GAIN = 0.01
"""Scale of the last policy layer at initialisation, so the first policies are near uniform."""


def init_linear(layer: nn.Linear, generator: torch.Generator, gain: float = 1.0) -> nn.Linear:
    """Fill ``layer`` with U(-g/sqrt(fan_in), g/sqrt(fan_in)) drawn from ``generator``.

    The bound equals PyTorch's default initialisation of ``nn.Linear`` when ``gain`` is 1.
    """
    bound = gain / math.sqrt(layer.in_features)
    with torch.no_grad():
        nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def make_linear(
    in_dim: int, out_dim: int, generator: torch.Generator, gain: float = 1.0
) -> nn.Linear:
    """Build a CPU ``nn.Linear`` initialised from ``generator`` only."""
    layer = nn.Linear(in_dim, out_dim, device="meta").to_empty(device="cpu")
    return init_linear(layer, generator, gain)


def make_mlp(
    in_dim: int,
    hidden_sizes: tuple[int, ...],
    out_dim: int,
    generator: torch.Generator,
    output_gain: float = 1.0,
) -> nn.Sequential:
    """Build a ReLU multilayer perceptron ``in_dim -> hidden_sizes -> out_dim``."""
    layers: list[nn.Module] = []
    width = in_dim
    for hidden in hidden_sizes:
        layers += [make_linear(width, hidden, generator), nn.ReLU()]
        width = hidden
    layers.append(make_linear(width, out_dim, generator, gain=output_gain))
    return nn.Sequential(*layers)


class EnsembleLinear(nn.Module):
    """``n_members`` independent linear layers evaluated with one batched matrix product.

    Input ``(M, B, in_dim)``, or ``(B, in_dim)`` shared by all members; output
    ``(M, B, out_dim)``.
    """

    def __init__(
        self, n_members: int, in_dim: int, out_dim: int, generator: torch.Generator
    ) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        weight = torch.empty(n_members, in_dim, out_dim)
        bias = torch.empty(n_members, 1, out_dim)
        nn.init.uniform_(weight, -bound, bound, generator=generator)
        nn.init.uniform_(bias, -bound, bound, generator=generator)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply every member to its slice of ``x`` (or to the shared ``x``)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.weight.shape[0], -1, -1)
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """``n_members`` independent ReLU MLPs with the same shape, run together.

    With ``out_dim=None`` the last hidden layer is the output (a trunk for separate heads).
    """

    def __init__(
        self,
        n_members: int,
        in_dim: int,
        hidden_sizes: tuple[int, ...],
        out_dim: int | None,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        widths = (in_dim, *hidden_sizes) + ((out_dim,) if out_dim is not None else ())
        self.layers = nn.ModuleList(
            EnsembleLinear(n_members, w_in, w_out, generator)
            for w_in, w_out in itertools.pairwise(widths)
        )
        self.relu_last = out_dim is None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``(n_members, B, width)`` outputs of every member on the shared input."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last or self.relu_last:
                x = torch.relu(x)
        return x


class HierarchicalPolicy(nn.Module):
    """Server policy pi_hi and level policy pi_lo as two networks sharing no weight.

    Their hidden layers run as one two-member ensemble (one batched product per layer); each
    has its own output head. ``forward(obs)`` returns server logits ``(B, S)`` and the level
    logits of every server ``(B, S, L)``.
    """

    def __init__(
        self,
        obs_dim: int,
        n_servers: int,
        n_levels: int,
        hidden_sizes: tuple[int, ...],
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.n_servers = n_servers
        self.n_levels = n_levels
        width = hidden_sizes[-1]
        self.trunks = EnsembleMLP(2, obs_dim, hidden_sizes, None, generator)
        self.head_hi = make_linear(width, n_servers, generator, POLICY_OUTPUT_GAIN)
        self.head_lo = make_linear(width, n_servers * n_levels, generator, POLICY_OUTPUT_GAIN)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return unmasked ``(server_logits, level_logits)``."""
        hidden = self.trunks(obs)
        level_logits = self.head_lo(hidden[1]).view(-1, self.n_servers, self.n_levels)
        return self.head_hi(hidden[0]), level_logits


class FlatPolicy(nn.Module):
    """Policy of the ``"sac"`` ablation: observation -> logits of every pair ``(B, S, L)``."""

    def __init__(
        self,
        obs_dim: int,
        n_servers: int,
        n_levels: int,
        hidden_sizes: tuple[int, ...],
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.n_servers = n_servers
        self.n_levels = n_levels
        out_dim = n_servers * n_levels
        self.body = make_mlp(obs_dim, hidden_sizes, out_dim, generator, POLICY_OUTPUT_GAIN)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return unmasked joint logits, shape ``(B, n_servers, n_levels)``."""
        return self.body(obs).view(-1, self.n_servers, self.n_levels)


class TwinCritic(nn.Module):
    """Two independent Q networks giving Q for every (server, level) pair.

    ``forward(obs)`` returns ``(2, B, n_servers, n_levels)``: both critics in one pass.
    """

    def __init__(
        self,
        obs_dim: int,
        n_servers: int,
        n_levels: int,
        hidden_sizes: tuple[int, ...],
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.n_servers = n_servers
        self.n_levels = n_levels
        self.body = EnsembleMLP(2, obs_dim, hidden_sizes, n_servers * n_levels, generator)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return Q values of both critics, shape ``(2, B, n_servers, n_levels)``."""
        return self.body(obs).view(2, -1, self.n_servers, self.n_levels)


def masked_log_softmax(
    logits: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax over the last axis restricted to ``mask``.

    Returns ``(probs, log_probs)``: forbidden entries get probability exactly 0 and a log
    probability of 0 (not -inf) so that sums of ``p * log p`` need no special care. A row with
    no allowed entry comes out uniform; callers must weight it by zero.
    """
    masked = logits.masked_fill(~mask, MASKED_LOGIT)
    log_probs = torch.log_softmax(masked, dim=-1)
    probs = log_probs.exp()
    return probs, torch.where(mask, log_probs, torch.zeros_like(log_probs))
