"""The names of the learning algorithms, defined once for the trainer, the policy loader, the
configuration and the command line.

This module imports nothing heavy, so ``edgesim --help`` can list the choices without loading
the simulator, gymnasium or torch.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ALGOS", "BASELINES", "HSAC_VARIANTS", "Variant"]

Variant = Literal["hsac-ic", "hsac", "sac"]
"""An algorithm built by :class:`~edgesim.rl.hsac.HSACAgent`: HSAC-IC and its two ablations."""

HSAC_VARIANTS: tuple[str, ...] = get_args(Variant)
"""The HSAC variants, in the order ``edgesim train --algo`` lists them."""

BASELINES: tuple[str, ...] = ("ppo", "dqn")
"""The Stable-Baselines3 baselines (:mod:`edgesim.rl.baselines`)."""

ALGOS: tuple[str, ...] = (*HSAC_VARIANTS, *BASELINES)
"""Every algorithm ``edgesim train`` accepts."""
