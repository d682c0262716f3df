"""Model pre-annotation: segmentation outputs -> simplified, valid, editable polygons per marker class.

Why: an annotator accepts or nudges a proposal far faster than they draw one, but only if the proposal is a
handful of draggable vertices (not a pixel staircase) and drops the specks a model leaves behind. The exact
boundaries come from :func:`ml.geometry.mask_to_polygons`; each is then simplified (Douglas-Peucker) with the
smallest tolerance that fits the vertex budget and still gives a valid (non-self-intersecting) polygon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ml.geometry import mask_to_polygons, polygon_area, polygon_problems, rasterise

__all__ = ["PreAnnotation", "masks_to_preannotations", "simplify_to_budget"]

#: Douglas-Peucker tolerances tried in turn (pixels); the first that fits the budget wins.
_EPSILONS: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0)


@dataclass(frozen=True)
class PreAnnotation:
    """One proposed contour: class id (>= 1), polygon (N, 2) float32 [x, y], its area in pixel², and the
    model's confidence (mean probability of the class inside it; 1.0 when only a class mask was given)."""

    class_id: int
    polygon: np.ndarray
    area: float
    confidence: float


def simplify_to_budget(boundary: np.ndarray, max_vertices: int, *, width: int, height: int) -> np.ndarray | None:
    """The least-simplified version of ``boundary`` (N, 2) with at most ``max_vertices`` vertices that is a valid
    polygon (:func:`ml.geometry.polygon_problems`); None when no tolerance gives one."""
    if max_vertices < 3:
        raise ValueError(f"max_vertices must be >= 3, got {max_vertices}")
    pts = np.asarray(boundary, dtype=np.float32).reshape(-1, 1, 2)
    for eps in _EPSILONS:
        simple = cv2.approxPolyDP(pts, eps, True).reshape(-1, 2)
        if simple.shape[0] < 3:
            return None
        if simple.shape[0] <= max_vertices and not polygon_problems(simple.tolist(), width=width, height=height):
            return simple.astype(np.float32)
    return None


def masks_to_preannotations(
    output: Any,
    *,
    min_area: float = 50.0,
    max_vertices: int = 24,
    threshold: float = 0.5,
) -> list[PreAnnotation]:
    """Editable polygons from one frame's segmentation output.

    output: (H, W) integer class-id mask (0 background), or (C, H, W) float per-class probabilities (channel c
        = class c, channel 0 the background); a pixel belongs to its argmax class when that probability is
        >= ``threshold``.
    min_area: polygons smaller than this (pixel², after simplification) are dropped.
    max_vertices: vertex budget per polygon.
    Returns the proposals ordered by class, then largest first. Raises ValueError on other shapes.
    """
    arr = np.asarray(output)
    probs: np.ndarray | None = None
    if arr.ndim == 3 and arr.dtype.kind == "f":
        probs = arr
        best = arr.argmax(axis=0)
        classes = np.where(np.take_along_axis(arr, best[None], axis=0)[0] >= threshold, best, 0).astype(np.uint8)
    elif arr.ndim == 2 and arr.dtype.kind in "iub":
        classes = arr.astype(np.uint8)
    else:
        raise ValueError(f"output must be an (H, W) class mask or (C, H, W) probabilities, got {arr.shape} "
                         f"{arr.dtype}")
    h, w = classes.shape
    found: list[PreAnnotation] = []
    for class_id in (int(c) for c in np.unique(classes) if c > 0):
        proposals = []
        for boundary in mask_to_polygons(classes, class_id, epsilon=0.0):
            simple = simplify_to_budget(boundary, max_vertices, width=w, height=h)
            if simple is None:
                continue
            area = polygon_area(simple)
            if area < min_area:
                continue
            conf = 1.0
            if probs is not None and class_id < probs.shape[0]:
                inside = rasterise({1: [simple]}, h, w).astype(bool)
                conf = float(probs[class_id][inside].mean()) if inside.any() else 0.0
            proposals.append(PreAnnotation(class_id, simple, area, conf))
        found.extend(sorted(proposals, key=lambda p: -p.area))
    return found
