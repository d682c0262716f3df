"""Contour tracks: keyframe interpolation, optical-flow propagation and model pre-annotation (pure numpy +
OpenCV; the platform stores tracks, this package computes their polygons)."""

from .interpolate import correspond, interpolate_polygons, interpolate_track
from .preannotate import PreAnnotation, masks_to_preannotations, simplify_to_budget
from .propagate import FLOW_METHODS, Propagation, StopReason, dense_flow, propagate_polygon

__all__ = [
    "FLOW_METHODS",
    "PreAnnotation",
    "Propagation",
    "StopReason",
    "correspond",
    "dense_flow",
    "interpolate_polygons",
    "interpolate_track",
    "masks_to_preannotations",
    "propagate_polygon",
    "simplify_to_budget",
]
