"""Spatial-transformer building blocks restricted to similarity transforms (paper Eq. 2).

Conventions (all functions): ``theta`` follows ``F.affine_grid`` with ``align_corners=False``: it maps the
normalised coordinates of the *output* crop (``[-1, 1]`` spanning the crop's pixel edges) to normalised
coordinates of the *input* frame. A similarity crop with isotropic scale ``s``, rotation ``a`` (radians,
positive = clockwise on screen since the y axis points down) and translation ``t = (tx, ty)`` (fractions of
the half width / half height) on an ``H x W`` frame is::

    theta = [[s cos a,          -s sin a * H / W, tx],
             [s sin a * W / H,   s cos a,         ty]]

i.e. a rotation in *pixel* space (for non-square frames a naive rotation in normalised space would shear).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .cnn import DEFAULT_WIDTHS, CNNTrunk

__all__ = [
    "LocalisationNet",
    "SimilarityTransformHead",
    "crop_boxes",
    "sample_crop",
    "similarity_theta",
]


def similarity_theta(
    scale: torch.Tensor,
    angle: torch.Tensor,
    translation: torch.Tensor,
    *,
    height: int,
    width: int,
) -> torch.Tensor:
    """Build ``(B, 2, 3)`` similarity transforms.

    Args:
        scale: ``(B,)`` isotropic scale (crop side / frame side).
        angle: ``(B,)`` rotation in radians.
        translation: ``(B, 2)`` crop centre ``(tx, ty)`` in normalised input coordinates.
        height, width: input frame size in pixels (for the pixel-space rotation).

    Raises:
        ValueError: on inconsistent shapes or a non-positive frame size.
    """
    if scale.ndim != 1 or angle.shape != scale.shape or translation.shape != (scale.shape[0], 2):
        raise ValueError(
            "expected scale (B,), angle (B,), translation (B, 2); got "
            f"{tuple(scale.shape)}, {tuple(angle.shape)}, {tuple(translation.shape)}"
        )
    if height <= 0 or width <= 0:
        raise ValueError(f"height and width must be positive, got {height}, {width}")
    cos, sin = torch.cos(angle), torch.sin(angle)
    row0 = torch.stack([scale * cos, -scale * sin * (height / width), translation[:, 0]], dim=1)
    row1 = torch.stack([scale * sin * (width / height), scale * cos, translation[:, 1]], dim=1)
    return torch.stack([row0, row1], dim=1)


def _check_theta(theta: torch.Tensor) -> None:
    if not isinstance(theta, torch.Tensor) or theta.ndim != 3 or theta.shape[1:] != (2, 3):
        shape = tuple(theta.shape) if isinstance(theta, torch.Tensor) else type(theta).__name__
        raise ValueError(f"theta must have shape (B, 2, 3), got {shape}")


def crop_boxes(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Map crop transforms to pixel quadrilaterals in the input frame.

    Args:
        theta: ``(B, 2, 3)`` transforms (``align_corners=False`` convention).
        height, width: input frame size in pixels.

    Returns:
        ``(B, 4, 2)`` float tensor of corners ``(x, y)`` in input pixels, ordered top-left, top-right,
        bottom-right, bottom-left *of the crop*. Pixel-edge convention: the identity transform gives
        ``(0, 0), (W, 0), (W, H), (0, H)``; pixel ``i`` covers ``[i, i + 1)``.

    Raises:
        ValueError: if ``theta`` is not ``(B, 2, 3)`` or the size is not positive.
    """
    _check_theta(theta)
    if height <= 0 or width <= 0:
        raise ValueError(f"height and width must be positive, got {height}, {width}")
    corners = theta.new_tensor([[-1.0, -1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]])
    norm = torch.einsum("bij,kj->bki", theta.detach().float(), corners.float())  # (B, 4, 2)
    scale = norm.new_tensor([width / 2.0, height / 2.0])
    return (norm + 1.0) * scale


def sample_crop(
    x: torch.Tensor,
    theta: torch.Tensor,
    size: tuple[int, int],
    *,
    align_corners: bool = False,
) -> torch.Tensor:
    """Bilinearly sample ``(B, C, h, w)`` crops of ``x`` (``(B, C, H, W)`` in ``[-1, 1]``).

    Regions outside the frame read as black (``-1``), matching the zero padding of
    :func:`ml.data.transforms.resize_pad`.

    Raises:
        ValueError: on mismatched batch sizes, a bad ``theta`` or a non-positive size.
    """
    _check_theta(theta)
    if x.ndim != 4 or theta.shape[0] != x.shape[0]:
        raise ValueError(f"x must be (B, C, H, W) matching theta's batch, got {tuple(x.shape)}")
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    grid = F.affine_grid(theta.to(x.dtype), [x.shape[0], x.shape[1], h, w], align_corners=align_corners)
    return (
        F.grid_sample(x + 1.0, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners) - 1.0
    )


