"""Video findings read back from the image exports: COCO's top-level ``video_findings`` and the LabelMe ZIP's
``findings.json``, both lists of :func:`rows.finding_record` objects (``video_id``, ``finding``, ``present``,
``annotator``; ``video_name``, ``patient`` and ``validation_level`` are informative and ignored).

Kept apart from :mod:`.readers` (contours and scores); the platform writes them like the score CSV's findings.
Each reader checks every record and raises one :class:`FormatError` listing the problems; a file without
findings gives an empty list.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from .readers import TOO_DEEP, FormatError, Problems, annotator_name, checked_int, file_text
from .score_csv import FINDING_CODE, FindingRecord

__all__ = ["read_coco_findings", "read_finding_list", "read_labelme_findings"]


def read_coco_findings(path_or_file: str | os.PathLike[str] | IO[Any]) -> list[FindingRecord]:
    """The ``video_findings`` of a COCO file (Pleura's export writes them); ``[]`` when it has none."""
    text, source = file_text(path_or_file)
    return _document_findings(text, "video_findings", source)


def read_labelme_findings(folder: str | os.PathLike[str]) -> list[FindingRecord]:
    """The ``findings.json`` at the top of an unpacked LabelMe export; ``[]`` when there is none."""
    path = Path(folder) / "findings.json"
    if not path.is_file():
        return []
    text, source = file_text(path)
    return _document_findings(text, None, source)


def _document_findings(text: str, key: str | None, source: str) -> list[FindingRecord]:
    problems = Problems()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise FormatError([(f"line {error.lineno}", f"not valid JSON: {error.msg}")], source=source) from None
    except RecursionError:
        raise FormatError([("file", TOO_DEEP)], source=source) from None
    raw = document.get(key) if key is not None and isinstance(document, dict) else document
    if key is not None and raw is None:
        return []
    records = read_finding_list(raw, key or "findings", problems)
    problems.raise_if_any(source)
    return records


def read_finding_list(raw: Any, where: str, problems: Problems) -> list[FindingRecord]:
    """Finding records of a JSON list; each problem is added to ``problems`` with its place."""
    if not isinstance(raw, list):
        problems.add(where, "must be a list of findings")
        return []
    out: list[FindingRecord] = []
    seen: dict[tuple[int, str | None, str], int] = {}
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, dict):
            problems.add(at, "must be an object")
            continue
        video_id = checked_int(item.get("video_id"), "video_id", at, problems, minimum=1)
        code = item.get("finding")
        if not isinstance(code, str) or not FINDING_CODE.match(code.lower()):
            problems.add(at, f"finding {code!r} is not a finding code (e.g. b_lines)")
            code = None
        present = item.get("present")
        if not isinstance(present, bool):
            problems.add(at, f"present {present!r} is not true or false")
        annotator = annotator_name(item.get("annotator"), at, problems)
        if video_id is None or code is None or not isinstance(present, bool):
            continue
        identity = (video_id, annotator, code.lower())
        if identity in seen:
            problems.add(at, f"a second {code} finding for video {video_id} by {annotator} (first at "
                             f"{where}[{seen[identity]}])")
            continue
        seen[identity] = index
        out.append(FindingRecord(video_id=video_id, annotator=annotator, finding=code.lower(), present=present,
                                 location=at))
    return out
