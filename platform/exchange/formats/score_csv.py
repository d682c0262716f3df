"""Score tables: frame scores, video scores and video findings from a CSV, as plain records.

Columns (case-insensitive, extra columns ignored), per row one of:

* a frame score: ``score`` and ``frame_id``, or ``video_id`` + ``frame_index``;
* a video score: ``score`` and ``video_id`` alone (or ``label_type`` ``video_score``);
* a video finding: ``video_id``, ``finding`` (its code, e.g. ``b_lines``) and ``present`` (true / false,
  yes / no, 1 / 0), recognised by ``label_type`` ``video_finding`` or by a filled-in ``finding`` cell.

``annotator`` is optional everywhere. The platform's own CSV export reads back as is: its contour rows
are skipped. Nothing here touches the database (see :mod:`.readers` for the shared rules).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from ml.scores import MAX_SCORE

from .readers import FrameKey, Problems, ScoreRecord, file_text, int_cell

__all__ = ["FINDING_CODE", "FindingRecord", "ScoreRecords", "read_score_csv"]

#: What a finding code looks like (the vocabulary itself is the platform's).
FINDING_CODE = re.compile(r"^[a-z0-9_-]{1,32}$")
_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False, "t": True,
             "f": False}


@dataclass(frozen=True)
class FindingRecord:
    """One video finding to import: ``finding`` is the code (resolved by the platform)."""

    video_id: int
    annotator: str | None
    finding: str
    present: bool
    location: str = field(default="", compare=False)


class ScoreRecords(list[ScoreRecord]):
    """The scores of a table; ``findings`` holds the video findings the same table carried."""

    def __init__(self, scores: Iterable[ScoreRecord] = (), findings: Iterable[FindingRecord] = ()) -> None:
        super().__init__(scores)
        self.findings: list[FindingRecord] = list(findings)


def read_score_csv(path_or_file: str | os.PathLike[str] | IO[Any]) -> ScoreRecords:
    """Frame scores, video scores and video findings from a CSV (UTF-8, ``,`` ``;`` or tab separated,
    header required); see the module docstring for the columns."""
    text, source = file_text(path_or_file)
    problems = Problems()
    header_line = next((line for line in io.StringIO(text) if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    first_row = next((row for row in reader if any(cell.strip() for cell in row)), [])
    header = [name.strip().lower() for name in first_row]
    if not {"score", "finding"} & set(header) or not {"frame_id", "video_id"} & set(header):
        found = ", ".join(header) if header else "nothing"
        problems.add(f"line {max(reader.line_num, 1)}",
                     f"the header needs 'score' and 'frame_id' or 'video_id' (findings: 'finding', 'present' "
                     f"and 'video_id'); found {found}")
        problems.raise_if_any(source)
    column = {name: index for index, name in reversed(list(enumerate(header)))}
    records = ScoreRecords()
    first_seen: dict[tuple[Any, ...], int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        value = {name: cells[index].strip() if index < len(cells) else "" for name, index in column.items()}
        label_type = value.get("label_type", "")
        label: ScoreRecord | FindingRecord | None
        key: tuple[Any, ...]
        if label_type == "video_finding" or (not label_type and value.get("finding")):
            label = _finding_row(value, f"line {line}", problems)
            if label is None:
                continue
            key = ("finding", label.video_id, label.annotator, label.finding)
            target = f"{label.finding} finding for video {label.video_id} by"
        else:
            label = _score_row(value, f"line {line}", problems)
            if label is None:
                continue
            key, target = (label.frame, label.video_id, label.annotator), f"score for the same {_target(label)} by"
        if key in first_seen:
            problems.add(f"line {line}", f"a second {target} {label.annotator or 'the importer'} "
                                         f"(first on line {first_seen[key]})")
            continue
        first_seen[key] = line
        if isinstance(label, FindingRecord):
            records.findings.append(label)
        else:
            records.append(label)
    problems.raise_if_any(source)
    return records


def _finding_row(value: Mapping[str, str], where: str, problems: Problems) -> FindingRecord | None:
    before = len(problems.items) + problems.dropped
    video_id = None
    if not value.get("video_id"):
        problems.add(where, "a finding needs video_id")
    else:
        video_id = int_cell(value["video_id"], "video_id", where, problems, minimum=1)
    code = value.get("finding", "").lower()
    if not FINDING_CODE.match(code):
        problems.add(where, f"finding {value.get('finding', '')!r} is not a finding code (e.g. b_lines)")
    present = _BOOLEANS.get(value.get("present", "").lower())
    if present is None:
        problems.add(where, f"present {value.get('present', '')!r} is not true or false")
    if len(problems.items) + problems.dropped > before or video_id is None or present is None:
        return None
    return FindingRecord(video_id=video_id, annotator=value.get("annotator") or None, finding=code,
                         present=present, location=where)


def _score_row(value: Mapping[str, str], where: str, problems: Problems) -> ScoreRecord | None:
    label_type = value.get("label_type", "")
    if label_type == "contour":
        return None
    before = len(problems.items) + problems.dropped
    frame: FrameKey | None = None
    video_id: int | None = None
    if value.get("frame_id") and label_type != "video_score":
        frame = int_cell(value["frame_id"], "frame_id", where, problems, minimum=1)
    elif value.get("frame_index") and label_type != "video_score":
        if not value.get("video_id"):
            problems.add(where, "frame_index needs video_id too")
        else:
            vid = int_cell(value["video_id"], "video_id", where, problems, minimum=1)
            index = int_cell(value["frame_index"], "frame_index", where, problems, minimum=0)
            if vid is not None and index is not None:
                frame = (vid, index)
    elif value.get("video_id"):
        video_id = int_cell(value["video_id"], "video_id", where, problems, minimum=1)
    else:
        problems.add(where, "no frame_id, video_id + frame_index, or video_id")
    score = None
    if not value.get("score"):
        problems.add(where, "score missing")
    else:
        score = int_cell(value["score"], "score", where, problems)
        if score is not None and not 0 <= score <= MAX_SCORE:
            problems.add(where, f"score {score} outside 0–{MAX_SCORE}")
    if len(problems.items) + problems.dropped > before or score is None:
        return None
    return ScoreRecord(frame=frame, video_id=video_id, annotator=value.get("annotator") or None, score=score,
                       location=where)


def _target(record: ScoreRecord) -> str:
    if record.frame is None:
        return f"video {record.video_id}"
    if isinstance(record.frame, tuple):
        return f"frame {record.frame[1]} of video {record.frame[0]}"
    return f"frame {record.frame}"


