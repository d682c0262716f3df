"""COCO instance segmentation (the format of pycocotools, Detectron2, MMDetection), written as a stream.

The JSON is produced incrementally: header and categories, then one image object per frame, then one
annotation per contour, so neither input is ever held in memory. Requirements on the inputs:

* ``frames`` sorted by ``frame_id``, ascending and without repeats;
* ``frame_scores`` (optional) sorted by ``frame_id`` too, each referring to one of ``frames``;
* ``contours`` in any order, each on one of ``frames`` and of one of ``categories``;
* ``video_findings`` (optional) in any order: those of the videos among ``frames`` go in the top-level
  ``"video_findings"`` list (:func:`rows.finding_record`: video id and name, patient, annotator,
  validation level, finding code, present),
  the others are skipped. COCO tools ignore the extra key.

Only the ids of the frames are remembered (to check the contours' image ids: a dangling id would make
the file unreadable by pycocotools). A violated requirement raises ValueError mid-stream, so the
platform should build the inputs from one query ordered by frame id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ml.geometry import polygon_area

from .rows import ChunkBuffer, FrameRef, LabelRow, finding_record, json_compact

__all__ = ["write_coco"]

_NO_SCORES: tuple[LabelRow, ...] = ()


def write_coco(
    frames: Iterable[FrameRef],
    contours: Iterable[LabelRow],
    *,
    categories: Sequence[tuple[int, str]],
    frame_scores: Iterable[LabelRow] = _NO_SCORES,
    video_findings: Iterable[LabelRow] | None = None,
    info: Mapping[str, Any] | None = None,
) -> Iterator[bytes]:
    """Stream a COCO JSON: ``images`` are the frames (id = frame_id), ``annotations`` the contours
    (id = label_id, category_id = segmentation class). With ``frame_scores``, every image carries
    ``"scores": [{"annotator", "score", "validation_level"}, ...]``; with ``video_findings``, the
    document ends with ``"video_findings": [...]`` (see the module docstring)."""
    category_ids = {int(cid) for cid, _ in categories}
    if len(category_ids) != len(categories):
        raise ValueError("category ids must be unique")
    buffer = ChunkBuffer()
    header = {
        "info": dict(info) if info is not None else {"description": "Pleura lung-ultrasound export"},
        "licenses": [],
        "categories": [{"id": int(cid), "name": name, "supercategory": "marker"} for cid, name in categories],
    }
    chunk = buffer.add(json_compact(header)[:-1] + ',"images":[')
    if chunk:
        yield chunk

    with_scores = frame_scores is not _NO_SCORES
    scores = iter(frame_scores)
    next_score = next(scores, None)
    image_ids: set[int] = set()
    video_ids: set[int] = set()
    previous: int | None = None
    for frame in frames:
        frame_id = frame["frame_id"]
        if previous is not None and frame_id <= previous:
            raise ValueError(f"frames must be sorted by frame_id without repeats: {frame_id} after {previous}")
        if next_score is not None and (next_score["frame_id"] is None or next_score["frame_id"] < frame_id):
            raise ValueError(_orphan_score(next_score))
        image: dict[str, Any] = {
            "id": frame_id, "file_name": frame["image_name"], "width": frame["width"], "height": frame["height"],
            "video_id": frame["video_id"], "frame_index": frame["frame_index"], "patient": frame["patient"],
        }
        if with_scores:
            image["scores"] = own = []
            while next_score is not None and next_score["frame_id"] == frame_id:
                own.append({"annotator": next_score["annotator"], "score": next_score["score"],
                            "validation_level": next_score["validation_level"]})
                next_score = next(scores, None)
        chunk = buffer.add(("," if image_ids else "") + json_compact(image))
        if chunk:
            yield chunk
        image_ids.add(frame_id)
        video_ids.add(frame["video_id"])
        previous = frame_id
    if next_score is not None:
        raise ValueError(_orphan_score(next_score))

    chunk = buffer.add('],"annotations":[')
    if chunk:
        yield chunk
    separator = ""
    for contour in contours:
        chunk = buffer.add(separator + json_compact(_annotation(contour, image_ids, category_ids)))
        if chunk:
            yield chunk
        separator = ","
    if video_findings is not None:
        chunk = buffer.add('],"video_findings":[')
        if chunk:
            yield chunk
        separator = ""
        for finding in video_findings:
            if finding["video_id"] not in video_ids:
                continue
            chunk = buffer.add(separator + json_compact(finding_record(finding)))
            if chunk:
                yield chunk
            separator = ","
    buffer.add("]}")
    yield buffer.flush()


def _annotation(contour: LabelRow, image_ids: set[int], category_ids: set[int]) -> dict[str, Any]:
    label_id = contour["label_id"]
    if contour["frame_id"] not in image_ids:
        raise ValueError(f"contour {label_id} is on frame {contour['frame_id']}, which is not among the frames")
    if contour["segmentation_class"] not in category_ids:
        raise ValueError(f"contour {label_id} has class {contour['segmentation_class']!r}, "
                         f"not one of the categories {sorted(category_ids)}")
    try:
        flat = [float(c) for x, y in contour["vertices"] or () for c in (x, y)]
    except (TypeError, ValueError):
        flat = []
    if len(flat) < 6:
        raise ValueError(f"contour {label_id}: vertices must be at least 3 numeric [x, y] pairs")
    xs, ys = flat[0::2], flat[1::2]
    low_x, low_y = min(xs), min(ys)
    return {
        "id": label_id,
        "image_id": contour["frame_id"],
        "category_id": contour["segmentation_class"],
        "segmentation": [flat],
        "area": polygon_area(contour["vertices"]),
        "bbox": [low_x, low_y, max(xs) - low_x, max(ys) - low_y],
        "iscrowd": 0,
        "annotator": contour["annotator"],
        "validation_level": contour["validation_level"],
        "source": contour["source"],
        **_origin(contour),
    }


def _origin(contour: Mapping[str, Any]) -> dict[str, Any]:
    """How a track's contour came about (manual / interpolated / propagated / model) and whether it is a
    keyframe, where the row says (exports of stored contours do; LabelRow does not require it)."""
    return {key: contour[key] for key in ("origin", "is_keyframe") if key in contour}


def _orphan_score(score: Mapping[str, Any]) -> str:
    return (f"frame score {score['label_id']} is on frame {score['frame_id']}, which is not among the frames "
            "(or frame_scores are not sorted by frame_id)")
