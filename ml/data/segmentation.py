"""Segmentation data: frames with class-id masks, the paper's letterbox, balanced batches, phantom samples.

* Frames and masks are resized to 260x200 (width x height, :data:`SEG_SIZE` = ``(200, 260)`` as ``(H, W)``)
  keeping the aspect ratio, zero-padded (centred), frames normalised to ``[-1, 1]``; masks use
  nearest-neighbour interpolation and the same placement.
* :func:`balanced_order` draws batches balanced across patients *and* scores: a score uniformly among the
  scores present, then a patient uniformly among those with frames of that score, then a frame.
* :func:`restore_original` undoes the letterbox of a model-size map (mask or uncertainty).
* :func:`phantom_segmentation_samples` gives samples with exact masks from :mod:`ml.phantom`;
  :func:`samples_from_manifest` the samples of a manifest whose rows name a mask.

A frame's score is the highest marker present (``mask.max() - 1``; -1 for a mask without markers), the
same rule as the phantom generator's labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from .dataset import read_image
from .manifest import read_manifest
from .transforms import PadInfo, resize_pad

__all__ = [
    "SEG_SIZE",
    "SegmentationSample",
    "balanced_order",
    "load_samples",
    "mask_score",
    "phantom_segmentation_samples",
    "restore_original",
    "samples_from_manifest",
]

#: Model input (H, W): the paper's 260x200 frames.
SEG_SIZE: tuple[int, int] = (200, 260)


def mask_score(mask: np.ndarray) -> int:
    """The frame score a mask implies: highest class id present minus one (-1 when only background)."""
    return int(mask.max()) - 1 if mask.size else -1


@dataclass(frozen=True)
class SegmentationSample:
    """One frame with its mask.

    Attributes:
        image: ``(H, W)`` uint8 frame or the path of an image file.
        mask: ``(H, W)`` uint8 class ids (same size as the frame) or the path of a PNG of class ids.
        patient: patient id (for patient-level splits and balanced batches).
        video: video id.
        frame: frame index in the video.
        extra: anything else (e.g. the platform's frame id), unchanged.
    """

    image: np.ndarray | Path
    mask: np.ndarray | Path
    patient: str
    video: str = ""
    frame: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def load(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, PadInfo]:
        """Letterboxed ``(frame, mask, PadInfo)`` at ``size = (h, w)``.

        Raises:
            FileNotFoundError: if a file is missing.
            ValueError: if frame and mask differ in size.
        """
        image = read_image(self.image) if isinstance(self.image, Path | str) else np.asarray(self.image)
        if isinstance(self.mask, Path | str):
            mask = cv2.imread(str(self.mask), cv2.IMREAD_UNCHANGED)
            if mask is None:
                raise FileNotFoundError(f"cannot read mask {self.mask}")
        else:
            mask = np.asarray(self.mask)
        if image.shape[:2] != mask.shape[:2]:
            raise ValueError(f"frame {image.shape[:2]} and mask {mask.shape[:2]} differ in size ({self.video}:{self.frame})")
        frame, info = resize_pad(image, size)
        resized, _ = resize_pad(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        return frame, resized, info


def load_samples(
    samples: Sequence[SegmentationSample],
    size: tuple[int, int] = SEG_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode and letterbox every sample once: ``(frames (N, 1, h, w) uint8, masks (N, h, w) uint8)``.

    Raises:
        ValueError: on no sample or mismatched frame / mask sizes.
    """
    if not samples:
        raise ValueError("no segmentation samples")
    frames = torch.empty((len(samples), 1, *size), dtype=torch.uint8)
    masks = torch.empty((len(samples), *size), dtype=torch.uint8)
    for i, sample in enumerate(samples):
        f, m, _ = sample.load(size)
        frames[i, 0], masks[i] = torch.from_numpy(f), torch.from_numpy(m)
        if progress is not None:
            progress(i + 1, len(samples))
    return frames, masks


def balanced_order(patients: Sequence[str], scores: Sequence[int], n: int, *, seed: int, epoch: int) -> torch.Tensor:
    """``n`` sample indices drawn with replacement, balanced across scores, then patients, then frames.

    A pure function of ``(seed, epoch)``, so a resumed run draws the same batches.

    Raises:
        ValueError: on mismatched lengths or no sample.
    """
    if len(patients) != len(scores) or not patients:
        raise ValueError(f"need equally many patients and scores (got {len(patients)} and {len(scores)})")
    groups: dict[int, dict[str, int]] = {}
    for p, s in zip(patients, scores, strict=True):
        groups.setdefault(int(s), {}).setdefault(p, 0)
        groups[int(s)][p] += 1
    weights = torch.tensor(
        [1.0 / (len(groups) * len(groups[int(s)]) * groups[int(s)][p]) for p, s in zip(patients, scores, strict=True)],
        dtype=torch.float64,
    )
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.multinomial(weights, n, replacement=True, generator=g)


def restore_original(values: np.ndarray, info: PadInfo, *, nearest: bool) -> np.ndarray:
    """Undo :func:`resize_pad`: crop the padding of a model-size ``(h, w)`` map and resize it to the original
    frame size (``nearest`` for class ids, bilinear for continuous maps)."""
    oh, ow = info.original_size
    new_h = min(info.output_size[0], max(1, round(oh * info.scale)))
    new_w = min(info.output_size[1], max(1, round(ow * info.scale)))
    crop = np.ascontiguousarray(values[info.top : info.top + new_h, info.left : info.left + new_w])
    if crop.shape == (oh, ow):
        return crop
    return cv2.resize(crop, (ow, oh), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)


def phantom_segmentation_samples(
    *,
    n_patients: int = 4,
    videos_per_patient: int = 2,
    n_frames: int = 12,
    height: int = 128,
    width: int = 160,
    frame_step: int = 1,
    seed: int = 0,
) -> list[SegmentationSample]:
    """Frames and exact masks of phantom videos (:func:`ml.phantom.generate_phantom_video`), one patient per
    ``videos_per_patient`` consecutive videos, convex and linear probes alternating.

    Raises:
        ValueError: on non-positive counts (and whatever the generator raises).
    """
    from ml.phantom import generate_phantom_video

    if min(n_patients, videos_per_patient, n_frames, frame_step) < 1:
        raise ValueError("n_patients, videos_per_patient, n_frames and frame_step must be >= 1")
    samples = []
    for p in range(n_patients):
        for v in range(videos_per_patient):
            number = p * videos_per_patient + v
            video = generate_phantom_video(seed=seed * 100_003 + number, n_frames=n_frames, height=height,
                                           width=width, geometry="convex" if number % 2 else "linear")
            for t in range(0, n_frames, frame_step):
                samples.append(SegmentationSample(image=video.frames[t], mask=video.masks[t], patient=f"p{p}",
                                                  video=f"p{p}_v{v}", frame=t))
    return samples


def samples_from_manifest(path: str | Path) -> list[SegmentationSample]:
    """Segmentation samples from a manifest whose image rows carry a ``mask`` column (a PNG of class ids;
    relative paths resolved against the manifest's folder).

    Raises:
        ValueError: on a row without ``mask`` or a video row (masks need one image per frame).
    """
    base = Path(path).resolve().parent
    samples = []
    for i, row in enumerate(read_manifest(path), start=1):
        if row.image is None or "mask" not in row.extra:
            raise ValueError(f"{path}: row {i} needs an image and a mask column")
        mask = Path(str(row.extra["mask"]))
        samples.append(SegmentationSample(image=row.image, mask=mask if mask.is_absolute() else base / mask,
                                          patient=row.patient, video=row.video,
                                          frame=int(row.frame if row.frame is not None else row.extra.get("index", 0))))
    return samples
