"""Exact, cheaper decoder steps for MC-dropout sampling.

U-Net decoders (the paper's baseline and the top row of U-Net++) start each block with
``conv3x3(cat([nearest_upsample(z, s), skip]))``. While sampling, only ``z`` changes from one dropout pass to
the next, and that convolution is linear, so it splits exactly into two terms:

* the ``skip`` term (often most of the input channels) is the same for every sample: computed once per
  encoded batch;
* the ``z`` term -- a 3x3 convolution of a nearest-upsampled map -- equals one transposed convolution of
  ``z`` itself with stride ``s`` and an ``(s + 2) x (s + 2)`` kernel whose taps are sums of the 3x3 taps.
  It reads ``(s + 2)^2 / s^2`` inputs per output pixel instead of 9: 4/9 of the work for ``s = 2``, 49/225
  for ``s = 5``.

Eval-mode batch norm after a convolution is affine, so it folds into the weights first. The results equal
the plain decoder up to float rounding (tests compare them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SplitUpsampleConv", "add_per_frame", "fold_batchnorm", "upsampled_conv_weight"]


def fold_batchnorm(conv: nn.Conv2d, norm: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``norm(conv(x))`` as one convolution (``norm``: eval-mode BatchNorm2d, Identity or
    ``None``).

    Raises:
        ValueError: for a norm layer that is neither, or a BatchNorm in training mode (its statistics would
            be the batch's, which no fixed weight reproduces).
    """
    weight = conv.weight
    bias = conv.bias if conv.bias is not None else weight.new_zeros(weight.shape[0])
    if norm is None or isinstance(norm, nn.Identity):
        return weight, bias
    if not isinstance(norm, nn.BatchNorm2d) or norm.training or norm.running_var is None:
        raise ValueError(f"can only fold an eval-mode BatchNorm2d, got {norm!r}")
    assert norm.running_mean is not None
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias
    return weight * scale.view(-1, 1, 1, 1), bias * scale + shift


def upsampled_conv_weight(weight: torch.Tensor, scale: int) -> torch.Tensor:
    """Kernel ``k`` with ``conv_transpose2d(z, k, stride=scale, padding=1) ==
    conv2d(interpolate(z, scale_factor=scale, mode="nearest"), weight, padding=1)``.

    Output row ``y = scale * i + d`` (``d`` in ``-1 .. scale``) reads input row ``i`` through the 3x3 taps
    ``dy`` with ``0 <= d + dy < scale``; the transposed kernel holds, at offset ``d + 1``, the sum of those
    taps (likewise for columns).

    Args:
        weight: ``(out, in, 3, 3)``.
        scale: the integer nearest-neighbour upsampling factor.

    Returns:
        ``(in, out, scale + 2, scale + 2)``.
    """
    if weight.shape[-2:] != (3, 3) or scale < 1:
        raise ValueError(f"need a 3x3 kernel and a positive scale, got {tuple(weight.shape)} and {scale}")
    offsets = torch.arange(-1, scale + 1).view(-1, 1)  # d
    taps = torch.arange(-1, 2).view(1, -1)  # dy
    reads = ((offsets + taps >= 0) & (offsets + taps < scale)).to(weight.dtype)  # (scale + 2, 3)
    return torch.einsum("ta,ub,oiab->iotu", reads, reads, weight).contiguous()


class SplitUpsampleConv:
    """``conv3x3(cat([nearest_upsample(z, scale), skip]), weight, bias)`` with the skip term computed once.

    Args:
        weight: ``(out, z_channels + skip_channels, 3, 3)``, batch norm already folded in.
        bias: ``(out,)``.
        z_channels: how many input channels come from the upsampled ``z`` (the first ones).
        scale: nearest-neighbour upsampling factor.
        skip: ``(B, skip_channels, H, W)`` or ``None`` for a block without skip connection.

    Calling it with ``z (B * k, z_channels, H / scale, W / scale)`` -- ``k`` consecutive rows per element of
    the encoded batch -- returns ``(B * k, out, H, W)``.
    """

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor,
        *,
        z_channels: int,
        scale: int,
        skip: torch.Tensor | None = None,
    ) -> None:
        expected = z_channels + (skip.shape[1] if skip is not None else 0)
        if weight.shape[1] != expected:
            raise ValueError(f"weight has {weight.shape[1]} input channels, expected {expected}")
        self.scale = scale
        # channels-last: oneDNN's and cuDNN's fast path for transposed convolutions
        self.z_weight = upsampled_conv_weight(weight[:, :z_channels], scale).contiguous(
            memory_format=torch.channels_last
        )
        if skip is None:
            self.base = bias.view(1, -1, 1, 1)
        else:
            self.base = F.conv2d(skip, weight[:, z_channels:], bias, padding=1)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        z = z.contiguous(memory_format=torch.channels_last)
        return add_per_frame(F.conv_transpose2d(z, self.z_weight, stride=self.scale, padding=1), self.base)


def add_per_frame(out: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """``out (B * k, ...) += base (B, ...)``, each frame's row of ``base`` to its ``k`` consecutive rows of
    ``out`` (in place, without materialising ``k`` copies of ``base``); returns ``out``.

    Raises:
        ValueError: if the rows of ``out`` do not split into ``B`` frames.
    """
    batch = base.shape[0]
    if out.shape[0] % batch:
        raise ValueError(f"{out.shape[0]} rows do not split into the {batch} encoded frames")
    out.unflatten(0, (batch, out.shape[0] // batch)).add_(base.unsqueeze(1))
    return out
