"""LabelMe 5 documents: one JSON per frame, next to the frame's PNG, so the folder opens in LabelMe
(and in tools that read its format) for review or correction.

Each contour becomes a polygon shape labelled with its class name; the annotator's username goes in
the shape's ``description``. The archive also holds ``classes.json`` ({id: name}) so
:func:`readers.read_labelme_folder` can map the labels back to class ids, and, when findings are given,
``findings.json``: the video findings of the videos in the archive (:func:`rows.finding_record`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from .rows import FrameRef, LabelRow, ZipStream, findings_json, json_compact

__all__ = ["LABELME_VERSION", "labelme_document", "labelme_name", "write_labelme_zip"]

LABELME_VERSION = "5.4.1"


def _flags(contour: LabelRow) -> dict[str, bool]:
    """LabelMe's per-shape flags are booleans: how a track's contour came about, where the row says (exports
    of stored contours do; LabelRow does not require it)."""
    row = cast(Mapping[str, Any], contour)
    if "origin" not in row:
        return {}
    return {"keyframe": bool(row.get("is_keyframe")),
            **{origin: row["origin"] == origin for origin in ("interpolated", "propagated", "model")}}


def labelme_document(frame: FrameRef, contours: Sequence[LabelRow], *, class_names: Mapping[int, str]) -> dict:
    """The LabelMe JSON of one frame; ``imagePath`` is the PNG's name relative to the JSON's folder."""
    shapes: list[dict[str, Any]] = []
    for contour in contours:
        class_id, vertices = contour["segmentation_class"], contour["vertices"]
        if class_id is None or class_id not in class_names:
            raise ValueError(f"contour {contour['label_id']} has class {class_id!r}, which has no name")
        if vertices is None:
            raise ValueError(f"contour {contour['label_id']} has no vertices")
        shapes.append({
            "label": class_names[class_id],
            "points": [[float(x), float(y)] for x, y in vertices],
            "group_id": None,
            "shape_type": "polygon",
            "flags": _flags(contour),
            "description": contour["annotator"],
        })
    return {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": posixpath.basename(frame["image_name"]),
        "imageData": None,
        "imageHeight": frame["height"],
        "imageWidth": frame["width"],
    }


def labelme_name(frame: FrameRef) -> str:
    """Archive name of a frame's LabelMe JSON: the PNG's name with ``.json``."""
    return posixpath.splitext(frame["image_name"])[0] + ".json"


def write_labelme_zip(
    frames_with_contours: Iterable[tuple[FrameRef, Sequence[LabelRow]]],
    *,
    class_names: Mapping[int, str],
    include_images: bool = True,
    video_findings: Iterable[LabelRow] | None = None,
) -> Iterator[bytes]:
    """Stream a ZIP with ``classes.json`` and, per frame, ``<image_name>.json`` (+ the PNG itself); with
    ``video_findings``, ``findings.json`` last."""
    archive = ZipStream()
    classes: dict[str, Any] = {str(cid): name for cid, name in sorted(class_names.items())}
    yield from archive.write_bytes("classes.json", json_compact(classes).encode("utf-8"))
    video_ids: set[int] = set()
    for frame, contours in frames_with_contours:
        video_ids.add(frame["video_id"])
        document = labelme_document(frame, contours, class_names=class_names)
        if include_images:
            yield from archive.write_file(frame["image_name"], frame["image_path"])
        yield from archive.write_bytes(labelme_name(frame), json_compact(document).encode("utf-8"))
    if video_findings is not None:
        yield from archive.write_bytes("findings.json", findings_json(video_findings, video_ids))
    yield from archive.close()
