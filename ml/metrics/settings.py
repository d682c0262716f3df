"""The paper's evaluation settings that filter the test data (Sec. V).

Setting 2 (frames): ground-truth scores change gradually, so frames next to a score transition are
ambiguous. With ``K`` frames dropped on each side, a transition *between* frames ``b - 1`` and ``b``
(``score[b] != score[b - 1]``) removes frames ``b - K, ..., b + K - 1``, i.e. every frame ``j`` whose
distance ``|j - (b - 1/2)|`` to the transition is below ``K``. ``K = 0`` keeps every frame; the paper uses
``K = 1, 3, 5, 7``. Windows never cross video boundaries.

Setting 3 (videos): keep the videos on which at least ``min_agree`` annotators gave the same score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["setting2_keep_mask", "setting2_keep_mask_flat", "setting2_keep_masks", "setting3_keep_videos"]


def _check_k(k: int) -> None:
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 0:
        raise ValueError(f"k must be an int >= 0, got {k!r}")


def _scores_1d(frame_scores: Any, name: str = "frame_scores") -> np.ndarray:
    if hasattr(frame_scores, "detach"):
        frame_scores = frame_scores.detach().cpu().numpy()
    arr = np.asarray(frame_scores)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must not contain NaN / inf")
    return arr


def setting2_keep_mask_flat(frame_scores: Any, video_ids: Any, k: int) -> np.ndarray:
    """Setting-2 mask for a flat table of frames from many videos.

    Args:
        frame_scores: ``(N,)`` ground-truth frame scores.
        video_ids: ``(N,)`` video identifiers; each video's frames must be contiguous and in temporal
            order.
        k: frames dropped on each side of every transition (``>= 0``).

    Returns:
        ``(N,)`` bool array, ``True`` for frames to keep.

    Raises:
        ValueError: on bad shapes, negative ``k``, NaN scores or non-contiguous videos.
    """
    _check_k(k)
    s = _scores_1d(frame_scores)
    v = _scores_1d(video_ids, "video_ids")
    n = s.shape[0]
    if v.shape[0] != n:
        raise ValueError(f"video_ids has {v.shape[0]} entries, frame_scores {n}")
    if n == 0 or k == 0:
        return np.ones(n, dtype=bool)
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    if np.unique(v).shape[0] != starts.shape[0]:
        raise ValueError("each video's frames must be contiguous in video_ids")
    idx = np.arange(n)
    video_start = starts[np.searchsorted(starts, idx, side="right") - 1]  # first frame of j's video
    # b is a transition if frame b starts a new score within the same video.
    is_transition = np.r_[False, (s[1:] != s[:-1]) & (v[1:] == v[:-1])]
    # Nearest transition at or before j, and nearest strictly after j.
    prev_b = np.maximum.accumulate(np.where(is_transition, idx, -1))
    next_b = np.minimum.accumulate(np.where(is_transition, idx, n)[::-1])[::-1]
    next_b = np.r_[next_b[1:], n]
    near_prev = (prev_b >= video_start) & (idx - prev_b < k)  # j in [b, b + k - 1]
    video_end = np.r_[starts[1:], n][np.searchsorted(starts, idx, side="right") - 1]
    near_next = (next_b < video_end) & (next_b - idx <= k)  # j in [b - k, b - 1]
    return ~(near_prev | near_next)


def setting2_keep_mask(frame_scores: Any, k: int) -> np.ndarray:
    """Setting-2 mask for one video: ``(T,)`` scores in temporal order -> ``(T,)`` bool (``True`` = keep).

    Raises:
        ValueError: on a non-1-D input, NaN scores or negative ``k``.
    """
    s = _scores_1d(frame_scores)
    return setting2_keep_mask_flat(s, np.zeros(s.shape[0], dtype=np.int64), k)


def setting2_keep_masks(videos_scores: Sequence[Any], k: int) -> list[np.ndarray]:
    """Apply :func:`setting2_keep_mask` to each video's ``(T_i,)`` scores; returns one mask per video.

    Raises:
        ValueError: as :func:`setting2_keep_mask`.
    """
    _check_k(k)
    if len(videos_scores) == 0:
        return []
    arrays = [_scores_1d(s) for s in videos_scores]
    ids = np.repeat(np.arange(len(arrays)), [a.shape[0] for a in arrays])
    flat = setting2_keep_mask_flat(np.concatenate(arrays), ids, k)
    return np.split(flat, np.cumsum([a.shape[0] for a in arrays])[:-1])


def setting3_keep_videos(annotator_scores: Any, min_agree: int) -> np.ndarray:
    """Setting-3 mask: keep videos where at least ``min_agree`` annotators gave the same score.

    Args:
        annotator_scores: ``(V, A)`` float scores per video and annotator, NaN where missing.
        min_agree: required size of the largest group of identical scores (``1 <= min_agree <= A``).

    Returns:
        ``(V,)`` bool array.

    Raises:
        ValueError: on a non-2-D input or ``min_agree`` outside ``[1, A]``.
    """
    arr = np.asarray(annotator_scores, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"annotator_scores must be (V, A), got shape {arr.shape}")
    if not isinstance(min_agree, int | np.integer) or isinstance(min_agree, bool):
        raise ValueError(f"min_agree must be an int, got {min_agree!r}")
    if not 1 <= min_agree <= arr.shape[1]:
        raise ValueError(f"min_agree must lie in [1, {arr.shape[1]}] (number of annotators), got {min_agree}")
    values = np.unique(arr[~np.isnan(arr)])
    if values.size == 0:
        return np.zeros(arr.shape[0], dtype=bool)
    counts = (arr[:, :, None] == values[None, None, :]).sum(axis=1)  # (V, distinct scores); NaN never equal
    return counts.max(axis=1) >= min_agree
