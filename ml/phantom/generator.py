"""The phantom generator: score paths, segment cross-fades and the frame-by-frame composition of the
beam-space layers of :mod:`ml.phantom.scene` (see :mod:`ml.phantom` for what the clips look like and what
their labels mean).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import cv2
import numpy as np

from .scene import Scene, scan_geometry

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

Geometry = Literal["convex", "linear"]
GEOMETRIES: tuple[str, ...] = get_args(Geometry)

#: Mask class ids. Class ``s + 1`` is the marker of LUS score ``s``; 0 is background.
MARKER_CLASSES: dict[int, str] = {
    0: "background",
    1: "a_lines",  # score 0: A-line bands (reverberations of a regular pleural line)
    2: "isolated_b_lines",  # score 1: 1-3 separate B-lines, pleural line to bottom
    3: "confluent_b_lines",  # score 2: many/merged B-lines and small sub-pleural consolidations
    4: "consolidation",  # score 3: large consolidation with air bronchograms
}

#: Smallest accepted frame height/width in pixels (below it the anatomy no longer fits).
MIN_SIZE = 64
_MAX_SIZE = 4096

_FADE = 5  # width (frames) of the centred box filter that cross-fades segments


@dataclass(frozen=True, eq=False)
class PhantomVideo:
    """One synthetic LUS clip with exact labels.

    frames: (T, H, W) uint8 B-mode image.
    masks: (T, H, W) uint8 class ids (0 background, marker of score s = s + 1, see ``MARKER_CLASSES``).
    scores: (T,) int64 exact frame score 0..3 (= masks[t].max() - 1).
    geometry: "convex" (fan) or "linear" (rectangle).
    fps: frame rate for playback / file writing.
    field: (H, W) bool imaged region (the fan for convex, everything for linear); frames and masks are 0 outside.
    """

    frames: np.ndarray
    masks: np.ndarray
    scores: np.ndarray
    geometry: Geometry
    fps: float
    field: np.ndarray

    @property
    def video_score(self) -> int:
        """Clip-level score as a clinician gives it: the worst (maximum) frame score."""
        return int(self.scores.max())

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])



def field_of_view(height: int, width: int, geometry: Geometry = "convex") -> np.ndarray:
    """(H, W) bool imaged region of a phantom of this size: the fan (convex) or the whole frame (linear)."""
    _check_size(height, width)
    _check_geometry(geometry)
    return scan_geometry(int(height), int(width), geometry).field.copy()


# --------------------------------------------------------------------------------------------------------------
# Argument checks


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _check_size(height: object, width: object) -> tuple[int, int]:
    h, w = _check_int("height", height), _check_int("width", width)
    if not (MIN_SIZE <= h <= _MAX_SIZE and MIN_SIZE <= w <= _MAX_SIZE):
        raise ValueError(f"height and width must be in [{MIN_SIZE}, {_MAX_SIZE}] pixels, got {h}x{w}")
    return h, w


def _check_geometry(geometry: object) -> None:
    if geometry not in GEOMETRIES:
        raise ValueError(f"unknown geometry {geometry!r}; expected one of {GEOMETRIES}")


def _check_score_path(score_path: Sequence[int] | np.ndarray, n_frames: int) -> np.ndarray:
    path = np.asarray(score_path)
    if path.ndim != 1 or path.shape[0] != n_frames:
        raise ValueError(f"score_path must be a 1-D sequence of n_frames={n_frames} scores, got shape {path.shape}")
    if path.dtype.kind not in "iu":
        raise ValueError(f"score_path must hold integers 0..3, got dtype {path.dtype}")
    if path.min() < 0 or path.max() > 3:
        bad = sorted({int(v) for v in path[(path < 0) | (path > 3)]})
        raise ValueError(f"score_path values must be in 0..3, got {bad}")
    return path.astype(np.int64)


# --------------------------------------------------------------------------------------------------------------
# Score path and segment weights


def _random_score_path(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """1-4 segments of constant score, each >= 8 frames when possible; neighbour scores preferred."""
    min_len = 8
    n_seg = min(int(rng.integers(1, 5)), max(1, n_frames // min_len))
    scores = [int(rng.integers(0, 4))]
    for _ in range(n_seg - 1):
        cand = np.array([s for s in range(4) if s != scores[-1]])
        p = 1.0 / np.abs(cand - scores[-1])
        scores.append(int(rng.choice(cand, p=p / p.sum())))
    rest = n_frames - n_seg * min_len
    if rest >= 0:
        lengths = min_len + rng.multinomial(rest, rng.dirichlet(np.ones(n_seg)))
    else:
        lengths = np.array([n_frames])
    return np.repeat(np.array(scores, dtype=np.int64), lengths)


def _segments(path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run-length split: (segment index of each frame (T,), score of each segment (S,))."""
    change = np.flatnonzero(np.diff(path)) + 1
    seg_of_frame = np.zeros(path.shape[0], dtype=np.int64)
    seg_of_frame[change] = 1
    seg_of_frame = np.cumsum(seg_of_frame)
    starts = np.concatenate([[0], change])
    return seg_of_frame, path[starts]


