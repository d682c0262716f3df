"""Recognise a file by its content, never by its extension (a text file renamed .mp4 is refused)."""

from __future__ import annotations

from studies.models import VideoFormat

from .errors import IngestError

HEAD_BYTES = 132  # DICOM's "DICM" magic sits after a 128-byte preamble


def detect_format(head: bytes, *, name: str) -> VideoFormat:
    """Return the container of a file from its first `HEAD_BYTES` bytes.

    Raises IngestError when the bytes are not a video or DICOM file Pleura reads.
    """
    if len(head) >= 132 and head[128:132] == b"DICM":
        return VideoFormat.DICOM
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        return VideoFormat.MOV if brand == b"qt  " else VideoFormat.MP4
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return VideoFormat.MOV
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return VideoFormat.AVI
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return VideoFormat.GIF
    if not head:
        raise IngestError(name, "the file is empty")
    preview = head[:16].decode("ascii", errors="replace")
    looks_textual = all(32 <= b < 127 or b in (9, 10, 13) for b in head[:64])
    kind = "a text file" if looks_textual else "an unrecognised binary file"
    raise IngestError(
        name, f"not a video (MP4, MOV, AVI, GIF) or DICOM file: the content looks like {kind} "
              f"(starts with {preview!r})",
    )
