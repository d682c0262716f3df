"""Agreement between raters' contour masks: pairwise Dice / IoU per class and a majority-vote consensus.

Masks hold one class id per pixel (any integer dtype, uint8 preferred): ``0`` = background and, in the
LUS contour protocol, ``1..4`` = the markers drawn for scores ``0..3``. The "union of COVID-19 markers"
(``union=COVID_MARKERS``, the default) pools classes ``2, 3, 4`` -- the markers of scores 1-3 -- into one
foreground; pass another set (or ``None``) to change or drop it.

Counting is done on bit-packed planes of the class ids (``np.packbits`` + ``np.bitwise_count``, 64 pixels
per word), so 1,000 frames x 5 raters at 200 x 260 take well under a second for all classes on two CPU
cores. Frames are processed in small blocks with buffers allocated once, which bounds memory and keeps
the temporaries in cache; the loops run over blocks, classes and raters, never over single frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "COVID_MARKERS",
    "DEFAULT_CLASSES",
    "consensus_mask",
    "consensus_mask_batch",
    "pairwise_dice",
    "pairwise_dice_batch",
]

DEFAULT_CLASSES: tuple[int, ...] = (1, 2, 3, 4)
COVID_MARKERS: tuple[int, ...] = (2, 3, 4)

_BLOCK_PIXELS = 1 << 21  # pixels (over raters) handled per block of frames


def _check_n_labels(n_labels: int) -> int:
    if not isinstance(n_labels, int | np.integer) or isinstance(n_labels, bool) or not 2 <= n_labels <= 256:
        raise ValueError(f"n_labels must be an int in [2, 256], got {n_labels!r}")
    return int(n_labels)


def _as_masks(masks: Any, ndim: int, n_labels: int) -> np.ndarray:
    """Validate class-id masks and return them as uint8 ``(F, R, H * W)`` (a view when already uint8)."""
    arr = np.asarray(masks)
    shape_name = "(n_raters, H, W)" if ndim == 3 else "(n_frames, n_raters, H, W)"
    if arr.ndim != ndim:
        raise ValueError(f"masks must be {shape_name}, got shape {arr.shape}")
    if arr.dtype.kind not in "uib":
        raise ValueError(f"masks must hold integer class ids, got dtype {arr.dtype}")
    if arr.size:
        hi = int(arr.max())
        lo = int(arr.min()) if arr.dtype.kind == "i" else 0
        if lo < 0 or hi >= n_labels:
            raise ValueError(f"masks hold class ids outside 0..{n_labels - 1} (found {lo}..{hi})")
    if ndim == 3:
        arr = arr[None]
    f, r, h, w = arr.shape
    return np.ascontiguousarray(arr, dtype=np.uint8).reshape(f, r, h * w)


def _check_classes(values: Sequence[int], n_labels: int, name: str) -> list[int]:
    out = [int(v) for v in values]
    if any(not 0 <= v < n_labels for v in out):
        raise ValueError(f"{name} must be class ids in 0..{n_labels - 1}, got {list(values)!r}")
    return out


def _block_counts(
    m: np.ndarray, members: list[list[int]], n_bits: int, i: np.ndarray, j: np.ndarray, step: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel counts per channel (a channel pools the class ids in ``members[k]``) for ``m (F, R, N)``.

    Returns ``area (K, F, R)`` and pairwise intersections ``inter (K, F, P)`` for the pairs ``(i, j)``.
    Each block of ``step`` frames is split into ``n_bits`` bit planes packed 64 pixels to a word; a class
    indicator is the AND of the planes (or their complements), counted with ``np.bitwise_count``.
    """
    f, r, n = m.shape
    n_bytes = (n + 7) // 8
    words = (n_bytes + 7) // 8
    p = i.size
    area = np.zeros((len(members), f, r), dtype=np.int64)
    inter = np.zeros((len(members), f, p), dtype=np.int64)
    valid_bytes = np.zeros(words * 8, dtype=np.uint8)
    valid_bytes[:n_bytes] = np.packbits(np.ones(n, dtype=bool))
    valid = valid_bytes.view(np.uint64)  # pixels past n (padding) are never counted
    needed = sorted({c for group in members for c in group})
    # Every per-block buffer is allocated once (page faults of fresh temporaries would dominate otherwise).
    fs = min(step, f)
    scratch = np.empty((fs, r, n), dtype=np.uint8)
    packed = np.zeros((n_bits, fs, r, words * 8), dtype=np.uint8)  # padding bytes stay 0
    inverted = np.empty((n_bits, fs, r, words), dtype=np.uint64)
    ind = np.empty((len(needed), fs, r, words), dtype=np.uint64)
    chan = np.empty((fs, r, words), dtype=np.uint64)
    left, right = np.empty((fs, p, words), dtype=np.uint64), np.empty((fs, p, words), dtype=np.uint64)
    bits = np.empty((fs, max(r, p), words), dtype=np.uint8)
    for start in range(0, f, step):  # blocks of frames keep every temporary small
        stop = min(f, start + step)
        fb = stop - start
        for b in range(n_bits):
            np.bitwise_and(m[start:stop], np.uint8(1 << b), out=scratch[:fb])
            packed[b, :fb, :, :n_bytes] = np.packbits(scratch[:fb], axis=-1)
        planes = packed[:, :fb].view(np.uint64)  # (n_bits, fb, R, words)
        inv = np.invert(planes, out=inverted[:, :fb])
        for q, c in enumerate(needed):
            out = ind[q, :fb]
            np.bitwise_and(valid, planes[0] if c & 1 else inv[0], out=out)
            for b in range(1, n_bits):
                out &= planes[b] if (c >> b) & 1 else inv[b]
        for k, group in enumerate(members):
            ch = chan[:fb]
            ch[...] = ind[needed.index(group[0]), :fb]
            for c in group[1:]:
                ch |= ind[needed.index(c), :fb]
            counts = np.bitwise_count(ch, out=bits[:fb, :r])
            counts.sum(axis=-1, dtype=np.int64, out=area[k, start:stop])
            lt, rt = left[:fb], right[:fb]
            np.take(ch, i, axis=1, out=lt)
            np.take(ch, j, axis=1, out=rt)
            lt &= rt
            counts = np.bitwise_count(lt, out=bits[:fb, :p])
            counts.sum(axis=-1, dtype=np.int64, out=inter[k, start:stop])
    return area, inter


