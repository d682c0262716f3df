"""Non-learned video scoring rules the paper compares the uninorm layer with (Table IV).

Both take padded ``(B, T, C)`` frame probabilities and an optional ``(B, T)`` bool mask (``True`` = real
frame; see :func:`ml.aggregation.pad_videos`) and return ``(B,)`` int64 video scores.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["argmax_mean", "max_argmax"]


def _check(frame_probs: Tensor, mask: Tensor | None) -> Tensor:
    """Validate the inputs and return the ``(B, T)`` bool mask (all ``True`` when ``mask`` is None)."""
    if not isinstance(frame_probs, Tensor) or frame_probs.dim() != 3:
        raise ValueError(
            f"frame_probs must be a (B, T, C) tensor, got {getattr(frame_probs, 'shape', type(frame_probs))}"
        )
    if mask is None:
        mask = torch.ones(frame_probs.shape[:2], dtype=torch.bool, device=frame_probs.device)
    elif mask.dtype != torch.bool or mask.shape != frame_probs.shape[:2]:
        raise ValueError(
            f"mask must be a bool tensor of shape {tuple(frame_probs.shape[:2])}, got "
            f"{mask.dtype} {tuple(mask.shape)}"
        )
    if frame_probs.shape[0] and not bool(mask.any(dim=1).all()):
        raise ValueError("every video needs at least one real (unmasked) frame")
    return mask


def max_argmax(frame_probs: Tensor, mask: Tensor | None = None) -> Tensor:
    """Video score = the highest per-frame argmax over the real frames: ``(B, T, C) -> (B,)`` int64.

    Raises:
        ValueError: on a bad shape or mask, or a video without real frames.
    """
    mask = _check(frame_probs, mask)
    frame_scores = frame_probs.argmax(dim=2).masked_fill(~mask, -1)  # (B, T)
    return frame_scores.amax(dim=1)


def argmax_mean(frame_probs: Tensor, mask: Tensor | None = None) -> Tensor:
    """Video score = argmax of the mean frame distribution over the real frames: ``(B, T, C) -> (B,)``.

    Raises:
        ValueError: on a bad shape or mask, or a video without real frames.
    """
    mask = _check(frame_probs, mask)
    # Summing is enough for the argmax (same positive divisor per video); the zeroed padding is ignored.
    totals = torch.where(mask.unsqueeze(-1), frame_probs, 0).sum(dim=1)  # (B, C)
    return totals.argmax(dim=1)
