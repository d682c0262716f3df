"""Reg-STN frame scorer (Roy et al., TMI 2020, §IV-A, Fig. 2).

A localisation network Φstn (CNN trunk + two FC layers) predicts two similarity transforms θ1, θ2 (paper
Eq. 2). Two crops x1, x2 are sampled from the input with ``F.affine_grid`` / ``F.grid_sample``
(``align_corners=False``). The classifier Φcnn scores x1; x2 is only classified during training, to feed the
consistency loss (Eq. 5). At inference only x1 is classified; θ1 / θ2 are returned so that the crop boxes
(the weak localisation) can be drawn.

Differences from the public reference code, on purpose: each crop uses its own predicted translation; the
localisation head is initialised so that both crops start centred; translations are bounded so that an
unrotated crop stays inside the frame; rotation is a true (pixel-space) rotation; the trunks use a strided
first convolution and half the channels (CPU speed, see :mod:`ml.models.cnn`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ml.scores import NUM_SCORES

from .cnn import DEFAULT_WIDTHS, CNNClassifier, validate_frames
from .encoders import frame_classifier
from .output import FrameScorerOutput
from .stn import LocalisationNet, SimilarityTransformHead, sample_crop

__all__ = ["RegSTN", "crop_size_for"]


def crop_size_for(height: int, width: int, fraction: float) -> tuple[int, int]:
    """Output size of a crop: ``fraction`` of the frame size, at least 16 pixels per side."""
    return max(16, round(height * fraction)), max(16, round(width * fraction))


class RegSTN(nn.Module):
    """Regularised spatial transformer frame scorer.

    Args:
        num_classes: number of score classes (4: scores 0..3).
        scales: initial (learned) or fixed scale of each crop; two entries for Reg-STN, one for a plain STN.
        learn_scale: learn scales (paper's "learned scale + rotation + translation" variant) or keep them
            fixed (the "0.50 / 0.75, learned translation" variant).
        learn_rotation: learn a rotation per crop.
        max_rotation_deg: bound on the learned rotation.
        crop_fraction: crop output resolution as a fraction of the input size (paper: 0.5).
        widths, stem_stride: classifier trunk (see :class:`ml.models.cnn.CNNTrunk`).
        loc_widths, loc_stem_stride: localisation trunk (default: the classifier's).
        loc_hidden: width of the localisation FC layer (paper: 32).
        align_corners: passed to ``affine_grid`` / ``grid_sample`` (``False``).
        encoder, pretrained: classify the crops with a pretrained encoder instead of the paper's CNN
            (:mod:`ml.models.encoders`, e.g. ``encoder="efficientnet_lite0", pretrained="imagenet"``).

    Input ``(B, 1, H, W)`` in ``[-1, 1]``, ``H, W >= 32``. Output :class:`FrameScorerOutput` with
    ``logits (B, C)``, ``logits2 (B, C)`` (training, two crops only), ``theta1 / theta2 (B, 2, 3)`` and
    ``scales (B, K)``.

    Raises:
        ValueError: on invalid arguments (constructor) or badly shaped input (forward).
    """

    def __init__(
        self,
        num_classes: int = NUM_SCORES,
        *,
        scales: Sequence[float] = (0.5, 0.75),
        learn_scale: bool = True,
        learn_rotation: bool = True,
        max_rotation_deg: float = 30.0,
        crop_fraction: float = 0.5,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        stem_stride: int = 2,
        loc_widths: Sequence[int] | None = None,
        loc_stem_stride: int | None = None,
        loc_hidden: int = 32,
        dropout: float = 0.3,
        align_corners: bool = False,
        encoder: str | None = None,
        pretrained: str | None = "imagenet",
    ) -> None:
        super().__init__()
        scales = tuple(float(s) for s in scales)
        if len(scales) not in (1, 2):
            raise ValueError(f"RegSTN supports one or two crops, got scales={scales}")
        if not 0.0 < crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
        self.num_classes = num_classes
        self.num_crops = len(scales)
        self.scale_priors = scales
        self.learn_scale = learn_scale
        self.crop_fraction = crop_fraction
        self.align_corners = align_corners
        self.localisation = LocalisationNet(
            1,
            loc_widths if loc_widths is not None else widths,
            stem_stride=loc_stem_stride if loc_stem_stride is not None else stem_stride,
            hidden=loc_hidden,
            dropout=dropout,
        )
        self.transform_head = SimilarityTransformHead(
            self.localisation.out_features,
            scales,
            learn_scale=learn_scale,
            learn_rotation=learn_rotation,
            max_rotation_deg=max_rotation_deg,
        )
        self.classifier = frame_classifier(
            num_classes, encoder=encoder, pretrained=pretrained, dropout=dropout,
            cnn=lambda: CNNClassifier(num_classes, widths=widths, stem_stride=stem_stride, dropout=dropout))

    def localise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict the transforms: ``(B, 1, H, W) -> (theta (B, K, 2, 3), scales (B, K))`` (float32)."""
        validate_frames(x)
        h, w = x.shape[-2:]
        return self.transform_head(self.localisation(x), h, w)

    def crops(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Sample the ``K`` crops: returns ``([x_k (B, 1, h, w)], theta (B, K, 2, 3), scales (B, K))``."""
        theta, scales = self.localise(x)
        size = crop_size_for(x.shape[-2], x.shape[-1], self.crop_fraction)
        out = [
            sample_crop(x, theta[:, k], size, align_corners=self.align_corners) for k in range(self.num_crops)
        ]
        return out, theta, scales

    def forward(self, x: torch.Tensor) -> FrameScorerOutput:
        theta, scales = self.localise(x)
        size = crop_size_for(x.shape[-2], x.shape[-1], self.crop_fraction)
        x1 = sample_crop(x, theta[:, 0], size, align_corners=self.align_corners)
        logits2 = None
        if self.training and self.num_crops == 2:
            x2 = sample_crop(x, theta[:, 1], size, align_corners=self.align_corners)
            both = self.classifier(torch.cat([x1, x2], dim=0))
            logits, logits2 = both.split(x.shape[0], dim=0)
        else:
            logits = self.classifier(x1)
        return FrameScorerOutput(
            logits=logits,
            logits2=logits2,
            theta1=theta[:, 0],
            theta2=theta[:, 1] if self.num_crops == 2 else None,
            scales=scales,
        )