def _ratio(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), empty)


def _nanmean(x: np.ndarray) -> float | None:
    finite = x[np.isfinite(x)]
    return float(finite.mean()) if finite.size else None


def _pairwise(
    m: np.ndarray, classes: Sequence[int], union: Sequence[int] | None, n_labels: int, empty: float
) -> dict[str, Any]:
    r = m.shape[1]
    cls = _check_classes(classes, n_labels, "classes")
    uni = None if union is None or len(union) == 0 else _check_classes(union, n_labels, "union")
    i, j = np.triu_indices(r, 1)
    keys: list[int | str] = [*cls, *(["union"] if uni is not None else [])]
    members = [[c] for c in cls] + ([uni] if uni is not None else [])
    step = max(1, _BLOCK_PIXELS // max(1, r * m.shape[2]))
    area_all, inter_all = _block_counts(m, members, max(1, (n_labels - 1).bit_length()), i, j, step)
    result: dict[str, Any] = {
        "pairs": np.stack([i, j], axis=1),
        "classes": cls,
        "union": uni,
        "dice": {},
        "iou": {},
        "area": {},
        "mean_dice": {},
        "mean_iou": {},
    }
    for key, area, inter in zip(keys, area_all, inter_all, strict=True):
        total = area[:, i] + area[:, j]
        dice = _ratio(2.0 * inter, total, empty)
        iou = _ratio(inter.astype(np.float64), total - inter, empty)
        result["area"][key], result["dice"][key], result["iou"][key] = area, dice, iou
        result["mean_dice"][key], result["mean_iou"][key] = _nanmean(dice), _nanmean(iou)
    return result


def pairwise_dice_batch(
    masks: Any,
    classes: Sequence[int] = DEFAULT_CLASSES,
    *,
    union: Sequence[int] | None = COVID_MARKERS,
    n_labels: int = 5,
    empty: float = np.nan,
) -> dict[str, Any]:
    """Dice and IoU for every rater pair on every frame, per class and over the ``union`` of classes.

    Args:
        masks: ``(n_frames, n_raters, H, W)`` class ids in ``0..n_labels - 1``.
        classes: class ids scored one by one (default ``1..4``, the score markers).
        union: class ids pooled into one foreground, reported under the key ``"union"`` (default
            :data:`COVID_MARKERS` = ``(2, 3, 4)``, markers of scores 1-3); ``None`` or empty to skip.
        empty: value when neither mask of a pair holds the class (0/0); NaN by default, so means skip it.

    Returns:
        ``{"pairs": (P, 2) rater indices i < j, "classes": [...], "union": [...] | None,
        "dice": {cls | "union": (n_frames, P)}, "iou": {...: (n_frames, P)},
        "area": {...: (n_frames, n_raters) pixel counts},
        "mean_dice": {...: float | None}, "mean_iou": {...}}`` -- means over frames and pairs of the
        defined values (None if none). Fewer than two raters give ``P = 0``.

    Raises:
        ValueError: on a non-4-D or non-integer input, class ids outside ``0..n_labels - 1`` (in ``masks``,
            ``classes`` or ``union``) or ``n_labels`` outside ``[2, 256]``.
    """
    n = _check_n_labels(n_labels)
    return _pairwise(_as_masks(masks, 4, n), classes, union, n, empty)


def pairwise_dice(
    masks: Any,
    classes: Sequence[int] = DEFAULT_CLASSES,
    *,
    union: Sequence[int] | None = COVID_MARKERS,
    n_labels: int = 5,
    empty: float = np.nan,
) -> dict[str, Any]:
    """:func:`pairwise_dice_batch` for one frame: ``masks (n_raters, H, W)``; arrays lose the frame axis
    (``dice[cls]`` is ``(P,)``, ``area[cls]`` is ``(n_raters,)``).

    Raises:
        ValueError: as :func:`pairwise_dice_batch`, for a non-3-D input.
    """
    n = _check_n_labels(n_labels)
    out = _pairwise(_as_masks(masks, 3, n), classes, union, n, empty)
    for key in ("dice", "iou", "area"):
        out[key] = {k: v[0] for k, v in out[key].items()}
    return out


def _consensus(m: np.ndarray, n_labels: int, min_votes: int | None) -> np.ndarray:
    f, r, n = m.shape
    if r == 0:
        raise ValueError("need at least one rater")
    if min_votes is not None and (
        not isinstance(min_votes, int | np.integer) or isinstance(min_votes, bool) or not 1 <= min_votes <= r
    ):
        raise ValueError(f"min_votes must be None or an int in [1, {r}], got {min_votes!r}")
    label = np.empty((f, n), dtype=np.uint8)
    step = max(1, _BLOCK_PIXELS // 8 // max(1, n))  # small blocks of frames keep the buffers in cache
    buffers = np.empty((6, step, n), dtype=np.uint8)  # allocated once: no per-block page faults
    for start in range(0, f, step):
        stop = min(f, start + step)
        _vote(m[start:stop], n_labels, min_votes, buffers[:, : stop - start], label[start:stop])
    return label


def _vote(m: np.ndarray, n_labels: int, min_votes: int | None, buf: np.ndarray, label: np.ndarray) -> None:
    """Plurality label of ``m (F, R, N)`` into ``label (F, N)`` uint8; ties (and too few votes) -> 0.

    Branch-free, same-dtype uint8 ufuncs on the preallocated ``buf (6, F, N)`` only.
    """
    r = m.shape[1]
    best, tied, count, eq, more, keep = buf
    best[...] = 0
    tied[...] = 0
    label[...] = 0
    for c in range(n_labels):  # loops over labels and raters only
        np.equal(m[:, 0], c, out=count.view(bool))
        for k in range(1, r):
            np.equal(m[:, k], c, out=eq.view(bool))
            count += eq
        np.greater(count, best, out=more.view(bool))
        np.equal(count, best, out=eq.view(bool))
        np.minimum(eq, count, out=eq)  # a tie only counts with at least one vote
        tied |= eq
        np.bitwise_xor(more, 1, out=eq)
        tied &= eq
        np.subtract(more, 1, out=keep)  # 0x00 where count > best, 0xFF elsewhere
        label &= keep
        np.invert(keep, out=keep)
        keep &= np.uint8(c)
        label |= keep
        np.maximum(best, count, out=best)
    np.bitwise_xor(tied, 1, out=tied)
    label *= tied
    if min_votes is not None:
        np.greater_equal(best, min_votes, out=eq.view(bool))
        label *= eq


def consensus_mask_batch(masks: Any, *, n_labels: int = 5, min_votes: int | None = None) -> np.ndarray:
    """Per-pixel majority vote over raters for many frames.

    The label with the most votes wins; a tie for the top count gives background (0). With ``min_votes``,
    a pixel whose winning label has fewer votes is background too (``r // 2 + 1`` = strict majority).

    Args:
        masks: ``(n_frames, n_raters, H, W)`` class ids in ``0..n_labels - 1``.

    Returns:
        ``(n_frames, H, W)`` uint8 class ids.

    Raises:
        ValueError: on a non-4-D or non-integer input, ids outside the labels, no raters, or a bad
            ``min_votes``.
    """
    n = _check_n_labels(n_labels)
    m = _as_masks(masks, 4, n)
    f, _, h, w = np.shape(masks)
    return _consensus(m, n, min_votes).reshape(f, h, w)


def consensus_mask(masks: Any, *, n_labels: int = 5, min_votes: int | None = None) -> np.ndarray:
    """:func:`consensus_mask_batch` for one frame: ``(n_raters, H, W)`` -> ``(H, W)`` uint8.

    Raises:
        ValueError: as :func:`consensus_mask_batch`, for a non-3-D input.
    """
    n = _check_n_labels(n_labels)
    m = _as_masks(masks, 3, n)
    _, h, w = np.shape(masks)
    return _consensus(m, n, min_votes).reshape(h, w)
