"""Training losses: SORD soft ordinal labels (paper Eq. 3-4), the Reg-STN regularisers (Eq. 5-7) and the
CNN-LSTM loss (cross-entropy + autoencoder reconstruction)."""

from .sequence import IGNORE_INDEX, SequenceLoss, SequenceLossOutput
from .sord import SORDLoss, class_positions, soft_cross_entropy, sord_soft_labels
from .stn import DEFAULT_SORD_SCALE, RegSTNLoss, RegSTNLossOutput, consistency_loss, scale_prior_loss

__all__ = [
    "DEFAULT_SORD_SCALE",
    "IGNORE_INDEX",
    "RegSTNLoss",
    "RegSTNLossOutput",
    "SORDLoss",
    "SequenceLoss",
    "SequenceLossOutput",
    "class_positions",
    "consistency_loss",
    "scale_prior_loss",
    "soft_cross_entropy",
    "sord_soft_labels",
]
