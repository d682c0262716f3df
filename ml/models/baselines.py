"""Baselines of the paper's Table I: full-frame CNN, ResNet-18 and CNN on random crops.

(The single-crop STN baseline is :class:`ml.models.reg_stn.RegSTN` with one scale.) Every model returns a
:class:`ml.models.output.FrameScorerOutput` so that training / inference code is model-agnostic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ml.scores import NUM_SCORES

from .cnn import DEFAULT_WIDTHS, CNNClassifier, validate_frames
from .encoders import frame_classifier
from .output import FrameScorerOutput
from .reg_stn import crop_size_for
from .stn import sample_crop, similarity_theta

__all__ = ["FrameCNN", "RandomCropCNN", "ResNet18Scorer"]


class FrameCNN(nn.Module):
    """The paper's CNN applied to the whole frame.

    Input ``(B, 1, H, W)`` in ``[-1, 1]`` (``H, W >= 32``) -> :class:`FrameScorerOutput` with ``logits (B, C)``
    only.

    Raises:
        ValueError: on bad arguments or input shape.
    """

    def __init__(
        self,
        num_classes: int = NUM_SCORES,
        *,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        stem_stride: int = 2,
        dropout: float = 0.3,
        encoder: str | None = None,
        pretrained: str | None = "imagenet",
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.classifier = frame_classifier(
            num_classes, encoder=encoder, pretrained=pretrained, dropout=dropout,
            cnn=lambda: CNNClassifier(num_classes, widths=widths, stem_stride=stem_stride, dropout=dropout))

    def forward(self, x: torch.Tensor) -> FrameScorerOutput:
        validate_frames(x)
        return FrameScorerOutput(logits=self.classifier(x))


class ResNet18Scorer(nn.Module):
    """torchvision ResNet-18 (``weights=None``) with a one-channel first convolution.

    Input ``(B, 1, H, W)`` in ``[-1, 1]`` -> :class:`FrameScorerOutput` with ``logits (B, C)``.
    """

    def __init__(self, num_classes: int = NUM_SCORES) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        import torchvision  # lazily: importing torchvision costs seconds and only this model needs it

        net = torchvision.models.resnet18(weights=None, num_classes=num_classes)
        net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.net = net

    def forward(self, x: torch.Tensor) -> FrameScorerOutput:
        validate_frames(x)
        return FrameScorerOutput(logits=self.net(x))


class RandomCropCNN(nn.Module):
    """CNN scoring a *random* crop (the paper's "CNN + random crop" control for the learned crops).

    Training: one axis-aligned crop per frame with scale ``~ U(scale_range)`` and a uniformly random centre
    that keeps it inside the frame (drawn from torch's global RNG, so seeding makes it repeatable).
    Evaluation: the centred crop at ``eval_scale`` (default: middle of ``scale_range``).

    Output :class:`FrameScorerOutput` with ``logits (B, C)``, ``theta1 (B, 2, 3)``, ``scales (B, 1)``.

    Raises:
        ValueError: on an invalid scale range / crop fraction or bad input.
    """

    def __init__(
        self,
        num_classes: int = NUM_SCORES,
        *,
        scale_range: tuple[float, float] = (0.5, 0.75),
        eval_scale: float | None = None,
        crop_fraction: float = 0.5,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        stem_stride: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        lo, hi = (float(v) for v in scale_range)
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"scale_range must satisfy 0 < lo <= hi <= 1, got {scale_range}")
        eval_scale = (lo + hi) / 2 if eval_scale is None else float(eval_scale)
        if not 0.0 < eval_scale <= 1.0:
            raise ValueError(f"eval_scale must be in (0, 1], got {eval_scale}")
        if not 0.0 < crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
        self.num_classes = num_classes
        self.scale_range = (lo, hi)
        self.eval_scale = eval_scale
        self.crop_fraction = crop_fraction
        self.classifier = CNNClassifier(num_classes, widths=widths, stem_stride=stem_stride, dropout=dropout)

    def forward(self, x: torch.Tensor) -> FrameScorerOutput:
        validate_frames(x)
        b, _, h, w = x.shape
        if self.training:
            lo, hi = self.scale_range
            scales = lo + (hi - lo) * torch.rand(b, device=x.device)
            trans = (2 * torch.rand(b, 2, device=x.device) - 1) * (1 - scales).unsqueeze(1)
        else:
            scales = torch.full((b,), self.eval_scale, device=x.device)
            trans = torch.zeros(b, 2, device=x.device)
        theta = similarity_theta(scales, torch.zeros_like(scales), trans, height=h, width=w)
        crop = sample_crop(x, theta, crop_size_for(h, w, self.crop_fraction))
        return FrameScorerOutput(logits=self.classifier(crop), theta1=theta, scales=scales.unsqueeze(1))
