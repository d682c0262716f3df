"""Decode a file and write its frames to media storage as lossless PNG (no database access).

Split from the database step so the dataset import can decode several videos in parallel threads
(OpenCV's decoder and PNG encoder release the GIL) while one thread writes rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage

from studies.models import VideoFormat

from .burned_in import Rect, masks_for, zero_rects
from .decode import DecodedVideo, VideoMeta, open_frame_source
from .errors import IngestError
from .png import encode_png

if TYPE_CHECKING:  # pydicom is imported where a DICOM file is read
    from pydicom.dataset import Dataset

SOURCE_SUFFIX = {VideoFormat.MP4: ".mp4", VideoFormat.MOV: ".mov", VideoFormat.AVI: ".avi",
                 VideoFormat.GIF: ".gif", VideoFormat.DICOM: ".dcm"}


def video_folder(sha256: str) -> str:
    return f"videos/{sha256[:2]}/{sha256}"


def encode_frame_png(frame: np.ndarray) -> bytes:
    """PNG bytes of a frame; colour frames whose channels are equal are stored as grey (still exact)."""
    if frame.ndim == 3 and frame.shape[2] == 3 and (
        np.array_equal(frame[..., 0], frame[..., 1]) and np.array_equal(frame[..., 1], frame[..., 2])
    ):
        frame = frame[..., 0]
    return encode_png(frame)


def _check_meta(meta: VideoMeta, *, name: str) -> None:
    if meta.width <= 0 or meta.height <= 0:
        raise IngestError(name, "the video has no frame size: the file is corrupt or holds no video stream")
    if meta.width * meta.height > settings.PLEURA_MAX_FRAME_PIXELS:
        raise IngestError(
            name, f"frame size {meta.width}×{meta.height} exceeds the limit of "
                  f"{settings.PLEURA_MAX_FRAME_PIXELS:,} pixels (PLEURA_MAX_FRAME_PIXELS)",
        )
    if meta.declared_frames > settings.PLEURA_MAX_FRAMES:
        raise IngestError(name, f"{meta.declared_frames:,} frames exceed the limit of "
                                f"{settings.PLEURA_MAX_FRAMES:,} (PLEURA_MAX_FRAMES)")


def decode_to_storage(path: Path, fmt: VideoFormat, *, sha256: str, name: str,
                      dicom_pseudonym: str = "", storage: Storage | None = None) -> DecodedVideo:
    """Decode `path` frame by frame into `<video folder>/frames/NNNNNN.png` and store the source.

    DICOM files are de-identified (their patient becomes `dicom_pseudonym`) before their copy is
    stored; one declaring burned-in annotation is refused unless PLEURA_BURNED_IN_MASKS masks it, and
    then the masks are zeroed in the frames and the copy. On any error every file written so far is
    deleted and the error re-raised.
    """
    storage = storage or default_storage
    folder = video_folder(sha256)
    written: list[str] = []
    try:
        source = open_frame_source(path, fmt, name=name)
        _check_meta(source.meta, name=name)
        masks: list[Rect] = []
        if source.meta.burned_in_annotation:
            masks = masks_for(manufacturer=source.meta.manufacturer, model=source.meta.scanner_model, name=name)
        decoded = DecodedVideo(format=fmt, meta=source.meta, burned_in_masked=bool(masks))
        for index, frame in enumerate(source.frames()):
            if index >= settings.PLEURA_MAX_FRAMES:
                raise IngestError(name, f"more than {settings.PLEURA_MAX_FRAMES:,} frames (PLEURA_MAX_FRAMES)")
            if frame.shape[0] != source.meta.height or frame.shape[1] != source.meta.width:
                raise IngestError(name, f"frame {index} is {frame.shape[1]}×{frame.shape[0]}, "
                                        f"not {source.meta.width}×{source.meta.height}")
            if masks:
                frame = zero_rects(np.array(frame), masks)
            stored = storage.save(f"{folder}/frames/{index:06d}.png",
                                  ContentFile(encode_frame_png(frame)))
            written.append(stored)
            decoded.frame_names.append(stored)
        if not decoded.frame_names:
            raise IngestError(name, "the video has zero frames")
        declared = source.meta.declared_frames
        if fmt != VideoFormat.GIF and declared > 0 and decoded.frame_count < declared:
            raise IngestError(name, f"the video is truncated: {decoded.frame_count} of {declared} frames "
                                    "could be decoded")
        content: bytes | None
        if fmt == VideoFormat.DICOM:
            content = _deidentified_copy(path, pseudonym=dicom_pseudonym, masks=masks)
        else:
            content = path.read_bytes() if path.stat().st_size < 64 * 2**20 else None
        suffix = SOURCE_SUFFIX[fmt]
        if content is not None:
            decoded.source_name = storage.save(f"{folder}/source{suffix}", ContentFile(content))
        else:
            with path.open("rb") as handle:  # large files are streamed, not read whole
                decoded.source_name = storage.save(f"{folder}/source{suffix}", handle)
        written.append(decoded.source_name)
        return decoded
    except BaseException:
        delete_stored(written, storage=storage)
        raise


def _deidentified_copy(path: Path, *, pseudonym: str, masks: list[Rect]) -> bytes:
    import pydicom

    from .deidentify import deidentify

    if not pseudonym:
        raise ValueError("a DICOM file needs the patient's pseudonymous code before it is stored")
    dataset = pydicom.dcmread(str(path))
    if masks:
        _mask_pixel_data(dataset, masks)
    deidentify(dataset, key=settings.PLEURA_PSEUDONYM_KEY, pseudonym=pseudonym, pixels_cleaned=bool(masks))
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class StoredCopyCheck:
    name: str  # storage name of the copy (unchanged unless the storage had to pick another)
    rewritten: bool  # the copy predated the PS3.15 basic profile and was de-identified again
    burned_in: bool  # the copy declares burned-in annotation (BurnedInAnnotation=YES)


def redeidentify_stored_copy(name: str, *, pseudonym: str, storage: Storage | None = None) -> StoredCopyCheck:
    """De-identify a stored DICOM copy again unless it already carries the basic profile's code 113100.

    Copies stored by older versions kept free-text attributes (comments, descriptions, locations),
    references to original UIDs and the file meta; their UIDs, already replaced once, are remapped again.
    """
    import pydicom

    from .deidentify import BASIC_PROFILE_CODE, deidentify

    storage = storage or default_storage
    with storage.open(name, "rb") as handle:
        dataset = pydicom.dcmread(handle)
    burned_in = str(dataset.get("BurnedInAnnotation", "") or "").strip().upper() == "YES"
    codes = [item.get("CodeValue") for item in dataset.get("DeidentificationMethodCodeSequence", [])]
    if BASIC_PROFILE_CODE[0] in codes:
        return StoredCopyCheck(name=name, rewritten=False, burned_in=burned_in)
    deidentify(dataset, key=settings.PLEURA_PSEUDONYM_KEY, pseudonym=pseudonym)
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    storage.delete(name)
    saved = storage.save(name, ContentFile(buffer.getvalue()))
    return StoredCopyCheck(name=saved, rewritten=True, burned_in=burned_in)


def _mask_pixel_data(dataset: Dataset, masks: list[Rect]) -> None:
    """Zero `masks` in the stored copy's pixels (decompressed first: compressed pixels cannot be edited)."""
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        dataset.decompress()
    pixels = np.array(dataset.pixel_array)  # a writable copy
    multi_frame = int(dataset.get("NumberOfFrames", 1) or 1) > 1
    zero_rects(pixels, masks, rows_axis=1 if multi_frame else 0)
    if int(dataset.get("SamplesPerPixel", 1) or 1) > 1:
        dataset.PlanarConfiguration = 0  # the array's bytes are colour-by-pixel
    dataset.PixelData = pixels.tobytes()


def delete_stored(names: Iterable[str], *, storage: Storage | None = None) -> None:
    """Delete stored files and, for a local folder, the empty directories they leave."""
    storage = storage or default_storage
    folders: set[str] = set()
    for stored in names:
        if stored:
            storage.delete(stored)
            folders.add(os.path.dirname(stored))
    if not isinstance(storage, FileSystemStorage):  # object storage has no folders to leave behind
        return
    root = Path(storage.location).resolve()
    for folder in sorted(folders, key=len, reverse=True):
        current = (root / folder).resolve()
        while current != root and root in current.parents:
            try:
                current.rmdir()
            except OSError:
                break
            current = current.parent
