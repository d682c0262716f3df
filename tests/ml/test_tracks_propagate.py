"""Optical-flow propagation of a polygon (ml.tracks.propagate): follows a translated texture, stops on an
unreliable frame and at the image's edge, keeps edge-cut vertices on the edge."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ml.tracks import dense_flow, propagate_polygon

STEP = np.array([1.0, 2.0])  # texture motion per frame (x, y) in pixels
BOX = np.array([[70.0, 70.0], [130.0, 70.0], [130.0, 130.0], [70.0, 130.0]])


def texture(seed: int = 0, size: int = 320) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 1.5)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def translated(n: int, size: int = 200) -> list[np.ndarray]:
    """n frames of a 200×200 window on one texture, the content moving by STEP each frame."""
    big, o = texture(), 60
    return [big[o - int(STEP[1]) * t : o - int(STEP[1]) * t + size, o - int(STEP[0]) * t : o - int(STEP[0]) * t + size]
            for t in range(n)]


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_follows_a_translated_texture(method: str) -> None:
    frames = translated(11)
    result = propagate_polygon(frames, BOX, start=0, n_frames=10, method=method)  # type: ignore[arg-type]
    assert result.stop_reason == "done" and result.stopped_at is None
    assert sorted(result.polygons) == list(range(1, 11))
    for t, poly in result.polygons.items():
        np.testing.assert_allclose(poly, BOX + t * STEP, atol=0.5)
        assert result.reliability[t] > 0.9


def test_stops_on_an_unreliable_frame() -> None:
    frames = translated(6)
    frames.append(texture(seed=99, size=200))  # a cut to unrelated content (probe lifted, new view)
    frames.extend(translated(3))
    result = propagate_polygon(np.stack(frames), BOX, start=0, n_frames=9)
    assert result.stop_reason == "unreliable_flow" and result.stopped_at == 6
    assert sorted(result.polygons) == [1, 2, 3, 4, 5]
    assert result.reliability[6] < 0.5


def test_stops_at_the_end_of_the_video_and_when_a_vertex_leaves() -> None:
    frames = translated(4)
    assert propagate_polygon(frames, BOX, start=1, n_frames=10).stop_reason == "end_of_video"
    near_edge = BOX + np.array([0.0, 61.0])  # bottom at y = 191, moving down 2 px per frame: y = 201 on frame 5
    result = propagate_polygon(translated(8), near_edge, start=0, n_frames=7)
    assert result.stop_reason == "left_image" and result.stopped_at == 5
    assert all(p[:, 1].max() <= 200 for p in result.polygons.values())


def test_vertices_on_the_edge_stay_on_it() -> None:
    cut = np.array([[70.0, 120.0], [130.0, 120.0], [130.0, 199.0], [70.0, 199.0]])  # cut by the bottom edge
    result = propagate_polygon(translated(6), cut, start=0, n_frames=5)
    assert result.stop_reason == "done"
    np.testing.assert_allclose(result.polygons[5][:2], cut[:2] + 5 * STEP, atol=0.5)
    np.testing.assert_allclose(result.polygons[5][2:, 1], 199.0)


def test_bad_arguments() -> None:
    frames = translated(3)
    with pytest.raises(ValueError, match="start"):
        propagate_polygon(frames, BOX, start=5, n_frames=1)
    with pytest.raises(ValueError, match="inside"):
        propagate_polygon(frames, BOX + 500.0, start=0, n_frames=1)
    with pytest.raises(ValueError, match="method"):
        propagate_polygon(frames, BOX, start=0, n_frames=1, method="lk")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        dense_flow(frames[0], frames[1], "lk")  # type: ignore[arg-type]
