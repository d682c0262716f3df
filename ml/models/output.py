"""The output type shared by every frame scorer in :data:`ml.models.MODEL_REGISTRY`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .stn import crop_boxes

__all__ = ["FrameScorerOutput"]


@dataclass
class FrameScorerOutput:
    """What a frame scorer returns for a batch of ``B`` frames.

    Attributes:
        logits: ``(B, C)`` class scores of the (first) crop; the prediction.
        logits2: ``(B, C)`` scores of the second crop, only in training mode for two-crop models (Reg-STN);
            feeds the consistency loss. ``None`` otherwise.
        theta1: ``(B, 2, 3)`` affine transform (``F.affine_grid`` convention, ``align_corners=False``) of the
            classified crop, or ``None`` for full-frame models.
        theta2: ``(B, 2, 3)`` transform of the second crop, or ``None``.
        scales: ``(B, K)`` isotropic scale of each of the ``K`` crops (1 or 2), or ``None``.
    """

    logits: torch.Tensor
    logits2: torch.Tensor | None = None
    theta1: torch.Tensor | None = None
    theta2: torch.Tensor | None = None
    scales: torch.Tensor | None = None

    def probs(self) -> torch.Tensor:
        """``(B, C)`` softmax probabilities of :attr:`logits` (computed in float32)."""
        return torch.softmax(self.logits.float(), dim=1)

    def boxes(self, height: int, width: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Crop quadrilaterals ``(B, 4, 2)`` in input pixels for ``theta1`` and ``theta2`` (``None`` if absent).

        See :func:`ml.models.stn.crop_boxes` for the corner order and pixel convention.
        """
        b1 = crop_boxes(self.theta1, height, width) if self.theta1 is not None else None
        b2 = crop_boxes(self.theta2, height, width) if self.theta2 is not None else None
        return b1, b2
