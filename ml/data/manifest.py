"""Frame manifests: which frames exist, where they live, and their labels.

A manifest is JSON Lines (``.jsonl`` / ``.ndjson`` / ``.json``) or CSV. Each row is either an image::

    {"image": "frames/p1_0001.png", "score": 2, "patient": "p1", "video": "p1_R1"}

or a frame of a video file::

    {"video": "videos/p1_R1.mp4", "frame": 12, "score": 2, "patient": "p1"}

Rules:

* ``patient`` (string) is required; ``score`` (integer 0..3) is optional (absent = unlabelled, for prediction).
* In an image row ``video`` is the *id* of the video the frame belongs to (default: the image's stem).
* In a video row (one with ``frame``) ``video`` is the *path* of the video file and the video id is
  ``video_id`` if given, else the file's stem. ``video_path`` may be used instead of ``video`` for the path.
* ``annotator`` (string) is optional; any other keys are kept in :attr:`ManifestRow.extra`.
* Relative paths are resolved against the manifest's folder.

Errors name the file and line: ``ManifestError: frames.jsonl:7: score must be an integer in 0..3, got 5``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml.scores import NUM_SCORES

__all__ = ["ManifestError", "ManifestRow", "parse_row", "read_manifest", "write_manifest"]

_KNOWN = {"image", "video", "video_path", "video_id", "frame", "score", "patient", "annotator"}
_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}


class ManifestError(ValueError):
    """A manifest row (or the file) is invalid; the message names the file and line."""


@dataclass(frozen=True)
class ManifestRow:
    """One labelled (or unlabelled) frame.

    Attributes:
        patient: patient id.
        video: video id (groups frames for video-level aggregation).
        score: integer score 0..3, or ``None`` when unlabelled.
        image: path of an image file (image rows).
        video_path: path of the video file (video rows).
        frame: frame index in ``video_path`` (video rows).
        annotator: optional annotator id.
        extra: any other columns, unchanged.
    """

    patient: str
    video: str
    score: int | None = None
    image: Path | None = None
    video_path: Path | None = None
    frame: int | None = None
    annotator: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if (self.image is None) == (self.video_path is None):
            raise ValueError("a ManifestRow needs exactly one of image or video_path")
        if self.video_path is not None and (self.frame is None or self.frame < 0):
            raise ValueError(f"video rows need a non-negative frame index, got {self.frame!r}")
        if self.score is not None and not 0 <= self.score < NUM_SCORES:
            raise ValueError(f"score must be in 0..{NUM_SCORES - 1}, got {self.score}")

    @property
    def source(self) -> Path:
        """The file holding the pixels (image or video)."""
        return self.image if self.image is not None else self.video_path  # type: ignore[return-value]

    @property
    def key(self) -> str:
        """A unique, stable frame identifier: ``"<path>"`` or ``"<path>#<frame>"``."""
        return str(self.image) if self.image is not None else f"{self.video_path}#{self.frame}"

    def to_dict(self, base: Path | None = None) -> dict[str, Any]:
        """Serialisable form; paths relative to ``base`` when given and they share a folder below the root
        (a manifest in ``/tmp/run`` names ``/data/v.mp4`` absolutely, not as ``../../data/v.mp4``)."""

        def rel(p: Path) -> str:
            if base is None:
                return str(p)
            try:
                if os.path.commonpath([p.absolute(), base.absolute()]) == p.absolute().anchor:
                    return str(p)
                return os.path.relpath(p, base)
            except ValueError:  # different drive (Windows)
                return str(p)

        out: dict[str, Any] = {}
        if self.image is not None:
            out["image"] = rel(self.image)
            out["video"] = self.video
        else:
            out["video"] = rel(self.video_path)  # type: ignore[arg-type]
            out["frame"] = self.frame
            out["video_id"] = self.video
        out["patient"] = self.patient
        if self.score is not None:
            out["score"] = self.score
        if self.annotator is not None:
            out["annotator"] = self.annotator
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "") or (isinstance(v, float) and math.isnan(v))


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"{what} must be an integer, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                raise ValueError(f"{what} must be an integer, got {value!r}") from None
            if f.is_integer():
                return int(f)
            raise ValueError(f"{what} must be an integer, got {value!r}") from None
    raise ValueError(f"{what} must be an integer, got {value!r}")


def _resolve(p: Any, base: Path, what: str) -> Path:
    if not isinstance(p, str) or not p.strip():
        raise ValueError(f"{what} must be a non-empty path string, got {p!r}")
    path = Path(p.strip())
    return path if path.is_absolute() else Path(os.path.normpath(base / path))


def parse_row(raw: Mapping[str, Any], base: Path | str = ".") -> ManifestRow:
    """Validate one raw row (dict from JSON / CSV) and resolve its paths against ``base``.

    Raises:
        ValueError: with a message saying what is wrong (no file / line; see :func:`read_manifest`).
    """
    if not isinstance(raw, Mapping):
        raise ValueError(f"row must be an object, got {type(raw).__name__}")
    base = Path(base)
    row = {k: v for k, v in raw.items() if not _blank(v)}
    if _blank(row.get("patient")):
        raise ValueError("missing 'patient'")
    patient = str(row["patient"]).strip()
    score = None
    if "score" in row:
        score = _as_int(row["score"], "score")
        if not 0 <= score < NUM_SCORES:
            raise ValueError(f"score must be an integer in 0..{NUM_SCORES - 1}, got {row['score']!r}")
    annotator = str(row["annotator"]).strip() if "annotator" in row else None
    extra = {k: v for k, v in raw.items() if k not in _KNOWN}
    has_image = "image" in row
    has_frame = "frame" in row
    if has_image and has_frame:
        raise ValueError("a row has either 'image' or 'video' + 'frame', not both")
    if has_image:
        image = _resolve(row["image"], base, "image")
        video = str(row.get("video", row.get("video_id", image.stem))).strip()
        return ManifestRow(
            patient=patient, video=video, score=score, image=image, annotator=annotator, extra=extra
        )
    if has_frame:
        path_value = row.get("video_path", row.get("video"))
        if path_value is None:
            raise ValueError("a row with 'frame' needs 'video' (the video file path)")
        video_path = _resolve(path_value, base, "video")
        frame = _as_int(row["frame"], "frame")
        if frame < 0:
            raise ValueError(f"frame must be >= 0, got {frame}")
        video = str(row.get("video_id", video_path.stem)).strip()
        return ManifestRow(
            patient=patient,
            video=video,
            score=score,
            video_path=video_path,
            frame=frame,
            annotator=annotator,
            extra=extra,
        )
    raise ValueError("a row needs 'image', or 'video' + 'frame'")


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """Read a JSON Lines or CSV manifest.

    Returns:
        The rows in file order, paths resolved against the manifest's folder.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ManifestError: on an unknown extension, invalid JSON, or an invalid row (message names the line;
            for CSV, line 1 is the header).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    base = path.parent
    suffix = path.suffix.lower()
    rows: list[ManifestRow] = []
    if suffix in _JSON_SUFFIXES:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                try:
                    raw = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ManifestError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
                try:
                    rows.append(parse_row(raw, base))
                except ValueError as exc:
                    raise ManifestError(f"{path}:{lineno}: {exc}") from None
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None:
                raise ManifestError(f"{path}:1: empty CSV (no header)")
            for raw in reader:
                lineno = reader.line_num
                if None in raw:
                    raise ManifestError(f"{path}:{lineno}: more cells than header columns")
                try:
                    rows.append(parse_row(raw, base))
                except ValueError as exc:
                    raise ManifestError(f"{path}:{lineno}: {exc}") from None
    else:
        raise ManifestError(f"{path}: unknown manifest extension {suffix!r} (use .jsonl or .csv)")
    return rows


def write_manifest(path: str | os.PathLike[str], rows: Iterable[ManifestRow]) -> Path:
    """Write ``rows`` as JSON Lines or CSV (by extension), paths relative to the manifest's folder.

    Returns:
        The written path.

    Raises:
        ManifestError: on an unknown extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _JSON_SUFFIXES and suffix != ".csv":
        raise ManifestError(f"{path}: unknown manifest extension {suffix!r} (use .jsonl or .csv)")
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent.absolute()
    dicts = [r.to_dict(base) for r in rows]
    if suffix in _JSON_SUFFIXES:
        with path.open("w", encoding="utf-8") as fh:
            for d in dicts:
                fh.write(json.dumps(d) + "\n")
    else:
        columns: list[str] = []
        for d in dicts:
            columns.extend(k for k in d if k not in columns)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(dicts)
    return path
