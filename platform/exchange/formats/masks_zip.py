"""Segmentation masks as PNG class-id images, the input most segmentation training code expects.

One mask per annotator and frame (annotators disagree, and the agreement analyses need each one), at
the frame's resolution, rasterised by :func:`ml.geometry.rasterise` so that every export and
the viewer agree on which pixel belongs to which marker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

import cv2
import numpy as np

from ml.geometry import rasterise

from .rows import DEFAULT_CLASS_NAMES, FrameRef, LabelRow, ZipStream, findings_json, json_compact

__all__ = ["frame_mask", "mask_name", "write_masks_zip"]

_UNSAFE = re.compile(r"[^A-Za-z0-9@.+_-]")


def mask_name(annotator: str, frame: FrameRef) -> str:
    """``masks/<annotator>/<video_id>/<frame_index:06d>.png``; the username made safe as a folder name."""
    folder = _UNSAFE.sub("_", annotator)
    if folder in {"", ".", ".."}:
        folder = f"_{folder}_"
    return f"masks/{folder}/{frame['video_id']}/{frame['frame_index']:06d}.png"


def write_masks_zip(
    items: Iterable[tuple[FrameRef, Mapping[str, Sequence[LabelRow]]]],
    *,
    class_names: Mapping[int, str] = DEFAULT_CLASS_NAMES,
    include_images: bool = True,
    video_findings: Iterable[LabelRow] | None = None,
) -> Iterator[bytes]:
    """Stream a ZIP with ``classes.json``, ``frames/…`` PNGs (copied) and one uint8 mask per annotator.

    ``items`` pairs each frame with {annotator: that annotator's contours on the frame}; an annotator with
    no contours gets an all-background mask (they looked and found nothing). With ``video_findings``,
    ``findings.json`` (last) holds the video findings of the videos in the archive (``rows.finding_record``).
    """
    archive = ZipStream()
    classes = {
        "classes": [{"id": cid, "name": name} for cid, name in sorted(class_names.items())],
        "mask_format": "PNG, uint8, one class id per pixel; overlapping polygons: the higher class id wins",
    }
    yield from archive.write_bytes("classes.json", json_compact(classes).encode("utf-8"))
    video_ids: set[int] = set()
    for frame, by_annotator in items:
        video_ids.add(frame["video_id"])
        if include_images:
            yield from archive.write_file(frame["image_name"], frame["image_path"])
        for annotator, contours in sorted(by_annotator.items()):
            mask = frame_mask(frame, contours)
            ok, png = cv2.imencode(".png", mask)
            if not ok:  # pragma: no cover - cv2 encodes any uint8 2-D array
                raise RuntimeError(f"could not encode the mask of frame {frame['frame_id']}")
            yield from archive.write_bytes(mask_name(annotator, frame), png.tobytes(), compress=False)
    if video_findings is not None:
        yield from archive.write_bytes("findings.json", findings_json(video_findings, video_ids))
    yield from archive.close()


def frame_mask(frame: FrameRef, contours: Sequence[LabelRow]) -> np.ndarray:
    """The (height, width) uint8 class-id mask of ``contours`` on ``frame``."""
    by_class: dict[int, list] = {}
    for contour in contours:
        class_id = contour["segmentation_class"]
        if class_id is None:
            raise ValueError(f"contour {contour['label_id']} has no segmentation class")
        by_class.setdefault(int(class_id), []).append(contour["vertices"])
    return rasterise(by_class, frame["height"], frame["width"])
