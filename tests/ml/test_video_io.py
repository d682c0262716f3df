"""Lossless gray video files (ml.data.video_io): bit-exact round trips through OpenCV, refused inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ml.data.video_io import read_video, write_video
from ml.phantom import GEOMETRIES, PhantomVideo, generate_phantom_video


@pytest.fixture(scope="module", params=GEOMETRIES)
def mixed(request: pytest.FixtureRequest) -> PhantomVideo:
    """A 40-frame phantom clip through every score (the test_phantom clip), on both probes."""
    path = [0] * 6 + [1] * 7 + [2] * 7 + [3] * 7 + [1] * 1 + [2] * 6 + [0] * 6
    return generate_phantom_video(seed=7, n_frames=len(path), geometry=request.param, score_path=path)


def test_write_read_round_trip_bit_exact(tmp_path, mixed: PhantomVideo) -> None:
    path = write_video(tmp_path / "clip.avi", mixed)
    assert path == tmp_path / "clip.avi" and path.stat().st_size > 0
    assert np.array_equal(read_video(path), mixed.frames)
    cap = cv2.VideoCapture(str(path))
    try:
        for t in range(mixed.n_frames):
            ok, bgr = cap.read()
            assert ok and bgr.shape == (*mixed.frames.shape[1:], 3)
            for c in range(3):
                assert np.array_equal(bgr[..., c], mixed.frames[t])
        assert not cap.read()[0]
    finally:
        cap.release()


def test_write_video_suffixes(tmp_path) -> None:
    v = generate_phantom_video(seed=2, n_frames=3, height=64, width=80, geometry="linear")
    assert write_video(tmp_path / "no_suffix", v) == tmp_path / "no_suffix.avi"
    with pytest.raises(ValueError, match="unsupported video suffix"):
        write_video(tmp_path / "clip.mp4", v)
    odd = generate_phantom_video(seed=2, n_frames=2, height=65, width=80, geometry="linear")
    with pytest.raises(ValueError, match="even frame height and width"):
        write_video(tmp_path / "odd.avi", odd)
    assert np.array_equal(read_video(write_video(tmp_path / "clip.mkv", v)), v.frames)


def test_read_video_missing_file(tmp_path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        read_video(tmp_path / "missing.avi")
