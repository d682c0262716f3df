"""Frame pre-processing and the paper's training augmentation.

* :func:`to_grayscale` -> ``(H, W)`` uint8.
* :func:`resize_pad` keeps the aspect ratio and zero-pads (centred) to the requested size;
  :class:`PadInfo` maps coordinates between the padded model input and the original frame.
* :func:`to_tensor` -> ``(1, H, W)`` float32 in ``[-1, 1]`` (0 -> -1, 255 -> 1); :func:`uint8_to_float` the same
  for uint8 tensors (batches already on the device).
* :class:`LUSAugment`: random affine (small rotation / translation / scale), horizontal flip,
  brightness / contrast jitter, Gaussian blur and noise, on ``[-1, 1]`` tensors ``(1, H, W)`` or batches
  ``(B, 1, H, W)`` on any device (so it can run on GPU batches); randomness comes from torch's RNG (or a
  given ``torch.Generator``), so seeding makes it repeatable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["LUSAugment", "PadInfo", "resize_pad", "to_grayscale", "to_tensor", "uint8_to_float"]


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` (BGR) or ``(H, W, 4)`` (BGRA) -> ``(H, W)`` uint8.

    Raises:
        ValueError: on any other shape.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    elif img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2GRAY)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGRA2GRAY)
    elif img.ndim != 2:
        raise ValueError(f"expected an (H, W[, 1|3|4]) image, got shape {img.shape}")
    if img.dtype != np.uint8:
        if np.issubdtype(img.dtype, np.floating):
            hi = 1.0 if float(np.nanmax(img, initial=0.0)) <= 1.0 else 255.0
            img = np.clip(np.nan_to_num(img) * (255.0 / hi), 0, 255).round().astype(np.uint8)
        else:
            img = np.clip(img, 0, 255).astype(np.uint8)
    return img


@dataclass(frozen=True)
class PadInfo:
    """How :func:`resize_pad` placed the original frame inside the output.

    ``output_xy = original_xy * scale + (left, top)`` (pixel-edge coordinates).
    """

    scale: float
    left: int
    top: int
    original_size: tuple[int, int]  # (H, W)
    output_size: tuple[int, int]  # (H, W)

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """Map ``(..., 2)`` ``(x, y)`` points from the padded output to original-frame pixels."""
        xy = np.asarray(xy, dtype=np.float64)
        return (xy - np.array([self.left, self.top])) / self.scale


def resize_pad(
    image: np.ndarray, size: tuple[int, int], *, interpolation: int | None = None
) -> tuple[np.ndarray, PadInfo]:
    """Resize a ``(H, W)`` uint8 frame to fit ``size = (h, w)`` keeping its aspect ratio, zero-padding
    (black) the rest, centred.

    ``interpolation``: an OpenCV flag; default area when shrinking, bilinear when enlarging
    (``cv2.INTER_NEAREST`` for class-id masks, so they are placed exactly like their frames).

    Returns:
        ``((h, w) uint8 array, PadInfo)``.

    Raises:
        ValueError: if ``image`` is not 2-D or empty, or ``size`` is not two positive ints.
    """
    if image.ndim != 2 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected a non-empty (H, W) image, got shape {image.shape}")
    if len(size) != 2 or int(size[0]) <= 0 or int(size[1]) <= 0:
        raise ValueError(f"size must be two positive ints (h, w), got {size}")
    out_h, out_w = int(size[0]), int(size[1])
    in_h, in_w = image.shape
    scale = min(out_h / in_h, out_w / in_w)
    new_h = min(out_h, max(1, round(in_h * scale)))
    new_w = min(out_w, max(1, round(in_w * scale)))
    interp = interpolation if interpolation is not None else cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = (
        cv2.resize(image, (new_w, new_h), interpolation=interp) if (new_h, new_w) != (in_h, in_w) else image
    )
    out = np.zeros((out_h, out_w), dtype=np.uint8)
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out, PadInfo(
        scale=scale, left=left, top=top, original_size=(in_h, in_w), output_size=(out_h, out_w)
    )


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W)`` or ``(T, H, W)`` uint8 -> float32 tensor ``(1, H, W)`` / ``(T, 1, H, W)`` in ``[-1, 1]``."""
    return uint8_to_float(torch.from_numpy(np.ascontiguousarray(image))).unsqueeze(-3)


