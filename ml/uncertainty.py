"""How MC-dropout uncertainty is stored as an image: one definition for the ml core and the platform.

Torch-free, so the platform's web process reads the scale without loading torch."""

from __future__ import annotations

import numpy as np

#: Uncertainty images store ``round(255 * std / UNCERTAINTY_PNG_MAX)``; a probability's std is at most 0.5.
UNCERTAINTY_PNG_MAX = 0.5


def uncertainty_to_uint8(std: np.ndarray) -> np.ndarray:
    """Uncertainty image bytes: ``round(255 * std / UNCERTAINTY_PNG_MAX)``, clipped to 0..255."""
    return np.clip(np.round(np.asarray(std, dtype=np.float64) * (255.0 / UNCERTAINTY_PNG_MAX)), 0, 255).astype(np.uint8)
