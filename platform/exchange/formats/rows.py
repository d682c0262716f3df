"""The plain rows the platform hands to the writers, and the chunked-output plumbing they share.

Rows are TypedDicts (plain ``dict`` at run time) so the platform can build them straight from
``QuerySet.values()`` without copying into objects. The writers consume them once, in one pass, and
yield ``bytes`` chunks of about :data:`CHUNK_SIZE`, which the platform streams as the response body.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Callable, Container, Iterable, Iterator
from typing import Any, Literal, TypedDict

try:  # optional accelerator: ujson is in the lock file (via autobahn); the standard library is the fallback
    import ujson
except ImportError:  # pragma: no cover - depends on the environment
    ujson = None  # type: ignore[assignment]  # mypy types an optional import as the module, never None

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_CLASS_NAMES",
    "LABEL_COLUMNS",
    "ChunkBuffer",
    "FrameRef",
    "LabelRow",
    "ZipStream",
    "buffered",
    "finding_record",
    "findings_json",
    "frame_image_name",
    "json_compact",
]

#: Target size of each yielded chunk: large enough to keep per-chunk overhead low, small enough for
#: constant memory and a responsive download.
CHUNK_SIZE = 64 * 1024

#: Segmentation classes as seeded by ``annotations`` migration 0002 (class id = marker score + 1).
DEFAULT_CLASS_NAMES: dict[int, str] = {
    0: "background",
    1: "score 0 marker (A-lines)",
    2: "score 1 marker",
    3: "score 2 marker",
    4: "score 3 marker",
}


#: Free-text cells a person controls (names, comments): a spreadsheet would run a leading = + - @ as a
#: formula (OWASP "CSV injection"), so CSV exports prefix such cells with a quote.
FORMULA_TEXT_COLUMNS = ("site", "patient", "video_name", "annotator", "finding", "comment")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: object) -> object:
    """``'=cmd'`` for ``=cmd``: a text cell a spreadsheet would evaluate is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class LabelRow(TypedDict):
    """One label (frame score, video score, video finding or contour) with the context a researcher
    filters on."""

    label_type: Literal["frame_score", "video_score", "video_finding", "contour"]
    label_id: int
    site: str
    patient: str
    covid_status: str | None
    exam_id: int
    video_id: int
    video_name: str
    lung_zone: str | None
    probe: str | None
    frame_id: int | None  # None for video scores and findings
    frame_index: int | None  # None for video scores and findings
    width: int
    height: int
    annotator: str  # username
    annotator_id: int
    validation_level: int  # 1–4
    source: Literal["human", "model"]
    score: int | None  # 0–3; None for contours and findings
    finding: str | None  # finding code (e.g. "b_lines"), video findings only
    present: bool | None  # whether the finding was seen, video findings only
    comment: str | None  # the rater's free text, video scores only ("" when none)
    segmentation_class: int | None  # 0–4, contours only (1..4 = marker of score 0..3)
    vertices: list[list[float]] | None  # [[x, y], ...] in image pixels, contours only
    version: int
    created_at: str  # ISO 8601
    updated_at: str  # ISO 8601


class FrameRef(TypedDict):
    """A frame as the image exports need it: where its PNG is now and where it goes in the archive."""

    frame_id: int
    video_id: int
    frame_index: int
    width: int
    height: int
    patient: str
    image_path: str  # local filesystem path of the frame's PNG
    image_name: str  # archive-relative name, see frame_image_name()


#: Column order of the tabular exports: every key of LabelRow, the long ``vertices`` last so spreadsheets
#: stay readable (and the CSV writer can append it without re-scanning it).
LABEL_COLUMNS: tuple[str, ...] = (*(key for key in LabelRow.__annotations__ if key != "vertices"), "vertices")


