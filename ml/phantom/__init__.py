"""Synthetic lung-ultrasound (LUS) phantom videos with exact per-frame scores and per-pixel masks.

Why: every later feature (frame scorer, segmentation, agreement statistics, viewer, demo) needs LUS-like
clips whose ground truth is known exactly, without shipping patient data. Pure numpy + OpenCV, deterministic
by seed, ~0.1-0.3 s for 100 frames of 350x350 on one core.

Scores follow the 0-3 LUS scale (Soldati et al. 2020):

* 0: continuous regular pleural line with A-lines (fading horizontal repeats of the pleural line);
* 1: indented/irregular pleural line with 1-3 isolated vertical B-lines;
* 2: broken pleural line, many/confluent B-lines and small dark sub-pleural consolidations;
* 3: large hypoechoic consolidation below the pleura with bright air-bronchogram dots.

Rendering happens in "beam space" (rows = depth samples along a beam, columns = beam lines) and is scan
converted to the image: identity for a linear probe, a fan/sector for a convex probe (apex above the top edge,
curved pleural line and A-lines, pixels outside the fan exactly 0).

Mask semantics (``PhantomVideo.masks``): class ``s + 1`` marks the marker regions of score ``s`` that are present
in the frame (see ``MARKER_CLASSES``); several classes may be present at once (A-lines between isolated
B-lines, B-lines beside a consolidation), a higher class wins where regions overlap, and the frame score is
exactly ``max(class id present) - 1``. A clip is a piecewise-constant score path; each run of equal scores
(a "segment", the probe resting on one lung zone) has its own random layout. At transitions the two layouts
cross-fade over about four frames (a box filter centred on the boundary), but the labels switch exactly at
the boundary: a frame's mask holds only the markers of the segment it belongs to, and that segment's layout
is always drawn with at least 60 % opacity, the neighbouring (unlabelled) layout with at most 40 %.
"""

from .generator import (
    GEOMETRIES,
    MARKER_CLASSES,
    MIN_SIZE,
    Geometry,
    PhantomVideo,
    field_of_view,
    generate_phantom_video,
    probe_shifts,
)

__all__ = [
    "GEOMETRIES",
    "MARKER_CLASSES",
    "MIN_SIZE",
    "Geometry",
    "PhantomVideo",
    "field_of_view",
    "generate_phantom_video",
    "probe_shifts",
]
