"""Inference of the segmentation ensemble: class-id masks and MC-dropout uncertainty at frame resolution.

    for mask, uncertainty in segment_images(ensemble, images, mc_samples=40): ...

Uncertainty images (PNG) store ``round(255 * std / UNCERTAINTY_PNG_MAX)`` (:func:`uncertainty_to_uint8`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ml.data import SEG_SIZE, read_image, resize_pad, restore_original, uint8_to_float
from ml.models import SegmentationEnsemble
from ml.uncertainty import UNCERTAINTY_PNG_MAX, uncertainty_to_uint8
from ml.utils import autocast_context

__all__ = ["UNCERTAINTY_PNG_MAX", "segment_images", "uncertainty_to_uint8"]

@torch.no_grad()
def segment_images(
    ensemble: SegmentationEnsemble,
    images: Sequence[np.ndarray | Path | str],
    *,
    size: tuple[int, int] = SEG_SIZE,
    mc_samples: int = 40,
    batch_size: int = 4,
    device: torch.device | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Segment frames at their own resolution: yields ``(mask (H, W) uint8 class ids, uncertainty (H, W)
    float32 std or None)`` per image, in order (the letterbox is undone)."""
    dev = device if device is not None else next(ensemble.parameters()).device
    ensemble.eval()
    for start in range(0, len(images), batch_size):
        loaded = [resize_pad(read_image(im) if isinstance(im, Path | str) else np.asarray(im), size)
                  for im in images[start : start + batch_size]]
        x = uint8_to_float(torch.from_numpy(np.stack([f for f, _ in loaded])).unsqueeze(1)).to(dev)
        with autocast_context(dev):
            result = ensemble.predict(x, mc_samples=mc_samples)
        masks = result.mask.to(torch.uint8).cpu().numpy()
        stds = result.uncertainty.float().cpu().numpy() if result.uncertainty is not None else None
        for j, (_, info) in enumerate(loaded):
            mask = restore_original(masks[j], info, nearest=True)
            std = restore_original(stds[j], info, nearest=False) if stds is not None else None
            yield mask, std
