"""Streaming frame sources for containers (OpenCV) and DICOM cine loops (pydicom).

A source yields one frame at a time so memory stays flat however long the video.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from studies.models import VideoFormat

from .errors import IngestError

if TYPE_CHECKING:  # pydicom is imported where a DICOM file is read
    from pydicom.dataset import Dataset


@dataclass(frozen=True)
class VideoMeta:
    fps: float
    declared_frames: int  # what the container says; 0 when it does not say
    width: int
    height: int
    scanner_model: str = ""
    manufacturer: str = ""
    burned_in_annotation: bool = False  # DICOM BurnedInAnnotation=YES: text in the pixels


@dataclass
class DecodedVideo:
    """Result of decoding a file into stored frames (no database rows yet)."""

    format: VideoFormat
    meta: VideoMeta
    frame_names: list[str] = field(default_factory=list)  # storage names, index = position
    source_name: str = ""  # storage name of the (de-identified) source file
    burned_in_masked: bool = False  # burned-in annotation was zeroed by PLEURA_BURNED_IN_MASKS

    @property
    def frame_count(self) -> int:
        return len(self.frame_names)


class FrameSource(Protocol):
    meta: VideoMeta

    def frames(self) -> Iterator[np.ndarray]:
        """Yield frames as (H, W) or (H, W, 3) uint8 arrays, in order."""
        ...


class OpenCVSource:
    """MP4/MOV/AVI/GIF through OpenCV's bundled FFmpeg."""

    def __init__(self, path: Path, *, name: str) -> None:
        self._path, self._name = path, name
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                raise IngestError(name, "the video could not be opened: the file is corrupt or truncated")
            fps = capture.get(cv2.CAP_PROP_FPS)
            self.meta = VideoMeta(
                fps=float(fps) if fps and np.isfinite(fps) and fps > 0 else 0.0,
                declared_frames=max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
                width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
                height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
            )
        finally:
            capture.release()

    def frames(self) -> Iterator[np.ndarray]:
        capture = cv2.VideoCapture(str(self._path))
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield frame
        finally:
            capture.release()


class DicomSource:
    """Multi-frame (cine) ultrasound DICOM; pixel data decoded one frame at a time."""

    def __init__(self, path: Path, *, name: str) -> None:
        import pydicom
        from pydicom.errors import InvalidDicomError

        self._path, self._name = path, name
        try:
            dataset = pydicom.dcmread(str(path), stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError) as error:
            raise IngestError(name, f"the DICOM file could not be read: {error}") from error
        if "Rows" not in dataset or "Columns" not in dataset:
            raise IngestError(name, "the DICOM file holds no image (no Rows/Columns)")
        self.dataset_header = dataset
        self.meta = VideoMeta(
            fps=_dicom_fps(dataset),
            declared_frames=int(dataset.get("NumberOfFrames", 1) or 1),
            width=int(dataset.Columns),
            height=int(dataset.Rows),
            scanner_model=str(dataset.get("ManufacturerModelName", "") or ""),
            manufacturer=str(dataset.get("Manufacturer", "") or ""),
            burned_in_annotation=str(dataset.get("BurnedInAnnotation", "") or "").strip().upper() == "YES",
        )

    def frames(self) -> Iterator[np.ndarray]:
        from pydicom.pixels import iter_pixels

        try:
            for frame in iter_pixels(str(self._path)):
                yield _dicom_to_uint8(np.asarray(frame), self.dataset_header)
        except IngestError:
            raise
        except Exception as error:  # pydicom raises many kinds for broken or unsupported pixel data
            raise IngestError(self._name, f"the DICOM pixel data could not be decoded: {error}") from error


def _dicom_fps(dataset: Dataset) -> float:
    """Frame rate from the cine tags, in the order the standard prefers them."""
    get = dataset.get
    for keyword in ("RecommendedDisplayFrameRate", "CineRate"):
        value = get(keyword)
        if value:
            return float(value)
    frame_time = get("FrameTime")  # milliseconds between frames
    if frame_time:
        return 1000.0 / float(frame_time)
    return 0.0


def _dicom_to_uint8(frame: np.ndarray, dataset: Dataset) -> np.ndarray:
    """Bring a DICOM frame to 8-bit grey or BGR, keeping 8-bit data untouched (lossless)."""
    photometric = str(getattr(dataset, "PhotometricInterpretation", "MONOCHROME2"))
    bits = int(getattr(dataset, "BitsStored", 8) or 8)
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        frame = apply_color_lut(frame, dataset)
        bits = 16 if frame.dtype == np.uint16 else 8
    elif photometric.startswith("YBR") and frame.ndim == 3:
        from pydicom.pixels import convert_color_space

        frame = convert_color_space(frame, photometric, "RGB")
    if frame.dtype != np.uint8:
        # Wider samples are scaled to 8 bits by their stored bit depth (the only lossy case).
        top = float(2 ** min(max(bits, 1), 32) - 1)
        frame = np.clip(frame.astype(np.float64) * (255.0 / top), 0, 255).round().astype(np.uint8)
    if photometric == "MONOCHROME1":
        frame = 255 - frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        frame = frame[..., ::-1]  # RGB -> BGR, OpenCV's order, so every source yields the same layout
    return np.ascontiguousarray(frame)


def open_frame_source(path: Path, fmt: VideoFormat, *, name: str) -> FrameSource:
    if fmt == VideoFormat.DICOM:
        return DicomSource(path, name=name)
    return OpenCVSource(path, name=name)
