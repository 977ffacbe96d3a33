"""Image quality of a diffusion level (model section 8)."""

from __future__ import annotations

import math

__all__ = ["quality"]


def quality(steps: int, resolution_weight: float, s0: float) -> float:
    """Quality in [0, 1] of images made with ``steps`` denoising steps.

    ``resolution_weight`` scales the saturating curve for the output resolution; ``s0`` is the
    number of steps at which the curve reaches 1 - 1/e of its ceiling.
    """
    return min(1.0, resolution_weight * -math.expm1(-steps / s0))
