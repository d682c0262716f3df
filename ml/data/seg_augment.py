"""On-line augmentation of segmentation batches, applied jointly to frames and their masks (paper §IV-C).

Each transform is applied to a sample with probability ``p = 0.33`` (the flip with 0.5), independently:

==================  =====================================================  ===============
transform           range                                                  touches
==================  =====================================================  ===============
translation         ±15 % of the frame's width / height                    frame + mask
rotation            ±15°                                                   frame + mask
scaling             ±45 % (zoom factor in [0.55, 1.45])                    frame + mask
shear               ±4.5°                                                  frame + mask
horizontal flip     p = 0.5                                                frame + mask
multiplication      ±45 % (intensity × [0.55, 1.45])                       frame
Gaussian blur       σ ∈ [0, 0.75] pixels                                   frame
contrast            ±45 % around mid-grey (× [0.55, 1.45])                 frame
Gaussian noise      σ ∈ [0, 0.015] of the intensity range                  frame
==================  =====================================================  ===============

The geometric transforms are composed into one affine map per sample and both tensors are resampled once
on the *same* sampling grid (frames bilinearly, masks with nearest neighbour), so they stay aligned;
pixels from outside the frame are black (-1) in the frame and background (0) in the mask. Intensity
transforms work in [0, 1] intensity units and never touch the mask. Everything runs batch-wise on the
tensors' device; randomness comes from torch (or the given ``torch.Generator``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["SegAugment"]

_BLUR_RADIUS = 3  # kernel 7: covers 3 sigma at the largest sigma (0.75 px) with room to spare


class SegAugment:
    """Joint frame + mask augmentation with the paper's parameters (see the module docstring).

    Args:
        p: probability of each transform but the flip.
        translate: max translation as a fraction of the frame size.
        rotation_deg: max absolute rotation.
        scale: max relative zoom change.
        shear_deg: max absolute shear.
        hflip_p: probability of a horizontal flip.
        multiply: max relative intensity change.
        blur_sigma: max Gaussian blur sigma (pixels).
        contrast: max relative contrast change.
        noise_std: max std of the additive Gaussian noise (fraction of the intensity range).
        generator: optional ``torch.Generator`` on the data's device.

    ``__call__(frames (B, 1, H, W) in [-1, 1], masks (B, H, W) int) -> (frames, masks)`` (same shapes and
    dtypes).

    Raises:
        ValueError: on out-of-range parameters or badly shaped inputs.
    """

    def __init__(
        self,
        *,
        p: float = 0.33,
        translate: float = 0.15,
        rotation_deg: float = 15.0,
        scale: float = 0.45,
        shear_deg: float = 4.5,
        hflip_p: float = 0.5,
        multiply: float = 0.45,
        blur_sigma: float = 0.75,
        contrast: float = 0.45,
        noise_std: float = 0.015,
        generator: torch.Generator | None = None,
    ) -> None:
        for name, prob in (("p", p), ("hflip_p", hflip_p)):
            if not 0.0 <= prob <= 1.0:
                raise ValueError(f"{name} must be a probability, got {prob}")
        for name, value in (("translate", translate), ("scale", scale), ("multiply", multiply),
                            ("contrast", contrast), ("noise_std", noise_std)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        for name, value in (("rotation_deg", rotation_deg), ("shear_deg", shear_deg)):
            if not 0.0 <= value < 90.0:
                raise ValueError(f"{name} must be in [0, 90), got {value}")
        if not 0.0 <= blur_sigma <= _BLUR_RADIUS / 2:
            raise ValueError(f"blur_sigma must be in [0, {_BLUR_RADIUS / 2}], got {blur_sigma}")
        self.p, self.hflip_p = p, hflip_p
        self.translate, self.scale, self.multiply, self.contrast = translate, scale, multiply, contrast
        self.rotation, self.shear = math.radians(rotation_deg), math.radians(shear_deg)
        self.blur_sigma, self.noise_std = blur_sigma, noise_std
        self.generator = generator

    def _u(self, b: int, device: torch.device, lo: float = -1.0, hi: float = 1.0) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, device=device, generator=self.generator)

    def _on(self, b: int, device: torch.device, prob: float | None = None) -> torch.Tensor:
        """(B,) float 1.0 where the transform applies."""
        return (torch.rand(b, device=device, generator=self.generator) < (self.p if prob is None else prob)).float()

    def _theta(self, b: int, h: int, w: int, device: torch.device) -> torch.Tensor:
        """``(B, 2, 3)`` output -> input maps in ``F.affine_grid``'s normalised coordinates."""
        rot = self._u(b, device) * self.rotation * self._on(b, device)
        shear = self._u(b, device) * self.shear * self._on(b, device)
        zoom = 1.0 + self._u(b, device) * self.scale * self._on(b, device)
        on = self._on(b, device)
        shift = torch.stack([self._u(b, device) * self.translate * w, self._u(b, device) * self.translate * h], 1)
        shift = shift * on[:, None]
        flip = 1.0 - 2.0 * self._on(b, device, self.hflip_p)
        cos, sin, tan = torch.cos(rot), torch.sin(rot), torch.tan(shear)
        # forward map in centred pixel coordinates: out = Flip (R Shear Zoom in + shift)
        rot_m = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        shear_m = torch.zeros(b, 2, 2, device=device)
        shear_m[:, 0, 0], shear_m[:, 0, 1], shear_m[:, 1, 1] = 1.0, tan, 1.0
        fwd = rot_m @ shear_m * zoom[:, None, None]
        flip_m = torch.diag_embed(torch.stack([flip, torch.ones_like(flip)], 1))
        fwd, shift = flip_m @ fwd, (flip_m @ shift.unsqueeze(2)).squeeze(2)
        inv = torch.linalg.inv(fwd)
        inv_shift = -(inv @ shift.unsqueeze(2)).squeeze(2)
        # centred pixels = normalised * (W/2, H/2) with align_corners=False
        d = torch.tensor([w / 2.0, h / 2.0], device=device)
        lin = inv * d[None, None, :] / d[None, :, None]
        return torch.cat([lin, (inv_shift / d).unsqueeze(2)], 2)

    def _blur(self, u: torch.Tensor) -> torch.Tensor:
        b, _, h, w = u.shape
        sigma = self._u(b, u.device, 0.0, self.blur_sigma) * self._on(b, u.device)
        r = torch.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1, device=u.device, dtype=u.dtype)
        safe = sigma.clamp(min=1e-3)[:, None]
        k = torch.exp(-0.5 * (r[None] / safe) ** 2)
        k = torch.where(sigma[:, None] > 1e-3, k, (r[None] == 0).to(u.dtype))  # sigma 0: identity
        k = k / k.sum(1, keepdim=True)
        x = F.pad(u.view(1, b, h, w), (_BLUR_RADIUS,) * 4, mode="replicate")
        x = F.conv2d(x, k.view(b, 1, 1, -1), groups=b)
        x = F.conv2d(x, k.view(b, 1, -1, 1), groups=b)
        return x.view(b, 1, h, w)

    def __call__(self, frames: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if frames.ndim != 4 or frames.shape[1] != 1:
            raise ValueError(f"frames must be (B, 1, H, W), got {tuple(frames.shape)}")
        if masks.shape != (frames.shape[0], *frames.shape[2:]):
            raise ValueError(f"masks must be (B, H, W) matching the frames, got {tuple(masks.shape)}")
        b, _, h, w = frames.shape
        dev, dtype = frames.device, frames.dtype
        grid = F.affine_grid(self._theta(b, h, w, dev), [b, 1, h, w], align_corners=False)
        x = F.grid_sample(frames.float() + 1.0, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        m = F.grid_sample(masks.float().unsqueeze(1), grid, mode="nearest", padding_mode="zeros", align_corners=False)
        u = x / 2.0  # [0, 1] intensities
        mult = 1.0 + self._u(b, dev) * self.multiply * self._on(b, dev)
        u = (u * mult[:, None, None, None]).clamp(0.0, 1.0)
        if self.blur_sigma > 0:
            u = self._blur(u)
        alpha = 1.0 + self._u(b, dev) * self.contrast * self._on(b, dev)
        u = (0.5 + alpha[:, None, None, None] * (u - 0.5)).clamp(0.0, 1.0)
        if self.noise_std > 0:
            std = self._u(b, dev, 0.0, self.noise_std) * self._on(b, dev)
            u = u + std[:, None, None, None] * torch.randn(u.shape, device=dev, generator=self.generator)
        out = (u.clamp(0.0, 1.0) * 2.0 - 1.0).to(dtype)
        return out, m.squeeze(1).round().to(masks.dtype)
