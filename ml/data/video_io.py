"""Video files: decoding any video for training and inference, and a lossless gray round trip.

* :func:`decode_video` reads every frame of a video OpenCV can open (mp4, avi, ...) as grayscale,
  optionally letterboxed to a model size; :func:`video_frame_count` counts its frames;
* :func:`write_video` writes gray frames losslessly (FFV1 / PNG codecs in .avi or .mkv, the first one that
  round-trips bit-exactly through this OpenCV build) and :func:`read_video` reads them back exactly,
  refusing files whose colour channels differ.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from .transforms import PadInfo, resize_pad, to_grayscale

__all__ = ["GrayVideo", "decode_video", "open_video", "read_video", "video_frame_count", "write_video"]


class GrayVideo(Protocol):
    """What :func:`write_video` writes: ``frames (T, H, W)`` uint8 played at ``fps`` frames a second."""

    @property
    def frames(self) -> np.ndarray: ...

    @property
    def fps(self) -> float: ...


def open_video(path: str | Path) -> cv2.VideoCapture:
    """An opened OpenCV capture of a video file (release it when done).

    Raises:
        FileNotFoundError: if the file is missing or OpenCV cannot open it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    return cap


def decode_video(path: str | Path, size: tuple[int, int] | None = None) -> tuple[np.ndarray, PadInfo | None]:
    """Decode every frame of a video file.

    Args:
        path: video file readable by OpenCV (mp4, avi, ...).
        size: if given, each frame is :func:`resize_pad`-ed to ``(h, w)``.

    Returns:
        ``((T, h, w) uint8 array, PadInfo or None)``.

    Raises:
        FileNotFoundError: if the file is missing, cannot be opened or holds no frame.
    """
    cap = open_video(path)
    frames: list[np.ndarray] = []
    info: PadInfo | None = None
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            gray = to_grayscale(frame)
            if size is not None:
                gray, info = resize_pad(gray, size)
            frames.append(gray)
    finally:
        cap.release()
    if not frames:
        raise FileNotFoundError(f"no decodable frame in {path}")
    return np.stack(frames), info


def video_frame_count(path: str | Path) -> int:
    """The number of frames :func:`decode_video` would return, counted by demuxing (no pixel conversion);
    the container's frame-count header is not trusted (it is an estimate for some files).

    Raises:
        FileNotFoundError: if the file is missing, cannot be opened or holds no frame.
    """
    cap = open_video(path)
    count = 0
    try:
        while cap.grab():
            count += 1
    finally:
        cap.release()
    if count == 0:
        raise FileNotFoundError(f"no decodable frame in {path}")
    return count


_CODECS: dict[str, tuple[tuple[str, bool], ...]] = {
    # (fourcc, write as colour); 'PNG ' in AVI is remapped by FFmpeg to 'MPNG', so we ask for MPNG directly.
    ".avi": (("FFV1", False), ("FFV1", True), ("MPNG", False), ("MPNG", True), ("HFYU", True)),
    ".mkv": (("FFV1", False), ("FFV1", True), ("MPNG", True)),
}


def _write_frames(path: Path, frames: np.ndarray, fps: float, fourcc: str, color: bool) -> bool:
    h, w = frames.shape[1:]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), float(fps), (w, h), color)
    try:
        if not writer.isOpened():
            return False
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) if color else f)
    finally:
        writer.release()
    return path.exists() and path.stat().st_size > 0


def read_video(path: str | Path) -> np.ndarray:
    """Read a gray video written by ``write_video``: (T, H, W) uint8. Raises ValueError if the file cannot be
    decoded or its colour channels differ (i.e. it is not a gray video)."""
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if img.ndim == 3:
                if not (np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2])):
                    raise ValueError(f"{path}: frame {len(frames)} is not gray (channels differ)")
                img = img[..., 0]
            frames.append(np.ascontiguousarray(img))
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"{path}: no frames could be decoded")
    return np.stack(frames)


@functools.lru_cache(maxsize=4)
def _lossless_codec(suffix: str) -> tuple[str, bool]:
    """First (fourcc, colour) in ``_CODECS[suffix]`` whose round trip through OpenCV's FFmpeg is bit-exact."""
    probe = np.random.default_rng(0).integers(0, 256, (3, 66, 86), dtype=np.uint8)
    probe[0] = np.arange(86, dtype=np.uint8)[None, :] * 3  # include 0 and 255
    probe[1, :, :2] = 255
    with tempfile.TemporaryDirectory(prefix="pleura_codec_") as tmp:
        for i, (fourcc, color) in enumerate(_CODECS[suffix]):
            p = Path(tmp) / f"probe{i}{suffix}"
            try:
                if _write_frames(p, probe, 25.0, fourcc, color) and np.array_equal(read_video(p), probe):
                    return fourcc, color
            except (cv2.error, ValueError):
                continue
    tried = ", ".join(f"{c}{'/bgr' if col else '/gray'}" for c, col in _CODECS[suffix])
    raise RuntimeError(f"no lossless codec for {suffix} in this OpenCV build (tried {tried}); "
                       f"OpenCV {cv2.__version__} needs its FFmpeg videoio backend")


def write_video(path: str | Path, video: GrayVideo, *, verify: bool = True) -> Path:
    """Write ``video.frames`` losslessly (FFV1 in .avi/.mkv when available), so ``cv2.VideoCapture`` and
    ``read_video`` give back the exact gray values (identical in all three BGR channels).

    video: a :class:`GrayVideo`, e.g. an :class:`ml.phantom.PhantomVideo`.
    path: a .avi or .mkv file; without a suffix ".avi" is appended. Returns the path written.
    Frame height and width must be even (OpenCV's FFmpeg writer truncates odd sizes): ValueError otherwise.
    verify: read the file back and raise RuntimeError unless it is bit-exact (cheap for phantom sizes).
    Raises ValueError for other suffixes, RuntimeError when OpenCV has no working lossless codec.
    """
    path = Path(path)
    if path.suffix == "":
        path = path.with_suffix(".avi")
    suffix = path.suffix.lower()
    if suffix not in _CODECS:
        raise ValueError(f"unsupported video suffix {path.suffix!r}; use one of {sorted(_CODECS)}")
    frames = np.asarray(video.frames)
    if frames.ndim != 3 or frames.dtype != np.uint8 or frames.shape[0] < 1:
        raise ValueError(f"video.frames must be (T, H, W) uint8 with T >= 1, got {frames.shape} {frames.dtype}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        # OpenCV's FFmpeg writer silently drops the last row/column of odd-sized frames.
        raise ValueError(f"write_video needs an even frame height and width, got {frames.shape[1]}x{frames.shape[2]}")
    fourcc, color = _lossless_codec(suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not _write_frames(path, frames, video.fps, fourcc, color):
        raise RuntimeError(f"OpenCV could not write {path} with codec {fourcc}")
    if verify and not np.array_equal(read_video(path), frames):
        raise RuntimeError(f"{path}: codec {fourcc} did not round-trip bit-exactly")
    return path
