"""Keyframe interpolation of contour tracks (ml.tracks.interpolate): exact keyframes, untouched vertices stay
still, different vertex counts, winding and starting point, gaps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.geometry import polygon_area, polygon_problems
from ml.tracks import correspond, interpolate_polygons, interpolate_track

SQUARE = np.array([[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0]])


def circle(n: int, cx: float = 100.0, cy: float = 100.0, r: float = 40.0, start: float = 0.0) -> np.ndarray:
    t = start + np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.c_[cx + r * np.cos(t), cy + r * np.sin(t)]


def test_keyframes_are_returned_exactly() -> None:
    a, b = circle(7), circle(12, cx=120.0, r=30.0)
    track = interpolate_track({3: a, 13: b})
    assert sorted(track) == list(range(3, 14))
    np.testing.assert_array_equal(track[3], a)
    np.testing.assert_array_equal(track[13], b)


def test_interpolation_ends_at_the_keyframes_vertices() -> None:
    a, b = circle(7), circle(12, cx=120.0, r=30.0, start=0.3)
    pa, pb = correspond(a, b)
    assert pa.shape == pb.shape
    for ring, points in ((a, pa), (b, pb)):  # every keyframe vertex is present, unchanged
        assert all((points == v).all(axis=1).any() for v in ring)
        assert polygon_area(points) == pytest.approx(polygon_area(ring), rel=1e-9)  # extras lie on edges
    shapes = interpolate_polygons(a, b, [0.0, 1.0])
    np.testing.assert_allclose(shapes[0], pa)
    np.testing.assert_allclose(shapes[1], pb)


def test_moved_vertex_only_moves_and_the_others_stay_exactly_still() -> None:
    b = SQUARE.copy()
    b[2] = [40.0, 44.0]
    track = interpolate_track({0: SQUARE, 10: b})
    for f in range(1, 10):
        assert track[f].shape == (4, 2)
        np.testing.assert_array_equal(np.delete(track[f], 2, axis=0), np.delete(SQUARE, 2, axis=0))
        np.testing.assert_allclose(track[f][2], SQUARE[2] + f / 10 * (b[2] - SQUARE[2]))


def test_inserted_vertex_does_not_drift_the_untouched_ones() -> None:
    a = circle(8)
    b = np.insert(a, 3, [[150.0, 150.0]], axis=0)  # the annotator added one vertex and pulled it out
    for shape in interpolate_polygons(a, b, [0.25, 0.5, 0.75]):
        assert all((shape == v).all(axis=1).any() for v in a)


def test_translation_of_different_vertex_counts_follows_the_shape() -> None:
    a = circle(9)
    b = circle(15, cx=110.0, cy=95.0, start=1.0)  # same circle, moved, redrawn with more vertices
    mid = interpolate_polygons(a, b, [0.5])[0]
    radius = np.hypot(mid[:, 0] - 105.0, mid[:, 1] - 97.5)
    assert radius.max() <= 40.0 + 1e-6 and radius.min() >= 40.0 * np.cos(np.pi / 9) - 1.0
    assert polygon_problems(mid.tolist(), width=300, height=300) == []


def test_opposite_winding_and_other_start_vertex_do_not_twist() -> None:
    a = circle(10)
    b = circle(10, start=2 * np.pi * 3 / 10)[::-1] + np.array([5.0, 0.0])  # reversed and starting elsewhere
    for shape in interpolate_polygons(a, b, np.linspace(0.1, 0.9, 5)):
        assert polygon_problems(shape.tolist(), width=300, height=300) == []
        assert polygon_area(shape) == pytest.approx(polygon_area(a), rel=0.05)


def test_gaps_end_and_restart_the_track() -> None:
    a, b = SQUARE, SQUARE + 20.0
    track = interpolate_track({0: a, 4: b, 6: None, 9: b, 12: a})
    assert sorted(track) == [0, 1, 2, 3, 4, 9, 10, 11, 12]
    np.testing.assert_allclose(track[2], (a + b) / 2)
    assert interpolate_track({5: None}) == {}


def test_bad_keyframes_are_refused() -> None:
    with pytest.raises(ValueError, match="integers >= 0"):
        interpolate_track({-1: SQUARE})
    with pytest.raises(ValueError, match="3 distinct"):
        interpolate_track({0: [[0, 0], [1, 1], [1, 1], [0, 0]], 2: SQUARE})
    with pytest.raises(ValueError, match="shape"):
        correspond([[0, 0], [1, 1]], SQUARE)


@settings(max_examples=40, deadline=None)
@given(na=st.integers(3, 20), nb=st.integers(3, 20), dx=st.floats(-20, 20), dy=st.floats(-20, 20),
       start=st.floats(0, 6.3), reverse=st.booleans())
def test_correspondence_keeps_both_rings_exactly(na: int, nb: int, dx: float, dy: float, start: float,
                                                 reverse: bool) -> None:
    a = circle(na)
    b = circle(nb, cx=100.0 + dx, cy=100.0 + dy, r=25.0, start=start)
    b = b[::-1] if reverse else b
    pa, pb = correspond(a, b)
    assert pa.shape == pb.shape and pa.shape[0] >= max(na, nb)
    assert all((pa == v).all(axis=1).any() for v in a)
    assert all((pb == v).all(axis=1).any() for v in b)
    assert polygon_area(pa) == pytest.approx(polygon_area(a), rel=1e-9)
    assert polygon_area(pb) == pytest.approx(polygon_area(b), rel=1e-9)
