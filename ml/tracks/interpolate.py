"""Keyframe interpolation of contour tracks: polygons for the frames between an annotator's keyframes.

Why: contouring every frame of a 100-frame clip by hand is what keeps annotation teams small; a track with a
keyframe every few frames and linear interpolation between them (as CVAT and FiftyOne do) cuts the work by
the keyframe spacing, provided the in-between shapes follow the keyframes faithfully.

Vertex correspondence between two keyframe polygons ``a`` (frame f0) and ``b`` (frame f1):

* Same vertex count and the identity is the best cyclic correspondence (the annotator only moved vertices):
  vertex-wise linear interpolation, so a vertex the annotator did not touch stays exactly still.
* Otherwise both rings get the same winding (``b`` is reversed if needed) and are split into matching chains:
  vertices present unchanged in both rings (untouched, ``anchors``) are chain ends, so they stay exactly
  still; with no anchor, ``b``'s starting point is the arc-length offset minimising the summed squared distance
  between the centred, uniformly resampled rings (so a translated shape is not twisted). Within each pair of
  chains every vertex of either ring is placed on the other ring at the same normalised arc length, so each
  keyframe's own vertices are kept exactly (the extra points lie on its edges and change neither its mask nor
  its area), and corresponding points move on straight lines.

At the keyframes themselves the annotator's polygon is returned unchanged. Vertices are ``[x, y]`` pixels
(:mod:`ml.geometry` conventions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["correspond", "interpolate_polygons", "interpolate_track"]

#: Uniform samples per ring for the starting-point search (no anchors).
_ALIGN_SAMPLES = 128
#: Normalised arc-length positions closer than this are one point.
_PARAM_EPS = 1e-9


def _as_ring(polygon: Any, name: str = "polygon") -> np.ndarray:
    """(N, 2) float64 ring without a closing repeat or consecutive duplicates; ValueError if unusable."""
    pts = np.asarray(polygon, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 3:
        raise ValueError(f"{name} must have shape (N, 2) with N >= 3, got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError(f"{name} has non-finite coordinates")
    keep = np.any(pts != np.roll(pts, -1, axis=0), axis=1)
    ring = pts[keep]
    if ring.shape[0] < 3:
        raise ValueError(f"{name} needs at least 3 distinct vertices, got {ring.shape[0]}")
    return ring


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _ring_params(ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed chain (N + 1, 2) and the normalised arc length of each of its points (0 .. 1)."""
    closed = np.vstack([ring, ring[:1]])
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(closed, axis=0).T))])
    return closed, cum / cum[-1]


def _chain_params(chain: np.ndarray) -> np.ndarray:
    """Normalised arc length along an open chain (K, 2); uniform if the chain has no length."""
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(chain, axis=0).T))])
    if cum[-1] <= 0:
        return np.linspace(0.0, 1.0, chain.shape[0])
    return cum / cum[-1]