def _json_default(value: Any) -> Any:
    """Datetimes and dates (should a caller pass them instead of ISO strings) become ISO 8601."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _stdlib_compact() -> Callable[[Any], str]:
    return json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False,
                            default=_json_default).encode


def _ujson_compact(value: Any) -> str:
    try:
        return ujson.dumps(value, ensure_ascii=False, escape_forward_slashes=False, allow_nan=False,
                           reject_bytes=True, default=_json_default)
    except OverflowError as error:  # ujson's word for NaN / infinity; match the standard library's ValueError
        raise ValueError(f"not strict JSON: {error}") from None


#: Compact, strict JSON of one value (NaN and infinity raise ValueError); ujson when installed.
json_compact: Callable[[Any], str] = _ujson_compact if ujson is not None else _stdlib_compact()


def frame_image_name(video_id: int, frame_index: int) -> str:
    """The archive-relative name every export uses for a frame's PNG: ``frames/<video>/<index:06d>.png``."""
    return f"frames/{video_id}/{frame_index:06d}.png"


def finding_record(row: LabelRow) -> dict[str, Any]:
    """A video finding as the image exports carry it (COCO's ``video_findings``, the ZIPs' findings.json)."""
    return {"video_id": row["video_id"], "video_name": row["video_name"], "patient": row["patient"],
            "annotator": row["annotator"], "validation_level": row["validation_level"], "finding": row["finding"],
            "present": row["present"]}


def findings_json(findings: Iterable[LabelRow], video_ids: Container[int]) -> bytes:
    """``findings.json`` of an archive: the records of the findings of the videos in it, as a JSON list."""
    return json_compact([finding_record(row) for row in findings if row["video_id"] in video_ids]).encode("utf-8")


class ChunkBuffer:
    """Collects text pieces and hands them back as one UTF-8 chunk once about ``size`` characters wait."""

    def __init__(self, size: int = CHUNK_SIZE) -> None:
        self._size = size
        self._parts: list[str] = []
        self._pending = 0

    def add(self, text: str) -> bytes | None:
        """Queue ``text``; returns a chunk to yield when the buffer is full, else None."""
        self._parts.append(text)
        self._pending += len(text)
        return self.flush() if self._pending >= self._size else None

    def flush(self) -> bytes:
        """Everything queued so far (possibly b"")."""
        chunk = "".join(self._parts).encode("utf-8")
        self._parts.clear()
        self._pending = 0
        return chunk


class _Sink:
    """A write-only, unseekable file: zipfile then writes local headers with data descriptors."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the owner drains ``buffer``."""

    def close(self) -> None:
        """Nothing to close (zipfile never closes a file it was handed; this completes its protocol)."""


class ZipStream:
    """Builds a ZIP archive as a stream of chunks: each method is a generator of the bytes it produced.

    Memory stays bounded by one member's largest write plus :data:`CHUNK_SIZE`; members are never
    revisited, so the output can go straight to an HTTP response. Use ``yield from`` on every call and
    finish with ``yield from zs.close()`` (which writes the central directory).
    """

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, mode="w", allowZip64=True)
        self._date_time = time.localtime()[:6]

    def write_bytes(self, name: str, data: bytes, *, compress: bool = True) -> Iterator[bytes]:
        """Add a member from memory; ``compress`` False for already compressed data such as PNG."""
        info = self._info(name, compress)
        self._zip.writestr(info, data)
        yield from self._drain()

    def write_file(self, name: str, path: str | os.PathLike[str], *, compress: bool = False) -> Iterator[bytes]:
        """Copy a file into the archive a chunk at a time."""
        info = self._info(name, compress)
        info.file_size = os.path.getsize(path)  # lets zipfile decide on ZIP64 up front
        with open(path, "rb") as source, self._zip.open(info, mode="w") as target:
            while block := source.read(CHUNK_SIZE):
                target.write(block)
                yield from self._drain()
        yield from self._drain()

    def close(self) -> Iterator[bytes]:
        """Write the central directory and yield what is left."""
        self._zip.close()
        yield from self._drain(final=True)

    def _info(self, name: str, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def _drain(self, final: bool = False) -> Iterator[bytes]:
        buffer = self._sink.buffer
        if buffer and (final or len(buffer) >= CHUNK_SIZE):
            chunk = bytes(buffer)
            buffer.clear()
            yield chunk


def buffered(pieces: Iterator[str], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Join a stream of text pieces into UTF-8 chunks of about ``size``."""
    buffer = ChunkBuffer(size)
    for piece in pieces:
        chunk = buffer.add(piece)
        if chunk is not None:
            yield chunk
    tail = buffer.flush()
    if tail:
        yield tail

