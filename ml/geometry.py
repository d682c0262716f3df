"""Polygon geometry: validity checks, area, rasterisation and the mask <-> polygons round trip.

One set of rules for the platform's label entry, imports and every export, the agreement statistics and the
phantom's masks (pure numpy + OpenCV).

Conventions:

* Vertices are ``[x, y]`` in image pixels, pixel centres at integers (OpenCV's convention); a vertex may
  lie anywhere in ``[0, width] × [0, height]``.
* The ring is implicitly closed (the last vertex joins the first); repeating the first vertex at the end
  is allowed.
* Duplicate *consecutive* vertices are allowed: drawing tools produce them on double clicks, and they
  change neither the area nor the mask. They are dropped before the area and self-intersection tests.
* Two non-adjacent edges that cross *or touch* make the polygon self-intersecting: a ring that touches
  itself has an ambiguous inside, and its mask depends on the rasteriser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import cv2
import numpy as np

__all__ = ["mask_to_polygons", "polygon_area", "polygon_problems", "polygons_to_mask", "rasterise"]

#: Fixed-point bits for sub-pixel vertices in cv2.fillPoly.
_SHIFT = 4
#: Rows of the pairwise edge test evaluated at once; bounds memory for very long rings.
_BLOCK = 256
#: Relative tolerance (times the squared extent) under which a cross product counts as zero.
_REL_EPS = 1e-10
#: Lists up to this long get their area in plain Python (faster than numpy's per-call overhead).
_PY_AREA_MAX = 64
#: At most this many vertex indices are named in one message.
_NAMED = 3


def polygon_area(vertices: Any) -> float:
    """Unsigned shoelace area in pixel² (0.0 for fewer than 3 vertices).

    Short Python lists (the common case in exports) take a pure-Python path: numpy's per-call overhead
    would dominate for a few dozen vertices.
    """
    if isinstance(vertices, list) and 3 <= len(vertices) <= _PY_AREA_MAX:
        try:
            return abs(_signed_area_py(vertices))
        except (TypeError, ValueError):
            pass  # let the numpy path produce the error message
    pts = _as_points(vertices)
    if pts.shape[0] < 3:
        return 0.0
    return abs(_signed_area(pts))


#: Coordinates beyond this are only reported as outside the image (their squares overflow float64 sums).
FAR_OUTSIDE = 1e9


def polygon_problems(vertices: Any, *, width: int, height: int) -> list[str]:
    """Human-readable reasons why ``vertices`` is not a usable polygon on a ``width`` × ``height`` frame.

    Returns an empty list when valid. Structural problems (not a list of pairs, non-numeric or non-finite
    coordinates, fewer than 3 vertices) stop further checks, since the geometric tests need numbers.
    """
    _check_size(width, height)
    if isinstance(vertices, (str, bytes)) or not isinstance(vertices, (Sequence, np.ndarray)):
        return ["vertices must be a list of [x, y] pairs"]
    problems = _structure_problems(vertices)
    if problems:
        return problems
    if len(vertices) < 3:
        return [f"a polygon needs at least 3 vertices, got {len(vertices)}"]
    pts = np.asarray(vertices, dtype=np.float64).reshape(-1, 2)

    outside = np.flatnonzero((pts[:, 0] < 0) | (pts[:, 0] > width) | (pts[:, 1] < 0) | (pts[:, 1] > height))
    if outside.size:
        problems.append(f"{_name_vertices(outside)}: outside the {width}×{height} image "
                        f"(allowed: 0 ≤ x ≤ {width}, 0 ≤ y ≤ {height})")
        if np.abs(pts).max() > FAR_OUTSIDE:
            return problems  # squared extents would overflow: the shape checks have nothing to add

    keep = _distinct_consecutive(pts)
    ring, original_index = pts[keep], np.flatnonzero(keep)
    if ring.shape[0] < 3:
        problems.append(f"a polygon needs at least 3 distinct vertices, got {ring.shape[0]}")
        return problems
    tol = _tolerance(ring)
    if _collinear(ring, tol):
        problems.append("the polygon has zero area (all its vertices lie on one line)")
        return problems
    crossing = _first_crossing(ring, tol)
    if crossing is not None:
        n = ring.shape[0]
        i, j = crossing
        a, b = int(original_index[i]), int(original_index[(i + 1) % n])
        c, d = int(original_index[j]), int(original_index[(j + 1) % n])
        problems.append(f"the polygon is self-intersecting: edge {a}–{b} crosses or touches edge {c}–{d}")
    elif abs(_signed_area(ring)) <= tol:
        problems.append("the polygon has zero area")
    return problems


def rasterise(polygons_by_class: Mapping[int, Sequence[Any]], height: int, width: int) -> np.ndarray:
    """Fill polygons into a (height, width) uint8 class-id mask, 0 where nothing is drawn.

    Classes are drawn in increasing id order, so where polygons of different classes overlap the higher
    class wins (the markers of higher scores are the clinically decisive ones). Vertices keep 4 bits of
    sub-pixel precision; a pixel is filled when its centre is inside or on the boundary (OpenCV's rule).
    """
    _check_size(width, height)
    mask = np.zeros((height, width), dtype=np.uint8)
    for class_id in sorted(polygons_by_class):
        _check_class_id(class_id, lowest=0)
        fixed = []
        for polygon in polygons_by_class[class_id]:
            pts = _as_points(polygon)
            if pts.shape[0] < 3:
                raise ValueError(f"class {class_id}: each polygon must be (N, 2) with N >= 3, got shape {pts.shape}")
            if not np.isfinite(pts).all():
                raise ValueError(f"class {class_id}: a polygon has non-finite coordinates")
            fixed.append(np.round(pts * (1 << _SHIFT)).astype(np.int32))
        if fixed:
            cv2.fillPoly(mask, fixed, color=int(class_id), lineType=cv2.LINE_8, shift=_SHIFT)
    return mask


def mask_to_polygons(mask: np.ndarray, class_id: int, *, epsilon: float = 1.0) -> list[np.ndarray]:
    """Outer boundaries of the connected regions of ``mask == class_id`` as polygons.

    mask: (H, W) integer class mask. Returns a list of (N, 2) float32 arrays of x, y pixel coordinates
    (pixel centres at integers, OpenCV convention), N >= 3, simplified by Douglas-Peucker with tolerance
    ``epsilon`` pixels (0 = exact boundary). Holes are filled; regions too thin to form a 3-point polygon are
    dropped. :func:`polygons_to_mask` inverts it.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {m.shape}")
    if epsilon < 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    binary = (m == class_id).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = []
    for c in contours:
        if epsilon > 0:
            c = cv2.approxPolyDP(c, float(epsilon), True)
        pts = c.reshape(-1, 2).astype(np.float32)
        if pts.shape[0] >= 3:
            out.append(pts)
    return out


def polygons_to_mask(polygons: Mapping[int, Sequence[Any]], shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`mask_to_polygons`: {class_id: [polygon (N, 2) x, y, ...]} -> (H, W) uint8 mask.

    :func:`rasterise` with the mask's ``shape``, for marker classes only: class 0 is the background, which
    has no polygons (ValueError).
    """
    if len(shape) != 2:
        raise ValueError(f"shape must be (H, W) with positive sizes, got {shape}")
    for class_id in polygons:
        _check_class_id(class_id, lowest=1)
    return rasterise(polygons, int(shape[0]), int(shape[1]))


def _check_size(width: Any, height: Any) -> None:
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in (width, height))
    if not ok:
        raise ValueError(f"width and height must be positive integers, got {width!r} × {height!r}")


def _check_class_id(class_id: Any, *, lowest: int) -> None:
    if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) or not lowest <= class_id <= 255:
        raise ValueError(f"class ids must be integers in {lowest}..255, got {class_id!r}")


def _as_points(vertices: Any) -> np.ndarray:
    try:
        pts = np.asarray(vertices, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("vertices must be a list of numeric [x, y] pairs") from None
    if pts.size == 0:
        return pts.reshape(0, 2)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"vertices must have shape (N, 2), got {pts.shape}")
    return pts


def _structure_problems(vertices: Sequence[Any] | np.ndarray) -> list[str]:
    """Per-vertex type checks in plain Python: numpy would silently accept "1.5" or True as numbers."""
    not_pair: list[int] = []
    not_number: list[int] = []
    not_finite: list[int] = []
    for index, vertex in enumerate(vertices):
        if isinstance(vertex, (str, bytes)) or not isinstance(vertex, (Sequence, np.ndarray)) or len(vertex) != 2:
            not_pair.append(index)
        elif any(isinstance(c, (bool, np.bool_)) or not isinstance(c, Real) for c in vertex):
            not_number.append(index)
        elif not all(math.isfinite(c) for c in vertex):
            not_finite.append(index)
    problems = []
    if not_pair:
        problems.append(f"{_name_vertices(not_pair)}: not an [x, y] pair")
    if not_number:
        problems.append(f"{_name_vertices(not_number)}: non-numeric coordinate")
    if not_finite:
        problems.append(f"{_name_vertices(not_finite)}: non-finite coordinate (NaN or infinity)")
    return problems


def _name_vertices(indices: Sequence[int] | np.ndarray) -> str:
    """'vertex 4' / 'vertices 1, 2, 5 and 3 more': keeps messages short for long rings."""
    indices = [int(i) for i in indices]
    if len(indices) == 1:
        return f"vertex {indices[0]}"
    named = ", ".join(str(i) for i in indices[:_NAMED])
    more = f" and {len(indices) - _NAMED} more" if len(indices) > _NAMED else ""
    return f"vertices {named}{more}"


def _distinct_consecutive(pts: np.ndarray) -> np.ndarray:
    """Mask keeping the last vertex of each run of equal ones (cyclically, so a closing repeat goes);
    then an edge between kept vertices i and j is the input's edge i–(i+1)."""
    keep = np.any(pts != np.roll(pts, -1, axis=0), axis=1)
    if not keep.any():  # every vertex identical: keep one
        keep[0] = True
    return keep


def _tolerance(pts: np.ndarray) -> float:
    extent = float(np.ptp(pts, axis=0).max())
    return _REL_EPS * max(1.0, extent) ** 2


def _signed_area(pts: np.ndarray) -> float:
    local = pts - pts[0]  # relative to a vertex: keeps precision for rings far from the origin
    x, y = local[:, 0], local[:, 1]
    # Shoelace without np.roll (slow for small arrays); the closing edge ends at the origin, adding 0.
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def _signed_area_py(vertices: list[Any]) -> float:
    """The shoelace formula of :func:`_signed_area`, relative to the first vertex, in plain Python."""
    x0, y0 = (float(c) for c in vertices[0])
    total = 0.0
    px = py = 0.0
    for vertex in vertices[1:]:
        x, y = vertex
        x, y = float(x) - x0, float(y) - y0
        total += px * y - x * py
        px, py = x, y
    return 0.5 * total


def _collinear(pts: np.ndarray, tol: float) -> bool:
    d = pts - pts[0]
    far = int(np.argmax(np.hypot(d[:, 0], d[:, 1])))
    cross = d[far, 0] * d[:, 1] - d[far, 1] * d[:, 0]
    return bool(np.all(np.abs(cross) <= tol))


def _orient(o: np.ndarray, u: np.ndarray, p: np.ndarray, tol: float) -> np.ndarray:
    """Sign of u × (p − o) for arrays of points, 0 within tolerance."""
    cross = u[:, 0] * (p[:, 1] - o[:, 1]) - u[:, 1] * (p[:, 0] - o[:, 0])
    return np.where(np.abs(cross) <= tol, 0.0, np.sign(cross))


def _within(p: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.all((p >= low) & (p <= high), axis=-1)


def _first_crossing(pts: np.ndarray, tol: float) -> tuple[int, int] | None:
    """First pair (i, j), i < j, of non-adjacent edges that cross or touch; edge k joins vertex k to k+1.

    Vectorised in two passes: a cheap (block of rows × n) bounding-box overlap matrix picks the candidate
    pairs, then the orientation test runs on those pairs only (typically O(n) of the n² pairs).
    """
    n = pts.shape[0]
    if n < 4:
        return None
    a = pts
    b = np.roll(pts, -1, axis=0)
    d = b - a
    slack = math.sqrt(tol)
    lo, hi = np.minimum(a, b) - slack, np.maximum(a, b) + slack
    cols = np.arange(n)[None, :]
    for start in range(0, n, _BLOCK):
        rows = np.arange(start, min(start + _BLOCK, n))[:, None]
        boxes_meet = np.all((lo[rows[:, 0], None, :] <= hi[None]) & (lo[None] <= hi[rows[:, 0], None, :]), axis=-1)
        non_adjacent = (cols >= rows + 2) & ~((rows == 0) & (cols == n - 1))
        r, j = np.nonzero(boxes_meet & non_adjacent)
        if r.size == 0:
            continue
        i = rows[r, 0]
        o1, o2 = _orient(a[i], d[i], a[j], tol), _orient(a[i], d[i], b[j], tol)
        o3, o4 = _orient(a[j], d[j], a[i], tol), _orient(a[j], d[j], b[i], tol)
        hit = (((o1 * o2 < 0) & (o3 * o4 < 0))
               | ((o1 == 0) & _within(a[j], lo[i], hi[i])) | ((o2 == 0) & _within(b[j], lo[i], hi[i]))
               | ((o3 == 0) & _within(a[i], lo[j], hi[j])) | ((o4 == 0) & _within(b[i], lo[j], hi[j])))
        found = np.flatnonzero(hit)
        if found.size:
            return int(i[found[0]]), int(j[found[0]])
    return None