class LocalisationNet(nn.Module):
    """Φstn's feature part: the paper's CNN trunk, pooled to a fixed grid, then one FC-ReLU layer.

    Shapes: ``(B, in_channels, H, W) -> (B, hidden)``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        *,
        stem_stride: int = 2,
        pool_size: int = 4,
        hidden: int = 32,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        if pool_size < 1 or hidden < 1:
            raise ValueError(f"pool_size and hidden must be >= 1, got {pool_size}, {hidden}")
        self.trunk = CNNTrunk(in_channels, widths, stem_stride=stem_stride, dropout=dropout)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.fc = nn.Sequential(
            nn.Flatten(1),
            nn.Linear(self.trunk.out_channels * pool_size * pool_size, hidden),
            nn.ReLU(inplace=True),
        )
        self.out_features = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.trunk(x)))


class SimilarityTransformHead(nn.Module):
    """Φstn's last FC layer(s): features -> ``K`` similarity transforms.

    Per crop ``k``: scale ``s_k = sigmoid(.)`` (learned) or the fixed ``scales[k]``; rotation
    ``a_k = max_rotation * tanh(.)`` (if learned, else 0); translation ``t_k = tanh(.) * (1 - s_k)`` per
    axis, which keeps an unrotated crop inside the frame. Each crop has its *own* translation.
    Initialisation: zero weights, biases such that every crop starts centred, unrotated, at
    ``scales[k]`` (the scale prior).

    Args:
        in_features: feature size from :class:`LocalisationNet`.
        scales: initial / fixed scale of each crop (``K = len(scales)`` crops), each in ``(0, 1]``.
        learn_scale: learn the scales (else they stay fixed).
        learn_rotation: learn a rotation angle per crop.
        max_rotation_deg: bound of the learned rotation, degrees in ``(0, 180]``.

    Shapes: ``forward(features (B, F), height, width) -> (theta (B, K, 2, 3), scales (B, K))``.

    Raises:
        ValueError: on invalid scales / angles.
    """

    def __init__(
        self,
        in_features: int,
        scales: Sequence[float] = (0.5, 0.75),
        *,
        learn_scale: bool = True,
        learn_rotation: bool = True,
        max_rotation_deg: float = 30.0,
    ) -> None:
        super().__init__()
        scales = tuple(float(s) for s in scales)
        if len(scales) < 1:
            raise ValueError("need at least one crop scale")
        if any(not 0.0 < s <= 1.0 for s in scales):
            raise ValueError(f"scales must be in (0, 1], got {scales}")
        if learn_scale and any(s >= 1.0 for s in scales):
            raise ValueError(f"learned scales are sigmoids: initial scales must be < 1, got {scales}")
        if not 0.0 < max_rotation_deg <= 180.0:
            raise ValueError(f"max_rotation_deg must be in (0, 180], got {max_rotation_deg}")
        self.num_crops = len(scales)
        self.learn_scale = learn_scale
        self.learn_rotation = learn_rotation
        self.max_rotation = math.radians(max_rotation_deg)
        self.register_buffer("fixed_scales", torch.tensor(scales), persistent=False)
        k = self.num_crops
        self.translation = nn.Linear(in_features, 2 * k)
        nn.init.zeros_(self.translation.weight)
        nn.init.zeros_(self.translation.bias)
        self.scale: nn.Linear | None = None
        self.rotation: nn.Linear | None = None
        if learn_scale:
            self.scale = nn.Linear(in_features, k)
            nn.init.zeros_(self.scale.weight)
            with torch.no_grad():
                self.scale.bias.copy_(torch.logit(torch.tensor(scales)))
        if learn_rotation:
            self.rotation = nn.Linear(in_features, k)
            nn.init.zeros_(self.rotation.weight)
            nn.init.zeros_(self.rotation.bias)

    def forward(self, features: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        # the geometry is computed in float32 even under (bf16) autocast: crop positions need the precision
        with torch.autocast(device_type=features.device.type, enabled=False):
            return self._forward(features.float(), height, width)

    def _forward(self, features: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        b, k = features.shape[0], self.num_crops
        if self.scale is not None:
            scales = torch.sigmoid(self.scale(features))
        else:
            fixed = cast(torch.Tensor, self.fixed_scales)  # a registered buffer
            scales = fixed.to(features.device).expand(b, k)
        if self.rotation is not None:
            angles = self.max_rotation * torch.tanh(self.rotation(features))
        else:
            angles = features.new_zeros(b, k)
        trans = torch.tanh(self.translation(features)).view(b, k, 2) * (1.0 - scales).unsqueeze(-1)
        thetas = [
            similarity_theta(scales[:, i], angles[:, i], trans[:, i], height=height, width=width)
            for i in range(k)
        ]
        return torch.stack(thetas, dim=1), scales