def _segment_weights(seg_of_frame: np.ndarray, n_seg: int) -> np.ndarray:
    """(S, T) cross-fade opacities: box-filtered segment indicators, rows sum to 1 per frame, and the frame's
    own segment >= 0.6 (so the labelled layout always dominates, even for 1-frame segments)."""
    n = seg_of_frame.shape[0]
    ind = (seg_of_frame[None, :] == np.arange(n_seg)[:, None]).astype(np.float64)
    h = _FADE // 2
    padded = np.concatenate([np.repeat(ind[:, :1], h, 1), ind, np.repeat(ind[:, -1:], h, 1)], axis=1)
    csum = np.concatenate([np.zeros((n_seg, 1)), np.cumsum(padded, axis=1)], axis=1)
    w = (csum[:, _FADE:] - csum[:, :-_FADE]) / _FADE
    cols = np.arange(n)
    own = w[seg_of_frame, cols]
    new_own = np.maximum(own, 0.6)
    others = np.where(own < 1.0, (1.0 - new_own) / np.maximum(1.0 - own, 1e-12), 0.0)
    w = w * others[None, :]
    w[seg_of_frame, cols] = new_own
    w[w < 1e-6] = 0.0
    return w



# --------------------------------------------------------------------------------------------------------------
# Probe motion (optional)


def probe_shifts(seed: int, n_frames: int, period: float) -> np.ndarray:
    """(T, 2) float64 tissue shift (lateral px at the pleura, axial px) under a hand-held probe, per frame.

    A breathing sinusoid with the lung sliding's period (``period`` frames): lateral amplitude 1-3 px, axial
    2-4 px (the chest wall rises and falls under the probe), each with its own phase, plus a slow lateral drift
    of the hand of up to 0.05 px per frame (5 px over 100 frames). Parameters come from their own random
    stream (``default_rng([seed, 1])``) so that turning the motion on changes nothing else in the clip. The
    values were chosen once as plausible and are not tuned to any benchmark.
    """
    rng = np.random.default_rng([seed, 1])
    amp = np.array([rng.uniform(1.0, 3.0), rng.uniform(2.0, 4.0)])
    phase = rng.uniform(0.0, 2.0 * np.pi, 2)
    drift = np.array([rng.uniform(-0.05, 0.05), 0.0])
    t = np.arange(n_frames, dtype=np.float64)[:, None]
    return amp[None] * np.sin(2.0 * np.pi * t / period + phase[None]) + drift[None] * t


