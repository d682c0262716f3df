"""Training loss of the CNN-LSTM video scorers: cross-entropy (+ the autoencoder's reconstruction error).

Per-frame models (Dastider et al.) are scored on every frame of a window, per-window models on the
window's (video's) label. Padded frames of windows longer than their video carry the label
``IGNORE_INDEX`` and do not count.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["IGNORE_INDEX", "SequenceLoss", "SequenceLossOutput"]

IGNORE_INDEX = -100


class _SequenceOutput(Protocol):
    logits: Tensor
    per_frame: bool
    reconstruction: Tensor | None


class SequenceLossOutput(NamedTuple):
    total: Tensor
    classification: Tensor
    reconstruction: Tensor


class SequenceLoss(nn.Module):
    """``total = CE(logits, labels) + reconstruction_weight * MSE(reconstruction, frames)``.

    ``forward(out, labels, frames=None)``: ``labels`` is ``(B, T)`` for per-frame outputs (``IGNORE_INDEX``
    where padded) or ``(B,)`` for per-window outputs; ``frames (B, T, 1, H, W)`` is needed only when the
    output has a reconstruction.

    Raises:
        ValueError: on a negative weight or labels whose shape does not match the logits.
    """

    def __init__(self, reconstruction_weight: float = 1.0, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if reconstruction_weight < 0:
            raise ValueError(f"reconstruction_weight must be >= 0, got {reconstruction_weight}")
        self.reconstruction_weight = float(reconstruction_weight)
        self.label_smoothing = float(label_smoothing)

    def forward(self, out: _SequenceOutput, labels: Tensor, frames: Tensor | None = None) -> SequenceLossOutput:
        logits = out.logits.float()
        if logits.shape[:-1] != labels.shape:
            raise ValueError(f"labels of shape {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
        cls = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                              ignore_index=IGNORE_INDEX, label_smoothing=self.label_smoothing)
        recon = logits.new_zeros(())
        if out.reconstruction is not None and frames is not None and self.reconstruction_weight > 0:
            recon = F.mse_loss(out.reconstruction.float(), frames.float())
        return SequenceLossOutput(cls + self.reconstruction_weight * recon, cls, recon)
