"""Tests of the synthetic LUS phantom generator (ml.phantom): labels, geometry, appearance, polygons of its masks.

Files: tests/ml/test_video_io.py; polygon rules: tests/ml/test_geometry.py."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ml.geometry import mask_to_polygons, polygons_to_mask
from ml.phantom import MARKER_CLASSES, PhantomVideo, field_of_view, generate_phantom_video

GEOMETRIES = ("convex", "linear")
MIXED_PATH = [0] * 6 + [1] * 7 + [2] * 7 + [3] * 7 + [1] * 1 + [2] * 6 + [0] * 6  # 40 frames, short segment


@pytest.fixture(scope="module", params=GEOMETRIES)
def mixed(request: pytest.FixtureRequest) -> PhantomVideo:
    return generate_phantom_video(seed=7, n_frames=len(MIXED_PATH), geometry=request.param, score_path=MIXED_PATH)


@pytest.fixture(scope="module")
def random_videos() -> list[PhantomVideo]:
    return [
        generate_phantom_video(seed=s, n_frames=40, height=128, width=144, geometry=GEOMETRIES[s % 2])
        for s in range(24)
    ]


def _lung_rows(video: PhantomVideo) -> slice:
    """Rows safely below the pleural line (which sits at 20-30 % depth)."""
    h = video.frames.shape[1]
    return slice(int(0.4 * h), h)


# -- shapes, determinism ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_shapes_and_dtypes(geometry: str) -> None:
    v = generate_phantom_video(seed=1, n_frames=12, height=160, width=200, geometry=geometry, fps=30)
    assert v.frames.shape == v.masks.shape == (12, 160, 200)
    assert v.frames.dtype == v.masks.dtype == np.uint8
    assert v.scores.shape == (12,) and v.scores.dtype == np.int64
    assert v.field.shape == (160, 200) and v.field.dtype == bool
    assert v.geometry == geometry and v.fps == 30.0 and isinstance(v.fps, float)
    assert v.n_frames == 12
    assert v.video_score == int(v.scores.max()) and isinstance(v.video_score, int)
    assert set(np.unique(v.masks)) <= set(MARKER_CLASSES)
    assert sorted(MARKER_CLASSES) == [0, 1, 2, 3, 4]


def test_single_frame_and_default_size() -> None:
    v = generate_phantom_video(seed=3, n_frames=1)
    assert v.frames.shape == (1, 350, 350) and v.geometry == "convex" and v.fps == 25.0


def test_deterministic_by_seed() -> None:
    a = generate_phantom_video(seed=42, n_frames=20, height=128, width=128)
    b = generate_phantom_video(seed=42, n_frames=20, height=128, width=128)
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.masks, b.masks)
    assert np.array_equal(a.scores, b.scores)


def test_different_seeds_differ() -> None:
    path = [1] * 10
    a = generate_phantom_video(seed=1, n_frames=10, height=128, width=128, score_path=path)
    b = generate_phantom_video(seed=2, n_frames=10, height=128, width=128, score_path=path)
    assert not np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.masks, b.masks)


# -- labels -----------------------------------------------------------------------------------------------------


def _check_labels(v: PhantomVideo) -> None:
    per_frame_max = v.masks.reshape(v.n_frames, -1).max(axis=1).astype(np.int64)
    assert np.array_equal(per_frame_max - 1, v.scores)
    assert v.masks.max() <= 4
    assert not v.masks[:, ~v.field].any()


def test_score_path_honoured_and_masks_consistent(mixed: PhantomVideo) -> None:
    assert np.array_equal(mixed.scores, MIXED_PATH)
    _check_labels(mixed)
    assert mixed.video_score == 3


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("score", [0, 1, 2, 3])
def test_every_score_producible(geometry: str, score: int) -> None:
    v = generate_phantom_video(seed=score, n_frames=6, height=200, width=220, geometry=geometry,
                               score_path=[score] * 6)
    assert np.all(v.scores == score) and v.video_score == score
    _check_labels(v)
    # The defining marker is a sizeable region, not a stray pixel.
    assert (v.masks == score + 1).sum(axis=(1, 2)).min() > 150


def test_random_score_paths(random_videos: list[PhantomVideo]) -> None:
    seen: set[int] = set()
    n_segments: set[int] = set()
    for v in random_videos:
        _check_labels(v)
        seen |= set(v.scores.tolist())
        n_segments.add(int(np.count_nonzero(np.diff(v.scores))) + 1)
    assert seen == {0, 1, 2, 3}
    assert n_segments <= {1, 2, 3, 4} and len(n_segments) >= 3


def test_markers_fade_at_transitions_while_labels_switch_exactly() -> None:
    path = [0] * 10 + [2] * 10
    v = generate_phantom_video(seed=11, n_frames=20, height=160, width=160, geometry="linear", score_path=path)
    region = v.masks[15] == 3  # where the score-2 B-lines are once settled
    assert not (v.masks[9] == 3).any() and (v.masks[10] == 3).any()
    brightness = np.array([v.frames[t][region].mean() for t in range(20)])
    ramp = brightness[7:13]
    assert np.all(np.diff(ramp) > 0)  # fades in over the frames around the boundary ...
    assert brightness[9] < brightness[12] and brightness[9] > brightness[5] + 5  # ... partly visible before it


def test_mask_regions_look_like_their_markers(mixed: PhantomVideo) -> None:
    f, m = mixed.frames.astype(np.float64), mixed.masks
    rows = _lung_rows(mixed)
    lung_bg = f[:, rows][(m[:, rows] == 0) & mixed.field[None, rows]].mean()
    means = {c: f[m == c].mean() for c in (1, 2, 3, 4)}
    assert means[1] > 1.3 * lung_bg  # A-line bands are brighter than the lung between them
    assert means[2] > 3.0 * lung_bg and means[3] > 3.0 * lung_bg  # B-lines are bright
    assert means[4] < 0.5 * min(means[2], means[3])  # consolidation is dark next to B-lines


# -- geometry and appearance ------------------------------------------------------------------------------------


def test_convex_outside_fan_is_zero() -> None:
    v = generate_phantom_video(seed=5, n_frames=8, geometry="convex", score_path=[2] * 8)
    field = field_of_view(350, 350, "convex")
    assert np.array_equal(v.field, field)
    assert 0.4 < field.mean() < 0.95
    assert not field[0, 0] and not field[0, -1] and not field[-1, 0] and not field[-1, -1]
    assert field[20, 175] and field[250, 175] and not field[2, 175]  # footprint arc dips below row 0
    assert not v.frames[:, ~field].any() and not v.masks[:, ~field].any()
    assert v.frames[:, field].mean() > 10


def test_linear_field_is_whole_frame() -> None:
    assert field_of_view(100, 120, "linear").all()


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("score", [0, 1])
def test_pleural_line_is_brightest_row_band(geometry: str, score: int) -> None:
    v = generate_phantom_video(seed=21, n_frames=10, geometry=geometry, score_path=[score] * 10)
    h, w = v.frames.shape[1:]
    centre = v.frames[:, :, w // 2 - w // 20 : w // 2 + w // 20].astype(np.float64).mean(axis=(0, 2))
    band = np.convolve(centre, np.ones(5) / 5, mode="same")
    assert 0.15 * h <= int(band.argmax()) <= 0.35 * h


def test_lung_slides_but_chest_wall_stays() -> None:
    v = generate_phantom_video(seed=4, n_frames=30, geometry="linear", height=200, width=200,
                               score_path=[1] * 30)
    top = v.frames[:, : int(0.1 * 200)].astype(np.int16)
    lung = v.frames[:, _lung_rows(v)].astype(np.int16)
    assert np.abs(np.diff(top, axis=0)).max() <= 1
    changed = (np.diff(lung, axis=0) != 0).mean(axis=(1, 2))  # fraction of lung pixels that changed
    assert (changed > 0.05).mean() > 0.9


def test_generation_speed() -> None:
    generate_phantom_video(seed=0, n_frames=2)  # warm caches
    t0 = time.perf_counter()
    generate_phantom_video(seed=0, n_frames=100)
    assert time.perf_counter() - t0 < 5.0  # ~0.2 s typical; generous bound for loaded CI machines


# -- polygons ---------------------------------------------------------------------------------------------------


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_mask_polygon_round_trip(mixed: PhantomVideo) -> None:
    checked: set[int] = set()
    for t in (0, 8, 16, 24, 39):
        mask = mixed.masks[t]
        polys = {c: mask_to_polygons(mask, c) for c in range(1, 5) if (mask == c).any()}
        for ps in polys.values():
            assert ps and all(p.dtype == np.float32 and p.ndim == 2 and p.shape[1] == 2 and len(p) >= 3 for p in ps)
        back = polygons_to_mask(polys, mask.shape)
        assert back.shape == mask.shape and back.dtype == np.uint8
        for c in polys:
            assert _dice(back == c, mask == c) > 0.9, (t, c)
            checked.add(c)
    assert checked == {1, 2, 3, 4}


# -- argument validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_frames": 0}, "n_frames must be >= 1"),
        ({"n_frames": -3}, "n_frames must be >= 1"),
        ({"n_frames": 2.5}, "n_frames must be an integer"),
        ({"geometry": "phased"}, "unknown geometry"),
        ({"score_path": [0, 1, 4]}, r"values must be in 0\.\.3, got \[4\]"),
        ({"score_path": [0, -1, 2]}, r"values must be in 0\.\.3"),
        ({"score_path": [0, 1]}, "n_frames=3"),
        ({"score_path": [0.0, 1.5, 2.0]}, "must hold integers"),
        ({"height": 16}, "height and width must be in"),
        ({"width": 8}, "height and width must be in"),
        ({"fps": 0}, "fps must be a positive number"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    args = {"seed": 0, "n_frames": 3, "height": 96, "width": 96} | kwargs
    with pytest.raises(ValueError, match=message):
        generate_phantom_video(**args)


def test_field_of_view_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown geometry"):
        field_of_view(100, 100, "sector")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="height and width"):
        field_of_view(10, 100)
