"""The training manifest ``ml.data.read_manifest`` reads: JSON Lines, one row per frame score.

Rows carry ``image`` (the frame's PNG as laid out by the image exports), ``score``, ``patient``,
``video`` (the video id as a string; frames are grouped by it for video-level aggregation and
patient-level splits), ``frame_index`` and ``annotator``. The frame's index is ``frame_index``, not
``frame``: in a manifest, ``frame`` marks a *video-file* row and cannot be combined with ``image``.
Where the video's findings are known, rows also carry ``finding_<code>`` (0 / 1, e.g. ``finding_b_lines``),
the columns ``ml.data`` reads for COVID-BLUeS.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from .rows import ChunkBuffer, LabelRow, frame_image_name, json_compact

__all__ = ["write_manifest"]


def write_manifest(rows: Iterable[LabelRow], *, image_prefix: str = "",
                   findings: Mapping[int, Mapping[str, bool]] | None = None) -> Iterator[bytes]:
    """Stream the manifest of the frame scores among ``rows`` (other label types are skipped).

    ``image_prefix`` is prepended to ``frames/<video_id>/<frame_index:06d>.png``, e.g. the folder the
    frames will be unpacked to, relative to the manifest. ``findings`` ({video id: {code: present}}, e.g.
    the consensus of the video's raters) adds ``finding_<code>`` columns to the rows of those videos.
    """
    columns = {video: {f"finding_{code}": int(present) for code, present in sorted(known.items())}
               for video, known in (findings or {}).items()}
    buffer = ChunkBuffer()
    for row in rows:
        if row["label_type"] != "frame_score":
            continue
        if row["frame_index"] is None:
            raise ValueError(f"frame score {row['label_id']} has no frame_index")
        line = json_compact({
            "image": image_prefix + frame_image_name(row["video_id"], row["frame_index"]),
            "score": row["score"],
            "patient": row["patient"],
            "video": str(row["video_id"]),
            "frame_index": row["frame_index"],
            "annotator": row["annotator"],
            **columns.get(row["video_id"], {}),
        })
        chunk = buffer.add(line + "\n")
        if chunk:
            yield chunk
    tail = buffer.flush()
    if tail:
        yield tail
