"""Inference of the frame scorers: per-frame score probabilities and crop boxes.

    model, config = load_frame_scorer("runs/x/checkpoint.pt")
    frames = predict_frames(model, rows, size=tuple(config["size"]))

Each frame's row::

    {"key": "...", "patient": "p1", "video": "p1_R1", "frame": 12, "image": null, "score": 2,
     "probs": [p0, p1, p2, p3], "pred": 2,
     "box1": [[x, y] x 4], "box2": [[x, y] x 4] | null, "scales": [s1, s2] | null}

``box1`` / ``box2`` are the crop quadrilaterals (corners top-left, top-right, bottom-right, bottom-left of
the crop) in *original frame* pixels (the model input's resize / padding undone); ``box1`` is the crop that
was classified. Full-frame models give ``null`` boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ml.checkpoint import load_checkpoint, model_from_checkpoint
from ml.data import FrameDataset, ManifestRow, VideoFrameCache, uint8_to_float
from ml.models import FrameScorerOutput, crop_boxes
from ml.utils import autocast_context, pick_device

__all__ = ["load_frame_scorer", "predict_frames"]


def load_frame_scorer(
    checkpoint: str | Path, device: str | torch.device = "auto"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained model from a checkpoint: ``(model in eval mode on device, config dict)``.

    Any registry model loads this way (segmentation ensembles and sequence models included); the name says
    what ``ml.predict`` uses it for.

    Raises:
        FileNotFoundError / ValueError: see :func:`ml.checkpoint.load_checkpoint`.
    """
    ckpt = load_checkpoint(checkpoint)
    dev = pick_device(device)
    model = model_from_checkpoint(ckpt).to(dev)
    return model, dict(ckpt["config"])


def _boxes_to_original(boxes: torch.Tensor | None, infos) -> list[list[list[float]] | None]:
    if boxes is None:
        return [None] * len(infos)
    out = []
    for b, info in zip(boxes.cpu().numpy(), infos, strict=True):
        out.append(np.round(info.to_original(b), 2).tolist())
    return out


@torch.no_grad()
def predict_frames(
    model: nn.Module,
    rows: Sequence[ManifestRow],
    *,
    size: tuple[int, int],
    batch_size: int = 64,
    device: str | torch.device | None = None,
    cache: VideoFrameCache | None = None,
    progress_callback: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    show_progress: bool = False,
) -> list[dict[str, Any]]:
    """Score every row.

    Args:
        model: a frame scorer returning :class:`FrameScorerOutput`.
        rows: manifest rows (labels optional).
        size: model input size ``(H, W)`` (the training size, ``config["size"]``).
        batch_size: frames per forward pass.
        device: defaults to the model's device.
        cache: shared :class:`VideoFrameCache`.
        progress_callback: ``(frames_done, frames_total)`` after each batch.
        should_stop: polled before each batch; ``True`` stops and returns the rows scored so far.

    Returns:
        One dict per row (see the module docstring), in ``rows`` order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dev = next(model.parameters()).device if device is None else pick_device(device)
    model = model.to(dev).eval()
    use_cl = dev.type == "cuda"
    if use_cl:
        model = model.to(memory_format=torch.channels_last)
    ds = FrameDataset(rows, size=size, cache=cache)
    out: list[dict[str, Any]] = []
    h, w = int(size[0]), int(size[1])
    starts = range(0, len(ds), batch_size)
    for start in tqdm(starts, desc="predict", disable=not show_progress, leave=False):
        if should_stop is not None and should_stop():
            break
        idx = list(range(start, min(start + batch_size, len(ds))))
        loaded = [ds.load_uint8(i) for i in idx]
        x = uint8_to_float(torch.from_numpy(np.stack([f for f, _ in loaded])).to(dev)).unsqueeze(1)
        if use_cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast_context(dev):
            res: FrameScorerOutput = model(x)
        probs = res.probs().cpu().numpy()
        infos = [info for _, info in loaded]
        b1 = _boxes_to_original(crop_boxes(res.theta1, h, w) if res.theta1 is not None else None, infos)
        b2 = _boxes_to_original(crop_boxes(res.theta2, h, w) if res.theta2 is not None else None, infos)
        scales = res.scales.float().cpu().numpy() if res.scales is not None else None
        for j, i in enumerate(idx):
            row = rows[i]
            out.append(
                {
                    "key": row.key,
                    "patient": row.patient,
                    "video": row.video,
                    "frame": row.frame,
                    "image": str(row.image) if row.image is not None else None,
                    "score": row.score,
                    "probs": [round(float(p), 6) for p in probs[j]],
                    "pred": int(probs[j].argmax()),
                    "box1": b1[j],
                    "box2": b2[j],
                    "scales": None if scales is None else [round(float(s), 4) for s in scales[j]],
                }
            )
        if progress_callback is not None:
            progress_callback(len(out), len(ds))
    return out
