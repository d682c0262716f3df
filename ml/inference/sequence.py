"""Inference of the sequence models (CNN-LSTM video scorers).

Each video is tiled with windows (stride = window, the last one ending on the last frame): a per-frame
model's frame probabilities are averaged over the windows holding the frame and the video's probabilities
are the mean over its frames (``argmax_mean``); a per-video model's video probabilities are the mean of its
windows' softmax.

    frames, videos = predict_sequence_rows(model, rows, size=(224, 224), window=20)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.data import ClipSet, ManifestRow, VideoFrameCache, build_clip_set
from ml.models import SequenceScorerOutput
from ml.utils import autocast_context

__all__ = ["predict_clips", "predict_sequence_rows"]


@torch.no_grad()
def predict_clips(
    model: nn.Module, clips: ClipSet, *, window: int, batch_size: int = 8, device: torch.device | None = None
) -> tuple[np.ndarray | None, np.ndarray]:
    """``(frame probabilities (N, C) or None for per-video models, video probabilities (V, C))``."""
    dev = device if device is not None else next(model.parameters()).device
    model.eval()
    owners, indices = clips.windows(window, window)
    n_frames, n_videos = clips.frames.shape[0], len(clips.videos)
    frame_sum: torch.Tensor | None = None
    counts = torch.zeros(n_frames)
    video_sum: torch.Tensor | None = None
    video_n = torch.zeros(n_videos)
    for start in range(0, len(owners), batch_size):
        idx = indices[start : start + batch_size]
        with autocast_context(dev):
            out: SequenceScorerOutput = model(clips.window_inputs(idx, dev))
        probs = out.probs().cpu()
        if out.per_frame:
            if frame_sum is None:
                frame_sum = torch.zeros(n_frames, probs.shape[-1])
            keep = torch.ones_like(idx, dtype=torch.bool)
            keep[:, 1:] = idx[:, 1:] != idx[:, :-1]  # repeated padding frames count once
            frame_sum.index_add_(0, idx[keep], probs[keep])
            counts.index_add_(0, idx[keep], torch.ones(int(keep.sum())))
        else:
            if video_sum is None:
                video_sum = torch.zeros(n_videos, probs.shape[-1])
            own = owners[start : start + batch_size]
            video_sum.index_add_(0, own, probs)
            video_n.index_add_(0, own, torch.ones(len(own)))
    if frame_sum is not None:
        frame_probs = frame_sum / counts.clamp(min=1)[:, None]
        videos = torch.stack([frame_probs[s : s + n].mean(0) for s, n in zip(clips.starts, clips.lengths, strict=True)])
        return frame_probs.numpy(), videos.numpy()
    assert video_sum is not None
    return None, (video_sum / video_n.clamp(min=1)[:, None]).numpy()


def predict_sequence_rows(
    model: nn.Module,
    rows: Sequence[ManifestRow],
    *,
    size: tuple[int, int],
    window: int,
    batch_size: int = 8,
    cache: VideoFrameCache | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Score the videos of ``rows``: ``(frame rows, video rows)``.

    Frame rows (per-frame models only) are ``{"key", "patient", "video", "frame", "score", "probs", "pred",
    "extra"}`` in video / frame order; video rows ``{"video", "patient", "n_frames", "probs", "pred"}``.
    """
    clips = build_clip_set(rows, size, cache=cache)
    frame_probs, video_probs = predict_clips(model, clips, window=window, batch_size=batch_size)
    frames: list[dict[str, Any]] = []
    if frame_probs is not None:
        for row, p in zip(clips.rows, frame_probs, strict=True):
            frames.append({"key": row.key, "patient": row.patient, "video": row.video, "frame": row.frame,
                           "score": row.score, "probs": [round(float(v), 6) for v in p], "pred": int(p.argmax()),
                           "extra": dict(row.extra)})
    videos = [{"video": v, "patient": patient, "n_frames": n, "probs": [round(float(x), 6) for x in p],
               "pred": int(p.argmax())}
              for v, patient, n, p in zip(clips.videos, clips.patients, clips.lengths, video_probs, strict=True)]
    return frames, videos
