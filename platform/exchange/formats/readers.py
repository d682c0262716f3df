"""Readers for label imports: parse a file, check its shape, return plain records.

Nothing here touches the database: the records name frames by ``frame_id`` or by
``(video_id, frame_index)`` and annotators by username, and the platform resolves and authorises them.
Each reader checks the whole file and raises one :class:`FormatError` listing every problem with its
location, so a researcher can fix a file in one go.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from core.errors import InvalidInput
from ml.geometry import polygon_problems
from ml.scores import MAX_SCORE

from .rows import DEFAULT_CLASS_NAMES

__all__ = [
    "ContourRecord",
    "ContourRecords",
    "FormatError",
    "FrameKey",
    "ScoreRecord",
    "read_coco",
    "read_labelme_folder",
]

#: A frame named by its platform id, or by (video_id, frame_index).
FrameKey = int | tuple[int, int]
#: Problems kept per file; a file wrong on every line would otherwise make an unreadable error.
_MAX_PROBLEMS = 1000


#: What a JSON file nested deeper than Python's parser goes gets (a RecursionError was a 500).
TOO_DEEP = "nested too deeply to be a label file"

class FormatError(InvalidInput):
    """A file does not have the expected shape; ``problems`` lists (location, message) pairs (also as
    the API's field errors)."""

    def __init__(self, problems: Iterable[tuple[str, str]], *, source: str = "") -> None:
        self.problems: list[tuple[str, str]] = list(problems)
        self.source = source
        shown = "; ".join(f"{where}: {what}" for where, what in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{source + ': ' if source else ''}{count}: {shown}{more}",
                         errors={where: [what] for where, what in self.problems})


@dataclass(frozen=True)
class ContourRecord:
    """One polygon to import. ``annotator`` None: the file does not say (the importer decides)."""

    frame: FrameKey
    annotator: str | None
    class_id: int
    vertices: tuple[tuple[float, float], ...]
    location: str = field(default="", compare=False)


@dataclass(frozen=True)
class ScoreRecord:
    """One score to import: a frame score (``frame`` set) or a video score (``video_id`` set)."""

    frame: FrameKey | None
    video_id: int | None
    annotator: str | None
    score: int
    location: str = field(default="", compare=False)

    @property
    def is_video_score(self) -> bool:
        return self.frame is None


class ContourRecords(list[ContourRecord]):
    """The contours of a file; ``scores`` holds any frame scores the same file carried."""

    def __init__(self, contours: Iterable[ContourRecord] = (), scores: Iterable[ScoreRecord] = ()) -> None:
        super().__init__(contours)
        self.scores: list[ScoreRecord] = list(scores)


class Problems:
    """Collects (location, message) pairs, up to a cap, and raises them together."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.dropped = 0

    def add(self, location: str, message: str) -> None:
        if len(self.items) < _MAX_PROBLEMS:
            self.items.append((location, message))
        else:
            self.dropped += 1

    def raise_if_any(self, source: str) -> None:
        if self.dropped:
            self.items.append(("…", f"{self.dropped} more problems not listed"))
        if self.items:
            raise FormatError(self.items, source=source)


def int_cell(text: str, name: str, where: str, problems: Problems, *, minimum: int | None = None) -> int | None:
    try:
        number = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        problems.add(where, f"{name} {text!r} is not an integer")
        return None
    return checked_int(number, name, where, problems, minimum=minimum)


def checked_int(value: Any, name: str, where: str, problems: Problems, *, minimum: int | None = None) -> int | None:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(where, f"{name} {value!r} is not an integer")
        return None
    if minimum is not None and value < minimum:
        problems.add(where, f"{name} {value} is below {minimum}")
        return None
    return value


def file_text(path_or_file: str | os.PathLike[str] | IO[Any]) -> tuple[str, str]:
    """Whole file as text (UTF-8, a BOM dropped) and a name for messages; import files are small."""
    if isinstance(path_or_file, (str, os.PathLike)):
        source = os.fspath(path_or_file)
        with open(path_or_file, "rb") as handle:
            data: Any = handle.read()
    else:
        source = str(getattr(path_or_file, "name", "") or "")
        data = path_or_file.read()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise FormatError([("file", f"not UTF-8 text (byte {error.start})")], source=source) from None
    return data.removeprefix("\ufeff"), source


# --- COCO ---------------------------------------------------------------------------------------------


def read_coco(path_or_file: str | os.PathLike[str] | IO[Any]) -> ContourRecords:
    """Polygons of a COCO instance-segmentation file, plus frame scores from images' ``"scores"``.

    An image names its frame by ``(video_id, frame_index)`` when it has both keys (as Pleura's export
    does), else by its ``id`` taken as the platform's frame id. ``category_id`` is the class id; an
    annotation's ``annotator`` key, when present, its author. RLE masks (``iscrowd`` 1) are refused.
    Each polygon becomes one record and is checked against its image's size.
    """
    text, source = file_text(path_or_file)
    problems = Problems()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        problems.add(f"line {error.lineno}", f"not valid JSON: {error.msg} (column {error.colno})")
        problems.raise_if_any(source)
    except RecursionError:  # "[[[[…" a hundred thousand deep: no COCO file nests like that
        problems.add("file", TOO_DEEP)
        problems.raise_if_any(source)
    if not isinstance(document, dict):
        problems.add("file", "the top level must be a JSON object")
        problems.raise_if_any(source)
    for section in ("images", "annotations", "categories"):
        if not isinstance(document.get(section), list):
            problems.add(section, "missing or not a list")
    problems.raise_if_any(source)

    category_ids = set()
    for index, category in enumerate(document["categories"]):
        cid = checked_int(category.get("id") if isinstance(category, dict) else None, "id",
                         f"categories[{index}]", problems, minimum=0)
        if cid is not None:
            category_ids.add(cid)

    images: dict[int, tuple[FrameKey, int, int]] = {}
    scores: list[ScoreRecord] = []
    for index, image in enumerate(document["images"]):
        where = f"images[{index}]"
        parsed = _coco_image(image, where, problems)
        if parsed is None:
            continue
        image_id, key, width, height = parsed
        if image_id in images:
            problems.add(where, f"image id {image_id} appears twice")
            continue
        images[image_id] = (key, width, height)
        scores.extend(_coco_scores(image.get("scores"), key, where, problems))

    contours: list[ContourRecord] = []
    for index, annotation in enumerate(document["annotations"]):
        contours.extend(_coco_annotation(annotation, f"annotations[{index}]", images, category_ids, problems))
    problems.raise_if_any(source)
    return ContourRecords(contours, scores)


def _coco_image(image: Any, where: str, problems: Problems) -> tuple[int, FrameKey, int, int] | None:
    if not isinstance(image, dict):
        problems.add(where, "must be an object")
        return None
    image_id = checked_int(image.get("id"), "id", where, problems)
    width = checked_int(image.get("width"), "width", where, problems, minimum=1)
    height = checked_int(image.get("height"), "height", where, problems, minimum=1)
    key: FrameKey | None = image_id
    if "video_id" in image and "frame_index" in image:
        vid = checked_int(image["video_id"], "video_id", where, problems, minimum=1)
        frame_index = checked_int(image["frame_index"], "frame_index", where, problems, minimum=0)
        key = (vid, frame_index) if vid is not None and frame_index is not None else None
    if image_id is None or width is None or height is None or key is None:
        return None
    return image_id, key, width, height


def _coco_scores(raw: Any, key: FrameKey, where: str, problems: Problems) -> list[ScoreRecord]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(f"{where}.scores", "must be a list")
        return []
    out = []
    for index, item in enumerate(raw):
        at = f"{where}.scores[{index}]"
        if not isinstance(item, dict):
            problems.add(at, "must be an object")
            continue
        score = checked_int(item.get("score"), "score", at, problems)
        if score is not None and not 0 <= score <= MAX_SCORE:
            problems.add(at, f"score {score} outside 0–{MAX_SCORE}")
            continue
        annotator = annotator_name(item.get("annotator"), at, problems)
        if score is not None:
            out.append(ScoreRecord(frame=key, video_id=None, annotator=annotator, score=score, location=at))
    return out


def _coco_annotation(annotation: Any, where: str, images: Mapping[int, tuple[FrameKey, int, int]],
                     category_ids: set[int], problems: Problems) -> list[ContourRecord]:
    if not isinstance(annotation, dict):
        problems.add(where, "must be an object")
        return []
    image_id = annotation.get("image_id")
    if image_id is None or image_id not in images:  # (None is never an image id)
        problems.add(where, f"image_id {image_id!r} is not among the images")
        return []
    class_id = annotation.get("category_id")
    if class_id not in category_ids:
        problems.add(where, f"category_id {class_id!r} is not among the categories")
        return []
    if annotation.get("iscrowd", 0) not in (0, False):
        problems.add(where, "RLE masks (iscrowd 1) are not supported; give polygons")
        return []
    segmentation = annotation.get("segmentation")
    if not isinstance(segmentation, list) or not segmentation:
        problems.add(f"{where}.segmentation", "must be a non-empty list of polygons [x1, y1, x2, y2, ...]")
        return []
    annotator = annotator_name(annotation.get("annotator"), where, problems)
    key, width, height = images[image_id]
    out = []
    for index, flat in enumerate(segmentation):
        at = f"{where}.segmentation[{index}]"
        if not isinstance(flat, list) or len(flat) % 2:
            problems.add(at, "a polygon is a flat list [x1, y1, x2, y2, ...] of even length")
            continue
        vertices = [flat[k:k + 2] for k in range(0, len(flat), 2)]
        record = _polygon_record(vertices, key, annotator, class_id, width, height, at, problems)
        if record is not None:
            out.append(record)
    return out


def _polygon_record(vertices: Any, key: FrameKey, annotator: str | None, class_id: int, width: int,
                    height: int, where: str, problems: Problems) -> ContourRecord | None:
    found = polygon_problems(vertices, width=width, height=height)
    for message in found:
        problems.add(where, message)
    if found:
        return None
    return ContourRecord(frame=key, annotator=annotator, class_id=class_id,
                         vertices=tuple((float(x), float(y)) for x, y in vertices), location=where)


def annotator_name(value: Any, where: str, problems: Problems) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.add(where, f"annotator must be a username, got {value!r}")
        return None
    return value.strip() or None


# --- LabelMe ------------------------------------------------------------------------------------------


def read_labelme_folder(path: str | os.PathLike[str], *,
                        class_ids: Mapping[str, int] | None = None) -> ContourRecords:
    """Polygons of every LabelMe JSON under ``path`` (a folder, searched recursively).

    A file's frame comes from its place: ``<video_id>/<frame_index>.json`` (as the LabelMe export lays
    them out). Labels map to class ids through ``class_ids``, else the folder's ``classes.json``
    ({id: name}, written by the export), else the default class names; a label that is a number is
    taken as the class id. A shape's ``description``, when set, is its annotator. The export's
    ``findings.json`` is skipped (findings import from the score CSV).
    """
    root = Path(path)
    if not root.is_dir():
        raise FormatError([(str(root), "not a folder")], source=str(root))
    problems = Problems()
    mapping = dict(class_ids) if class_ids is not None else _labelme_classes(root, problems)
    contours: list[ContourRecord] = []
    for file in sorted(root.rglob("*.json")):
        relative = file.relative_to(root).as_posix()
        if relative in ("classes.json", "findings.json"):  # the export's class names and video findings
            continue
        contours.extend(_labelme_file(file, relative, mapping, problems))
    problems.raise_if_any(str(root))
    return ContourRecords(contours)


def _labelme_classes(root: Path, problems: Problems) -> dict[str, int]:
    classes_file = root / "classes.json"
    if not classes_file.is_file():
        return {name: cid for cid, name in DEFAULT_CLASS_NAMES.items()}
    try:
        raw = json.loads(classes_file.read_text(encoding="utf-8-sig"))
        return {str(name): int(cid) for cid, name in raw.items()}
    except (ValueError, AttributeError, TypeError, RecursionError):
        problems.add("classes.json", "must be an object {class id: name}")
        return {}


def _labelme_file(file: Path, relative: str, class_ids: Mapping[str, int],
                  problems: Problems) -> list[ContourRecord]:
    try:
        document = json.loads(file.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        problems.add(relative, "not UTF-8 text")
        return []
    except json.JSONDecodeError as error:
        problems.add(relative, f"not valid JSON: {error.msg} (line {error.lineno})")
        return []
    except RecursionError:
        problems.add(relative, TOO_DEEP)
        return []
    if not isinstance(document, dict) or not isinstance(document.get("shapes"), list):
        problems.add(relative, "not a LabelMe file: no 'shapes' list")
        return []
    width = checked_int(document.get("imageWidth"), "imageWidth", relative, problems, minimum=1)
    height = checked_int(document.get("imageHeight"), "imageHeight", relative, problems, minimum=1)
    key = _labelme_frame(file, relative, problems)
    if width is None or height is None or key is None:
        return []
    out = []
    for index, shape in enumerate(document["shapes"]):
        where = f"{relative}: shapes[{index}]"
        if not isinstance(shape, dict):
            problems.add(where, "must be an object")
            continue
        shape_type = shape.get("shape_type") or "polygon"
        if shape_type != "polygon":
            problems.add(where, f"shape_type {shape_type!r} is not supported (polygons only)")
            continue
        class_id = _labelme_class(shape.get("label"), class_ids, where, problems)
        annotator = annotator_name(shape.get("description"), where, problems)
        record = _polygon_record(shape.get("points"), key, annotator, class_id or 0, width, height, where,
                                 problems)
        if record is not None and class_id is not None:
            out.append(record)
    return out


def _labelme_frame(file: Path, relative: str, problems: Problems) -> FrameKey | None:
    try:
        video_id, frame_index = int(file.parent.name), int(file.stem)
    except ValueError:
        problems.add(relative, "cannot tell the frame: expected <video_id>/<frame_index>.json")
        return None
    if video_id < 1 or frame_index < 0:
        problems.add(relative, "cannot tell the frame: video id must be ≥ 1 and frame index ≥ 0")
        return None
    return video_id, frame_index


def _labelme_class(label: Any, class_ids: Mapping[str, int], where: str, problems: Problems) -> int | None:
    if isinstance(label, str) and label in class_ids:
        return class_ids[label]
    if isinstance(label, str) and label.strip().isdigit():
        return int(label)
    known = ", ".join(repr(name) for name in class_ids)
    problems.add(where, f"unknown label {label!r}; expected one of {known} or a class id")
    return None