def _sample(chain: np.ndarray, params: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Points of the polyline ``chain`` at normalised arc lengths ``u`` (exact vertices where u hits one)."""
    # Zero-length edges give repeated params; np.interp then returns the later vertex, which is equal.
    return np.stack([np.interp(u, params, chain[:, 0]), np.interp(u, params, chain[:, 1])], axis=1)


def _merge_chains(ca: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matching point lists of two open chains with corresponding ends, the last point left out (it is the
    next chain's first): every vertex of either chain at its own arc length, placed on the other chain."""
    pa, pb = _chain_params(ca), _chain_params(cb)
    u = np.union1d(pa[:-1], pb[:-1])
    u = u[np.concatenate([[True], np.diff(u) > _PARAM_EPS])]
    return _snap(_sample(ca, pa, u), ca, pa, u), _snap(_sample(cb, pb, u), cb, pb, u)


def _snap(points: np.ndarray, chain: np.ndarray, params: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Put the chain's own vertices back exactly where nearly equal positions were merged into one."""
    idx = np.clip(np.searchsorted(u, params[:-1]), 0, u.size - 1)
    lower = np.clip(idx - 1, 0, u.size - 1)
    nearest = np.where(np.abs(u[lower] - params[:-1]) < np.abs(u[idx] - params[:-1]), lower, idx)
    points[nearest] = chain[:-1]
    return points


def _cyclic_slice(ring: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Vertices start .. stop inclusive, walking forward cyclically (a full turn when start == stop)."""
    n = ring.shape[0]
    steps = (stop - start) % n or n
    return ring[(start + np.arange(steps + 1)) % n]


def _anchors(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i, j) with a[i] == b[j] exactly, kept in cyclically increasing order in both rings."""
    same = np.all(a[:, None, :] == b[None, :, :], axis=-1)
    ia, jb = np.nonzero(same)
    if ia.size == 0:
        return []
    _, first = np.unique(ia, return_index=True)  # one partner per vertex of a
    ia, jb = ia[first], jb[first]
    kept = [(int(ia[0]), int(jb[0]))]
    last = 0
    for i, j in zip(ia[1:], jb[1:], strict=True):
        offset = (int(j) - kept[0][1]) % b.shape[0]
        if offset > last:
            kept.append((int(i), int(j)))
            last = offset
    return kept


def _best_offset(a: np.ndarray, b: np.ndarray) -> float:
    """Arc-length offset of b's point matching a's vertex 0: minimises the summed squared distance between
    the centred, uniformly resampled rings over all cyclic shifts (vectorised, M × M)."""
    u = np.arange(_ALIGN_SAMPLES) / _ALIGN_SAMPLES
    sa = _sample(*_ring_params(a), u)
    sb = _sample(*_ring_params(b), u)
    sa -= sa.mean(axis=0)
    sb -= sb.mean(axis=0)
    shifted = sb[(np.arange(_ALIGN_SAMPLES)[:, None] + np.arange(_ALIGN_SAMPLES)[None, :]) % _ALIGN_SAMPLES]
    cost = ((shifted - sa[None]) ** 2).sum(axis=(1, 2))
    return float(u[int(np.argmin(cost))])


def _identity_is_best(a: np.ndarray, b: np.ndarray) -> bool:
    """Same count, same winding, and no cyclic vertex shift fits better than none (vertices only moved)."""
    if a.shape != b.shape or (_signed_area(a) > 0) != (_signed_area(b) > 0):
        return False
    shifts = (np.arange(a.shape[0])[:, None] + np.arange(a.shape[0])[None, :]) % a.shape[0]
    cost = ((b[shifts] - a[None]) ** 2).sum(axis=(1, 2))
    return bool(cost[0] <= cost.min())


def correspond(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Corresponding point lists (M, 2), (M, 2) of two polygons: ``(1 - t) * A + t * B`` is the shape at
    fraction t between them. Every vertex of ``a`` appears in A and every vertex of ``b`` in B, unchanged.

    Raises ValueError for a polygon with fewer than 3 distinct vertices or non-finite coordinates.
    """
    ra, rb = _as_ring(a, "a"), _as_ring(b, "b")
    if _identity_is_best(ra, rb):
        return ra, rb
    if (_signed_area(ra) > 0) != (_signed_area(rb) > 0):
        rb = rb[::-1].copy()
    anchors = _anchors(ra, rb)
    if not anchors:
        closed_b, params_b = _ring_params(rb)
        delta = _best_offset(ra, rb)
        on_vertex = np.flatnonzero(np.abs(params_b[:-1] - delta) <= _PARAM_EPS)
        start_b = rb[on_vertex[:1]] if on_vertex.size else _sample(closed_b, params_b, np.array([delta]))
        after = np.flatnonzero(params_b[:-1] > delta + _PARAM_EPS)
        before = np.flatnonzero(params_b[:-1] < delta - _PARAM_EPS)
        chain_b = np.vstack([start_b, rb[after], rb[before], start_b])
        return _merge_chains(np.vstack([ra, ra[:1]]), chain_b)
    parts_a, parts_b = [], []
    for k, (i0, j0) in enumerate(anchors):
        i1, j1 = anchors[(k + 1) % len(anchors)]
        pa, pb = _merge_chains(_cyclic_slice(ra, i0, i1), _cyclic_slice(rb, j0, j1))
        parts_a.append(pa)
        parts_b.append(pb)
    return np.vstack(parts_a), np.vstack(parts_b)


def interpolate_polygons(a: Any, b: Any, fractions: Sequence[float] | np.ndarray) -> np.ndarray:
    """Shapes at ``fractions`` (0 = a, 1 = b) between two polygons: (len(fractions), M, 2) float64."""
    pa, pb = correspond(a, b)
    t = np.asarray(fractions, dtype=np.float64).reshape(-1, 1, 1)
    return (1.0 - t) * pa[None] + t * pb[None]


def interpolate_track(keyframes: Mapping[int, Any]) -> dict[int, np.ndarray]:
    """Polygons of a track on every frame it covers: ``{frame: (N, 2) float64}``.

    keyframes: ``{frame index: polygon (N, 2) or None}``. None is a gap marker: the marker is absent from that
    frame on (it left the view), so nothing is interpolated from the keyframe before it; the next polygon
    keyframe restarts the track. Keyframes are returned unchanged (as float64), the frames strictly between
    two consecutive polygon keyframes are interpolated, and nothing is produced before the first or after
    the last keyframe, nor inside a gap.

    Raises ValueError for a negative or non-integer frame index or an unusable polygon.
    """
    frames = sorted(keyframes)
    for f in frames:
        if isinstance(f, bool) or not isinstance(f, int | np.integer) or f < 0:
            raise ValueError(f"keyframe indices must be integers >= 0, got {f!r}")
    out: dict[int, np.ndarray] = {}
    for k, f0 in enumerate(frames):
        p0 = keyframes[f0]
        if p0 is None:
            continue
        out[int(f0)] = np.asarray(p0, dtype=np.float64).reshape(-1, 2)
        _as_ring(out[int(f0)], f"keyframe {f0}")
        if k + 1 == len(frames) or keyframes[frames[k + 1]] is None:
            continue
        f1 = frames[k + 1]
        between = np.arange(f0 + 1, f1)
        if between.size:
            shapes = interpolate_polygons(p0, keyframes[f1], (between - f0) / (f1 - f0))
            out.update({int(f): shape for f, shape in zip(between, shapes, strict=True)})
    return out
