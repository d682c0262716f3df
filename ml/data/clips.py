"""Videos as windows of consecutive frames, for the CNN-LSTM scorers.

Manifest rows are grouped by video and ordered by frame index (``row.frame`` for video rows,
``row.extra["index"]`` for image rows exported by the platform, else file order). Every frame is decoded
once (letterboxed to the model size, uint8) into one tensor; a window is a ``(T,)`` index vector into it.
Videos shorter than the window are padded by repeating their last frame; padded positions carry
:data:`ml.losses.IGNORE_INDEX` as frame label.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from ml.losses.sequence import IGNORE_INDEX

from .dataset import FrameDataset, VideoFrameCache
from .manifest import ManifestRow
from .transforms import uint8_to_float

__all__ = ["ClipSet", "build_clip_set", "window_starts"]


def _index(row: ManifestRow, position: int) -> int:
    if row.frame is not None:
        return int(row.frame)
    return int(row.extra.get("index", position))


@dataclass
class ClipSet:
    """All frames of some videos, video after video.

    Attributes:
        frames: ``(N, 1, h, w)`` uint8.
        rows: the ``N`` manifest rows in the same order.
        videos: video ids; ``starts[v]`` / ``lengths[v]`` locate video ``v`` in ``frames``.
        patients: patient of each video.
        frame_labels: ``(N,)`` int64 frame scores, ``IGNORE_INDEX`` where unlabelled.
        video_labels: ``(V,)`` int64 video scores, ``IGNORE_INDEX`` where unknown.
    """

    frames: torch.Tensor
    rows: list[ManifestRow]
    videos: list[str]
    patients: list[str]
    starts: list[int]
    lengths: list[int]
    frame_labels: torch.Tensor
    video_labels: torch.Tensor

    def windows(self, window: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every video cut into windows: ``(video index (W,), frame indices (W, T))``; the last window of
        a video ends on its last frame, windows of short videos repeat the last frame."""
        owners, indices = [], []
        for v, (start, length) in enumerate(zip(self.starts, self.lengths, strict=True)):
            for s in window_starts(length, window, stride):
                owners.append(v)
                indices.append([start + min(s + t, length - 1) for t in range(window)])
        return torch.tensor(owners, dtype=torch.long), torch.tensor(indices, dtype=torch.long)

    def window_inputs(self, indices: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Model input of windows ``indices (W, T)``: ``(W, T, 1, h, w)`` float in ``[-1, 1]`` on ``device``."""
        x = uint8_to_float(self.frames.index_select(0, indices.reshape(-1)).to(device))
        return x.view(*indices.shape, *self.frames.shape[1:])

    def window_frame_labels(self, owners: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """``(W, T)`` frame labels of windows, ``IGNORE_INDEX`` on repeated (padding) positions."""
        labels = self.frame_labels[indices].clone()
        repeated = torch.zeros_like(labels, dtype=torch.bool)
        repeated[:, 1:] = indices[:, 1:] == indices[:, :-1]
        labels[repeated] = IGNORE_INDEX
        return labels


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Start offsets of the windows of a ``length``-frame video (the last one ends on the last frame).

    Raises:
        ValueError: on non-positive arguments.
    """
    if min(length, window, stride) < 1:
        raise ValueError(f"length, window and stride must be >= 1, got {length}, {window}, {stride}")
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def build_clip_set(
    rows: Sequence[ManifestRow],
    size: tuple[int, int],
    *,
    video_labels: Mapping[str, int] | None = None,
    cache: VideoFrameCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ClipSet:
    """Group, order and decode ``rows`` (see the module docstring).

    Video labels come from ``video_labels`` when given, else the maximum frame score of a video whose
    frames are all labelled (the clinician's rule), else ``IGNORE_INDEX``.

    Raises:
        ValueError: on no row; FileNotFoundError: if a frame source is missing.
    """
    if not rows:
        raise ValueError("no frames")
    grouped: dict[str, list[tuple[int, int, ManifestRow]]] = {}
    for i, row in enumerate(rows):
        grouped.setdefault(row.video, []).append((_index(row, i), i, row))
    ordered: list[ManifestRow] = []
    videos, patients, starts, lengths, vlabels = [], [], [], [], []
    for video in sorted(grouped):
        items = sorted(grouped[video], key=lambda item: (item[0], item[1]))
        videos.append(video)
        patients.append(items[0][2].patient)
        starts.append(len(ordered))
        lengths.append(len(items))
        ordered.extend(r for _, _, r in items)
        scores = [r.score for _, _, r in items]
        if video_labels is not None and video in video_labels:
            vlabels.append(int(video_labels[video]))
        elif all(s is not None for s in scores):
            vlabels.append(max(int(s) for s in scores))  # type: ignore[arg-type]
        else:
            vlabels.append(IGNORE_INDEX)
    dataset = FrameDataset(ordered, size=size, cache=cache)
    frames = torch.empty((len(ordered), 1, *size), dtype=torch.uint8)
    for i in range(len(ordered)):
        frames[i, 0] = torch.from_numpy(dataset.load_uint8(i)[0])
        if progress is not None:
            progress(i + 1, len(ordered))
    frame_labels = torch.tensor([IGNORE_INDEX if r.score is None else int(r.score) for r in ordered], dtype=torch.long)
    return ClipSet(frames=frames, rows=ordered, videos=videos, patients=patients, starts=starts, lengths=lengths,
                   frame_labels=frame_labels, video_labels=torch.tensor(vlabels, dtype=torch.long))
