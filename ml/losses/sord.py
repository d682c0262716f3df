"""SORD: soft ordinal labels and the matching cross-entropy (the paper's Eq. 3-4).

A hard score ``t`` becomes the distribution ``q_i = softmax_i(-scale * (r_t - r_i)^2)`` over the classes,
with class positions ``r = [0 - zero_offset, 1, 2, ..., C - 1]``; the loss is the cross-entropy between
``q`` and ``softmax(logits)``. ``zero_offset > 0`` moves score 0 ("healthy") further from the pathological
scores, so mistaking 0 for 1 costs more than mistaking 1 for 2.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ml.scores import NUM_SCORES

__all__ = ["SORDLoss", "class_positions", "soft_cross_entropy", "sord_soft_labels"]


def _check_hyper(num_classes: int, scale: float, zero_offset: float) -> None:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    if not (isinstance(zero_offset, int | float) and math.isfinite(zero_offset) and zero_offset >= 0):
        raise ValueError(f"zero_offset must be a finite number >= 0, got {zero_offset!r}")


def class_positions(
    num_classes: int = NUM_SCORES,
    *,
    zero_offset: float = 0.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """``(C,)`` ordinal positions ``[-zero_offset, 1, 2, ..., C - 1]`` of the classes.

    Raises:
        ValueError: if ``num_classes < 2`` or ``zero_offset`` is negative / not finite.
    """
    _check_hyper(num_classes, 1.0, zero_offset)
    r = torch.arange(num_classes, dtype=dtype, device=device)
    r[0] = -float(zero_offset)
    return r


def sord_soft_labels(
    labels: Tensor, num_classes: int = NUM_SCORES, *, scale: float = 1.0, zero_offset: float = 0.0
) -> Tensor:
    """Soft ordinal targets for integer ``labels``.

    Args:
        labels: ``(B,)`` integer class indices in ``[0, num_classes)``.
        num_classes: number of ordinal classes ``C`` (>= 2).
        scale: sharpness of the targets (> 0); larger puts more mass on the true class.
        zero_offset: extra distance (>= 0) between class 0 and the others.

    Returns:
        ``(B, C)`` float32 tensor on ``labels.device`` whose rows sum to 1.

    Raises:
        ValueError: on a non-integer or non-1-D ``labels`` tensor, labels outside ``[0, C)``, or bad
            hyper-parameters.
    """
    _check_hyper(num_classes, scale, zero_offset)
    if not isinstance(labels, Tensor) or labels.dim() != 1:
        raise ValueError(f"labels must be a 1-D tensor, got {getattr(labels, 'shape', type(labels))}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got range [{int(labels.min())}, {int(labels.max())}]"
        )
    r = class_positions(num_classes, zero_offset=zero_offset, device=labels.device)
    dist2 = (r[labels.long()].unsqueeze(1) - r.unsqueeze(0)).square()  # (B, C)
    return torch.softmax(-float(scale) * dist2, dim=1)


def soft_cross_entropy(logits: Tensor, soft_targets: Tensor) -> Tensor:
    """Mean over the batch of ``-sum_i q_i log softmax(logits)_i``.

    Args:
        logits: ``(B, C)`` unnormalised scores.
        soft_targets: ``(B, C)`` target distributions (rows summing to 1).

    Returns:
        Scalar tensor (in ``logits.dtype``).

    Raises:
        ValueError: if the shapes differ, are not 2-D, or the batch is empty.
    """
    if logits.dim() != 2 or soft_targets.shape != logits.shape:
        raise ValueError(
            f"logits and soft_targets must both be (B, C); got {tuple(logits.shape)} and "
            f"{tuple(soft_targets.shape)}"
        )
    if logits.shape[0] == 0:
        raise ValueError("soft_cross_entropy needs a non-empty batch")
    log_p = F.log_softmax(logits, dim=1)
    return -(soft_targets.to(log_p.dtype) * log_p).sum(dim=1).mean()


class SORDLoss(nn.Module):
    """Cross-entropy against SORD soft labels: ``forward(logits (B, C), labels (B,)) -> scalar``.

    Raises:
        ValueError: on bad hyper-parameters (constructor) or on mismatched shapes / out-of-range labels
            (forward).
    """

    def __init__(self, num_classes: int = NUM_SCORES, *, scale: float = 1.0, zero_offset: float = 0.0) -> None:
        super().__init__()
        _check_hyper(num_classes, scale, zero_offset)
        self.num_classes = num_classes
        self.scale = float(scale)
        self.zero_offset = float(zero_offset)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        if logits.dim() != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(f"logits must be (B, {self.num_classes}), got {tuple(logits.shape)}")
        if labels.dim() != 1 or labels.shape[0] != logits.shape[0]:
            raise ValueError(
                f"labels must be ({logits.shape[0]},) to match logits, got {tuple(labels.shape)}"
            )
        q = sord_soft_labels(labels, self.num_classes, scale=self.scale, zero_offset=self.zero_offset)
        return soft_cross_entropy(logits, q)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, scale={self.scale}, zero_offset={self.zero_offset}"