def uint8_to_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames of any shape -> float32 in ``[-1, 1]`` (0 -> -1, 255 -> 1), on the same device: what every
    model takes."""
    return frames.float().div_(127.5).sub_(1.0)


class LUSAugment:
    """The paper's training augmentation on ``[-1, 1]`` frames.

    Args:
        rotation_deg: max absolute rotation (degrees).
        translate: max translation as a fraction of the frame size.
        scale: ``(min, max)`` zoom factor.
        hflip_p: probability of a horizontal flip.
        brightness: max additive brightness shift (fraction of the [0, 1] range).
        contrast: max relative contrast change.
        blur_p: probability of a 3x3 Gaussian blur.
        noise_std: max std of additive Gaussian noise (in [0, 1] intensity units).
        generator: optional ``torch.Generator`` (on the data's device); torch's global RNG otherwise.

    ``__call__(x)``: ``(1, H, W)`` or ``(B, 1, H, W)`` float tensor -> same shape, clamped to ``[-1, 1]``.

    Raises:
        ValueError: on out-of-range parameters or a badly shaped input.
    """

    def __init__(
        self,
        *,
        rotation_deg: float = 10.0,
        translate: float = 0.05,
        scale: tuple[float, float] = (0.9, 1.1),
        hflip_p: float = 0.5,
        brightness: float = 0.15,
        contrast: float = 0.2,
        blur_p: float = 0.2,
        noise_std: float = 0.02,
        generator: torch.Generator | None = None,
    ) -> None:
        if not 0 <= rotation_deg <= 180:
            raise ValueError(f"rotation_deg must be in [0, 180], got {rotation_deg}")
        if not 0 <= translate < 1:
            raise ValueError(f"translate must be in [0, 1), got {translate}")
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (min, max) with 0 < min <= max, got {scale}")
        for name, p in (("hflip_p", hflip_p), ("blur_p", blur_p)):
            if not 0 <= p <= 1:
                raise ValueError(f"{name} must be a probability, got {p}")
        for name, v in (("brightness", brightness), ("contrast", contrast), ("noise_std", noise_std)):
            if not 0 <= v < 1:
                raise ValueError(f"{name} must be in [0, 1), got {v}")
        self.rotation = math.radians(rotation_deg)
        self.translate = translate
        self.scale = (float(scale[0]), float(scale[1]))
        self.hflip_p = hflip_p
        self.brightness = brightness
        self.contrast = contrast
        self.blur_p = blur_p
        self.noise_std = noise_std
        self.generator = generator

    def _rand(self, *shape: int, device: torch.device) -> torch.Tensor:
        return torch.rand(*shape, device=device, generator=self.generator)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        single = x.ndim == 3
        if single:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"expected (1, H, W) or (B, 1, H, W), got {tuple(x.shape)}")
        b, _, h, w = x.shape
        dev = x.device
        dtype = x.dtype
        x = x.float()
        # random affine (sampling-grid form: output -> input coordinates)
        angle = (2 * self._rand(b, device=dev) - 1) * self.rotation
        zoom = self.scale[0] + (self.scale[1] - self.scale[0]) * self._rand(b, device=dev)
        trans = (2 * self._rand(b, 2, device=dev) - 1) * (2 * self.translate)
        flip = torch.where(self._rand(b, device=dev) < self.hflip_p, -1.0, 1.0)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [
                torch.stack([cos * flip, -sin * (h / w), trans[:, 0]], 1),
                torch.stack([sin * (w / h) * flip, cos, trans[:, 1]], 1),
            ],
            1,
        )
        grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
        x = F.grid_sample(x + 1.0, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1.0
        # brightness / contrast in [0, 1] intensity space
        u = (x + 1.0) / 2.0
        c = 1.0 + (2 * self._rand(b, 1, 1, 1, device=dev) - 1) * self.contrast
        br = (2 * self._rand(b, 1, 1, 1, device=dev) - 1) * self.brightness
        mean = u.mean(dim=(2, 3), keepdim=True)
        u = (u - mean) * c + mean + br
        # blur (3x3 Gaussian, sigma ~0.8) on a random subset
        if self.blur_p > 0:
            k1 = torch.tensor([0.25, 0.5, 0.25], device=dev)
            kernel = (k1[:, None] * k1[None, :]).view(1, 1, 3, 3)
            blurred = F.conv2d(F.pad(u, (1, 1, 1, 1), mode="replicate"), kernel)
            pick = (self._rand(b, 1, 1, 1, device=dev) < self.blur_p).float()
            u = pick * blurred + (1 - pick) * u
        if self.noise_std > 0:
            std = self._rand(b, 1, 1, 1, device=dev) * self.noise_std
            noise = torch.randn(u.shape, device=dev, generator=self.generator)
            u = u + std * noise
        out = (u.clamp(0.0, 1.0) * 2.0 - 1.0).to(dtype)
        return out[0] if single else out
