"""Reg-STN regularisers and the total training loss (Roy et al., TMI 2020, Eq. 5-7).

* :func:`consistency_loss` (Eq. 5): mean squared difference between the classifier outputs (logits) of the
  two crops, averaged over batch and classes.
* :func:`scale_prior_loss` (Eq. 6): ``|σ1 − σp1| + |σ2 − σp2|`` per frame, averaged over the batch.
* :class:`RegSTNLoss` (Eq. 7): ``L = L_cls(x1) + w_c · L_cons + w_s · L_scale`` where ``L_cls`` is SORD
  cross-entropy (or plain cross-entropy for the ``cnn_ce`` baseline). Terms whose inputs a model does not
  produce (no second crop, no learned scale) are zero, so the same criterion serves every registered model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ml.scores import NUM_SCORES

from .sord import SORDLoss

__all__ = ["DEFAULT_SORD_SCALE", "RegSTNLoss", "RegSTNLossOutput", "consistency_loss", "scale_prior_loss"]

#: Reference-code default of the SORD sharpness (``multiplier=2``).
DEFAULT_SORD_SCALE = 2.0


class _ScorerOutput(Protocol):
    logits: Tensor
    logits2: Tensor | None
    scales: Tensor | None


def consistency_loss(logits1: Tensor, logits2: Tensor) -> Tensor:
    """Eq. 5: ``mean((logits1 - logits2) ** 2)`` over batch and classes.

    Args:
        logits1, logits2: ``(B, C)`` outputs of the classifier on crops x1 and x2.

    Returns:
        Scalar float32 tensor.

    Raises:
        ValueError: if the shapes differ or are not ``(B, C)``.
    """
    if logits1.ndim != 2 or logits1.shape != logits2.shape:
        raise ValueError(
            f"expected two (B, C) tensors, got {tuple(logits1.shape)} and {tuple(logits2.shape)}"
        )
    return F.mse_loss(logits1.float(), logits2.float())


def scale_prior_loss(scales: Tensor, priors: Sequence[float] | Tensor) -> Tensor:
    """Eq. 6: ``sum_k |σ_k − σp_k|`` per frame, averaged over the batch.

    Args:
        scales: ``(B, K)`` predicted crop scales.
        priors: ``K`` prior scales (paper: 0.5, 0.75).

    Returns:
        Scalar float32 tensor.

    Raises:
        ValueError: if ``scales`` is not ``(B, K)`` with ``K == len(priors)``.
    """
    p = torch.as_tensor(priors, dtype=torch.float32, device=scales.device).flatten()
    if scales.ndim != 2 or scales.shape[1] != p.numel():
        raise ValueError(f"scales must be (B, {p.numel()}), got {tuple(scales.shape)}")
    return (scales.float() - p).abs().sum(dim=1).mean()


class RegSTNLossOutput(NamedTuple):
    """Total loss and its (unweighted) parts, all scalar tensors."""

    total: Tensor
    classification: Tensor
    consistency: Tensor
    scale: Tensor

    def as_floats(self) -> dict[str, float]:
        """Detached python floats, for logging."""
        return {k: float(v.detach()) for k, v in self._asdict().items()}


class RegSTNLoss(nn.Module):
    """Eq. 7: classification loss on x1 + ``consistency_weight`` · Eq. 5 + ``scale_weight`` · Eq. 6.

    Args:
        num_classes: number of classes ``C``.
        classification: ``"sord"`` (soft ordinal labels) or ``"ce"`` (hard cross-entropy).
        classification_weight: weight of the classification term.
        consistency_weight: ``w_c``; used when the output has ``logits2``.
        scale_weight: ``w_s``; used when the output has ``scales`` and ``scale_priors`` is given.
        scale_priors: prior scale per crop (paper: ``(0.5, 0.75)``); ``None`` disables the term.
        sord_scale, sord_zero_offset: SORD hyper-parameters (see :mod:`ml.losses.sord`).

    ``forward(output, labels)`` takes anything with ``logits (B, C)``, ``logits2 (B, C) | None`` and
    ``scales (B, K) | None`` (a :class:`ml.models.FrameScorerOutput`) plus integer ``labels (B,)`` and
    returns a :class:`RegSTNLossOutput`.

    Raises:
        ValueError: on invalid weights / loss names (constructor) or shapes (forward).
    """

    def __init__(
        self,
        num_classes: int = NUM_SCORES,
        *,
        classification: str = "sord",
        classification_weight: float = 1.0,
        consistency_weight: float = 1.0,
        scale_weight: float = 1.0,
        scale_priors: Sequence[float] | None = (0.5, 0.75),
        sord_scale: float = DEFAULT_SORD_SCALE,
        sord_zero_offset: float = 0.0,
    ) -> None:
        super().__init__()
        if classification not in ("sord", "ce"):
            raise ValueError(f"classification must be 'sord' or 'ce', got {classification!r}")
        for name, w in (
            ("classification_weight", classification_weight),
            ("consistency_weight", consistency_weight),
            ("scale_weight", scale_weight),
        ):
            if not w >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {w}")
        if scale_priors is not None:
            scale_priors = tuple(float(s) for s in scale_priors)
            if not scale_priors or any(not 0.0 < s <= 1.0 for s in scale_priors):
                raise ValueError(f"scale_priors must be values in (0, 1], got {scale_priors}")
        self.num_classes = num_classes
        self.classification = classification
        self.classification_weight = float(classification_weight)
        self.consistency_weight = float(consistency_weight)
        self.scale_weight = float(scale_weight)
        self.scale_priors = scale_priors
        self.sord = SORDLoss(num_classes, scale=sord_scale, zero_offset=sord_zero_offset)

    def classification_loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """SORD or CE of ``logits (B, C)`` against ``labels (B,)`` (float32 scalar)."""
        if self.classification == "ce":
            if logits.ndim != 2 or labels.shape != (logits.shape[0],):
                raise ValueError(
                    f"expected logits (B, C) and labels (B,), got {logits.shape}, {labels.shape}"
                )
            return F.cross_entropy(logits.float(), labels.long())
        return self.sord(logits.float(), labels)

    def forward(self, output: _ScorerOutput, labels: Tensor) -> RegSTNLossOutput:
        cls = self.classification_loss(output.logits, labels)
        zero = cls.new_zeros(())
        cons = zero
        if output.logits2 is not None:
            cons = consistency_loss(output.logits, output.logits2)
        scale = zero
        scales = getattr(output, "scales", None)
        if scales is not None and self.scale_priors is not None:
            if scales.ndim != 2 or scales.shape[1] != len(self.scale_priors):
                raise ValueError(
                    f"model predicts scales of shape {tuple(scales.shape)} but {len(self.scale_priors)} "
                    "scale priors were given"
                )
            scale = scale_prior_loss(scales, self.scale_priors)
        total = self.classification_weight * cls
        if self.consistency_weight:
            total = total + self.consistency_weight * cons
        if self.scale_weight:
            total = total + self.scale_weight * scale
        return RegSTNLossOutput(total=total, classification=cls, consistency=cons, scale=scale)

    def extra_repr(self) -> str:
        return (
            f"classification={self.classification!r}, w_cls={self.classification_weight}, "
            f"w_cons={self.consistency_weight}, w_scale={self.scale_weight}, priors={self.scale_priors}"
        )