def _shift_beam(beam8: np.ndarray, mask: np.ndarray, lines: float, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Translate the beam-space image (bilinear) and mask (nearest) by (lines, depth); edges replicate, so
    the fan itself stays fixed to the probe while the tissue in it moves."""
    m = np.array([[1.0, 0.0, lines], [0.0, 1.0, depth]], dtype=np.float64)
    size = (beam8.shape[1], beam8.shape[0])
    moved = cv2.warpAffine(beam8, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moved_mask = cv2.warpAffine(mask, m, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    return moved, moved_mask


# --------------------------------------------------------------------------------------------------------------
# Public generator


def generate_phantom_video(
    *,
    seed: int,
    n_frames: int = 100,
    height: int = 350,
    width: int = 350,
    geometry: Geometry = "convex",
    fps: float = 25.0,
    score_path: Sequence[int] | np.ndarray | None = None,
    probe_motion: bool = False,
) -> PhantomVideo:
    """Render a synthetic LUS clip; same arguments -> bit-identical output.

    score_path: exact per-frame scores (length n_frames, values 0..3). None picks from the seed a
    piecewise-constant path of 1-4 segments (each >= 8 frames when n_frames allows).
    Returns a ``PhantomVideo`` with frames/masks (n_frames, height, width) uint8 and scores (n_frames,) int64.
    Mask semantics and transitions: see the module docstring (frame score == masks[t].max() - 1, always).
    Lung sliding: the sub-pleural texture, B-lines and consolidations sway laterally (a breathing sinusoid of
    3-6 pixels); chest wall, pleural line and A-lines stay put.
    probe_motion: also move all tissue (image and masks) under a hand-held probe, for tracking benchmarks:
    see :func:`probe_shifts`. Off by default, and drawn from its own random stream, so the default output is
    unchanged.
    Raises ValueError for n_frames < 1, height/width outside [MIN_SIZE, 4096], an unknown geometry, fps <= 0,
    a negative or non-integer seed, or a score_path of the wrong length / non-integers / values outside 0..3.
    """
    n = _check_int("n_frames", n_frames)
    if n < 1:
        raise ValueError(f"n_frames must be >= 1, got {n}")
    h, w = _check_size(height, width)
    _check_geometry(geometry)
    if isinstance(fps, bool) or not isinstance(fps, int | float | np.number) or not (0 < float(fps) < 1e4):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    seed = _check_int("seed", seed)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    path = None if score_path is None else _check_score_path(score_path, n)

    rng = np.random.default_rng(seed)
    if path is None:
        path = _random_score_path(rng, n)
    seg_of_frame, seg_scores = _segments(path)
    weights = _segment_weights(seg_of_frame, seg_scores.shape[0])  # (S, T)

    scan = scan_geometry(h, w, geometry)
    period = rng.uniform(3.0, 5.0) * float(fps)  # frames per breath
    slide_px = rng.uniform(3.0, 6.0) * np.sin(2 * np.pi * np.arange(n) / period + rng.uniform(0, 2 * np.pi))
    scene = Scene(rng, scan, slide_px)
    shifts = probe_shifts(seed, n, period) if probe_motion else None
    layers = [scene.segment(int(s)) for s in seg_scores]

    frames = np.empty((n, h, w), dtype=np.uint8)
    masks = np.empty((n, h, w), dtype=np.uint8)
    nl, pad = scan.n_lines, scene.pad
    for t in range(n):  # per-frame work is a handful of whole-array operations
        active = np.flatnonzero(weights[:, t])
        if active.size == 1:
            static, src = layers[active[0]][0], layers[active[0]][1]
        else:
            static = sum(weights[j, t] * layers[j][0] for j in active)
            src = sum(weights[j, t] * layers[j][1] for j in active)
        x = pad - scene.slide[t]
        k = math.floor(x)
        f = np.float32(x - k)
        beam = static + src[:, k : k + nl] * (1 - f) + src[:, k + 1 : k + 1 + nl] * f
        beam8 = cv2.convertScaleAbs(beam, alpha=255.0)
        own = layers[seg_of_frame[t]]
        kr = round(x)
        mask = np.maximum(own[2], own[3][:, kr : kr + nl])
        if shifts is not None:
            beam8, mask = _shift_beam(beam8, mask, float(scene.px(shifts[t, 0])), float(shifts[t, 1]))
        if scan.fixed is None or scan.nearest is None:
            frames[t] = beam8
            masks[t] = mask
        else:
            cv2.remap(beam8, scan.fixed[0], scan.fixed[1], cv2.INTER_LINEAR, dst=frames[t],
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            cv2.remap(mask, scan.nearest, None, cv2.INTER_NEAREST, dst=masks[t],  # type: ignore[call-overload]
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if scan.fixed is not None:
        frames[:, ~scan.field] = 0
        masks[:, ~scan.field] = 0

    found = masks.reshape(n, -1).max(axis=1).astype(np.int64) - 1
    if not np.array_equal(found, path):  # pragma: no cover - guards the label contract
        bad = int(np.flatnonzero(found != path)[0])
        raise RuntimeError(f"phantom label bug: frame {bad} mask says {found[bad]}, path says {path[bad]}")
    return PhantomVideo(frames=frames, masks=masks, scores=path.copy(), geometry=geometry, fps=float(fps),
                        field=scan.field.copy())
