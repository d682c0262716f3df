"""Propagation of a polygon along a video with dense optical flow, stopping where the flow is unreliable.

Why: "propagate to the next N frames" gives the annotator a proposal on every following frame to accept,
edit or discard; a proposal is only worth showing while the flow that produced it can be trusted.

Each step t -> t + 1 computes the dense forward and backward flow (OpenCV DIS or Farnebäck) and the
forward-backward consistency error ``|F(p) + B(p + F(p))|`` per pixel; pixels under ``fb_threshold`` are
reliable. A vertex moves by the median reliable flow in a (2·window + 1)² patch around it, pulled towards the
median reliable flow inside the polygon (a translation plus a local correction, weight ``local_weight``):
speckle makes single-pixel flow noisy, and a vertex on an edge between a static and a moving layer would
otherwise tear the ring. The step's reliability is the share of reliable pixels in the polygon and a band of
``window`` pixels around it. Propagation stops *before* a frame whose reliability is under
``min_reliability`` or where a vertex would leave the image. A coordinate that lies on the image's edge in the
start polygon (the outermost pixel centres or beyond, as :func:`ml.geometry.mask_to_polygons` gives for a region cut by the
edge, such as a B-line reaching the bottom) stays clamped to that edge instead: the marker continues outside
the view, it does not leave it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from ml.geometry import rasterise

__all__ = ["FLOW_METHODS", "Propagation", "StopReason", "dense_flow", "propagate_polygon"]

FlowMethod = Literal["dis", "farneback"]
FLOW_METHODS: tuple[str, ...] = ("dis", "farneback")
StopReason = Literal["done", "end_of_video", "unreliable_flow", "left_image"]


@dataclass(frozen=True)
class Propagation:
    """Result of :func:`propagate_polygon`.

    polygons: {frame: (N, 2) float64} for each frame reached after the start frame (same vertex order).
    reliability: {frame: share in [0, 1] of reliable flow pixels in and around the polygon for the step
        into that frame}; the frame that stopped propagation is included with its (low) value.
    stop_reason: "done" (n_frames reached), "end_of_video", "unreliable_flow" or "left_image".
    stopped_at: the frame that was not reached (None for "done" and "end_of_video").
    """

    polygons: dict[int, np.ndarray]
    reliability: dict[int, float]
    stop_reason: StopReason
    stopped_at: int | None


def _gray(frame: Any) -> np.ndarray:
    img = np.asarray(frame)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2GRAY)
    if img.ndim != 2:
        raise ValueError(f"frames must be (H, W) or (H, W, 3), got shape {img.shape}")
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img.astype(np.float32))
    return np.ascontiguousarray(img)


def dense_flow(prev: np.ndarray, nxt: np.ndarray, method: FlowMethod = "dis") -> np.ndarray:
    """(H, W, 2) float32 flow (dx, dy) taking ``prev`` pixels to ``nxt``; both (H, W) uint8."""
    flow = np.zeros((*prev.shape, 2), dtype=np.float32)
    if method == "dis":
        dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return np.asarray(dis.calc(prev, nxt, flow))
    if method == "farneback":
        return np.asarray(cv2.calcOpticalFlowFarneback(prev, nxt, flow, pyr_scale=0.5, levels=3, winsize=15,
                                                       iterations=3, poly_n=5, poly_sigma=1.2, flags=0))
    raise ValueError(f"unknown flow method {method!r}; expected one of {FLOW_METHODS}")


def _fb_error(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """(H, W) forward-backward error |F(p) + B(p + F(p))| (backward flow sampled bilinearly)."""
    h, w = forward.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(backward, gx + forward[..., 0], gy + forward[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    return np.hypot(*(forward + back).transpose(2, 0, 1))


def _patch_medians(flow: np.ndarray, reliable: np.ndarray, points: np.ndarray, window: int) -> np.ndarray:
    """(N, 2) median reliable flow in the patch around each point; NaN rows where a patch has none."""
    h, w = reliable.shape
    offs = np.arange(-window, window + 1)
    cx = np.clip(np.round(points[:, 0]).astype(np.int64), 0, w - 1)
    cy = np.clip(np.round(points[:, 1]).astype(np.int64), 0, h - 1)
    xs = np.clip(cx[:, None, None] + offs[None, None, :], 0, w - 1)
    ys = np.clip(cy[:, None, None] + offs[None, :, None], 0, h - 1)
    vals = flow[ys, xs].reshape(points.shape[0], -1, 2).astype(np.float64)
    ok = reliable[ys, xs].reshape(points.shape[0], -1)
    vals[~ok] = np.nan
    out = np.full((points.shape[0], 2), np.nan)
    has = ok.any(axis=1)
    if has.any():
        out[has] = np.nanmedian(vals[has], axis=1)
    return out


def propagate_polygon(
    frames: Sequence[Any] | np.ndarray,
    polygon: Any,
    *,
    start: int,
    n_frames: int,
    method: FlowMethod = "dis",
    fb_threshold: float = 1.0,
    min_reliability: float = 0.5,
    window: int = 5,
    local_weight: float = 0.5,
) -> Propagation:
    """Move ``polygon`` (drawn on ``frames[start]``) through the next ``n_frames`` frames.

    frames: (T, H, W) uint8 or a sequence of (H, W) / (H, W, 3) images. polygon: (N, 2) [x, y] pixels.
    Returns a :class:`Propagation`; frames are read lazily, so a long sequence costs only what is reached.
    Raises ValueError for a bad start, n_frames < 1, an unknown method or a polygon outside the image.
    """
    if method not in FLOW_METHODS:
        raise ValueError(f"unknown flow method {method!r}; expected one of {FLOW_METHODS}")
    if not 0 <= start < len(frames):
        raise ValueError(f"start must be a frame index in 0..{len(frames) - 1}, got {start}")
    if n_frames < 1 or window < 0 or not 0.0 <= local_weight <= 1.0:
        raise ValueError("n_frames must be >= 1, window >= 0 and local_weight in [0, 1]")
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    prev = _gray(frames[start])
    h, w = prev.shape
    if poly.shape[0] < 3 or not np.isfinite(poly).all() or not _inside(poly, w, h):
        raise ValueError(f"polygon must be (N >= 3, 2) finite and inside the {w}×{h} image")
    kernel = np.ones((2 * window + 1, 2 * window + 1), np.uint8)
    limit = np.array([w - 1, h - 1], dtype=np.float64)  # outermost pixel centres
    on_edge = (poly <= 0.0) | (poly >= limit)  # as drawn: cut by the edge (a vertex reaching it later leaves)
    polygons: dict[int, np.ndarray] = {}
    reliability: dict[int, float] = {}
    for t in range(start + 1, start + n_frames + 1):
        if t >= len(frames):
            return Propagation(polygons, reliability, "end_of_video", None)
        nxt = _gray(frames[t])
        forward, backward = dense_flow(prev, nxt, method), dense_flow(nxt, prev, method)
        reliable = _fb_error(forward, backward) <= fb_threshold
        filled = rasterise({1: [poly]}, h, w)
        region = cv2.dilate(filled, kernel).astype(bool)
        share = float(reliable[region].mean()) if region.any() else 0.0
        reliability[t] = share
        inside = filled.astype(bool) & reliable
        if share < min_reliability or not inside.any():
            return Propagation(polygons, reliability, "unreliable_flow", t)
        shift = np.median(forward[inside].astype(np.float64), axis=0)
        local = _patch_medians(forward, reliable, poly, window)
        local = np.where(np.isnan(local), shift[None, :], local)
        moved = poly + shift[None, :] + local_weight * (local - shift[None, :])
        moved = np.where(on_edge, np.clip(moved, 0.0, limit), moved)
        if not _inside(moved, w, h):
            return Propagation(polygons, reliability, "left_image", t)
        poly, prev = moved, nxt
        polygons[t] = poly
    return Propagation(polygons, reliability, "done", None)


def _inside(poly: np.ndarray, width: int, height: int) -> bool:
    return bool(np.all((poly >= 0) & (poly <= np.array([width, height], dtype=np.float64))))
