"""The COVID-BLUeS folder layout as manifest rows (what ``python -m ml.manifest DIR`` writes).

Layout: ``lus_videos/patient_<ID>_<POINT>[_n].mp4`` and ``severity.csv`` with ``video_file`` (the file's
stem), ``Severity Score`` (0-3, one expert score per video) and, when present, ``A-lines`` / ``B-lines``
(``yes`` / ``no``). Only video scores exist, so every kept frame carries its video's score (a weak frame
label). The patient id is the file name's ``patient_<ID>`` (the code the platform's importer gives the
patient, so manifests built here and exported by the platform agree), the BLUE point goes in ``lung_zone``
and the findings in ``finding_a_lines`` / ``finding_b_lines`` (0 / 1).

    videos, problems = read_covid_blues(Path("covid-blues"))
    rows = covid_blues_rows(videos, frame_step=5)
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ml.scores import NUM_SCORES

from .manifest import ManifestRow
from .video_io import video_frame_count

__all__ = ["FINDING_COLUMNS", "CovidBluesVideo", "covid_blues_rows", "read_covid_blues"]

VIDEO_NAME = re.compile(r"^(?P<patient>patient_[^_]+)_(?P<point>[^_]+)(?:_\d+)?$")
#: severity.csv column -> manifest column (0 / 1)
FINDING_COLUMNS = {"A-lines": "finding_a_lines", "B-lines": "finding_b_lines"}
_YES_NO = {"yes": 1, "y": 1, "true": 1, "1": 1, "no": 0, "n": 0, "false": 0, "0": 0}


@dataclass(frozen=True)
class CovidBluesVideo:
    """One scored video: ``video`` is the file's stem, ``patient`` ``patient_<ID>``, ``point`` the BLUE point,
    ``findings`` ``{"finding_a_lines": 0 | 1, ...}`` (the columns present and filled in)."""

    video: str
    patient: str
    point: str
    path: Path
    score: int
    findings: dict[str, int] = field(default_factory=dict)


def _severity_rows(path: Path, problems: list[str]) -> dict[str, tuple[int | None, dict[str, int]]]:
    """``{video stem: (score or None, findings)}`` from ``severity.csv``."""
    out: dict[str, tuple[int | None, dict[str, int]]] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"video_file", "Severity Score"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))} (have {reader.fieldnames})")
        for row in reader:
            where = f"{path.name}:{reader.line_num}"
            video = Path((row["video_file"] or "").strip()).stem
            text = (row["Severity Score"] or "").strip()
            score: int | None = None
            if text:
                try:
                    value = float(text)
                except ValueError:
                    value = float("nan")
                if not (value.is_integer() and 0 <= value < NUM_SCORES):
                    problems.append(f"{where}: severity score {text!r} is not 0-{NUM_SCORES - 1}; video skipped")
                    continue
                score = int(value)
            findings: dict[str, int] = {}
            for column, name in FINDING_COLUMNS.items():
                cell = (row.get(column) or "").strip().lower()
                if cell in _YES_NO:
                    findings[name] = _YES_NO[cell]
                elif cell:
                    problems.append(f"{where}: {column} {row[column]!r} is not yes/no; left out")
            out[video] = (score, findings)
    return out


def read_covid_blues(folder: str | Path, *, max_patients: int | None = None) -> tuple[list[CovidBluesVideo], list[str]]:
    """The scored videos of a COVID-BLUeS folder, sorted by file name, and the problems met (one line each:
    a video without a score or a severity row, a file name that names no patient, a row without a video).

    Args:
        folder: holds ``lus_videos/`` and ``severity.csv``.
        max_patients: keep only the first ``n`` patients (sorted by id), for quick trials.

    Raises:
        FileNotFoundError: if ``severity.csv`` or ``lus_videos/`` is missing.
        ValueError: if ``severity.csv`` lacks ``video_file`` or ``Severity Score``.
    """
    folder = Path(folder)
    csv_path, video_dir = folder / "severity.csv", folder / "lus_videos"
    for needed in (csv_path, video_dir):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} not found (expected the COVID-BLUeS layout: lus_videos/*.mp4, "
                                    "severity.csv)")
    problems: list[str] = []
    severity = _severity_rows(csv_path, problems)
    videos: list[CovidBluesVideo] = []
    seen: set[str] = set()
    for path in sorted(video_dir.glob("*.mp4")):
        seen.add(path.stem)
        match = VIDEO_NAME.match(path.stem)
        if match is None:
            problems.append(f"{path.name}: name is not patient_<ID>_<POINT>[_n].mp4; skipped")
            continue
        if path.stem not in severity:
            problems.append(f"{path.name}: no row in severity.csv; skipped")
            continue
        score, findings = severity[path.stem]
        if score is None:
            problems.append(f"{path.name}: no severity score; skipped")
            continue
        videos.append(CovidBluesVideo(video=path.stem, patient=match["patient"], point=match["point"], path=path,
                                      score=score, findings=findings))
    problems += [f"severity.csv: {name} has no video file" for name in sorted(set(severity) - seen)]
    if max_patients is not None:
        if max_patients < 1:
            raise ValueError(f"max_patients must be >= 1, got {max_patients}")
        keep = set(sorted({v.patient for v in videos}, key=_patient_order)[:max_patients])
        videos = [v for v in videos if v.patient in keep]
    return videos, problems


def _patient_order(patient: str) -> tuple[int, str]:
    """Numeric ids in numeric order (``patient_9`` before ``patient_10``)."""
    tail = patient.rsplit("_", 1)[-1]
    return (int(tail), patient) if tail.isdigit() else (1 << 62, patient)


def covid_blues_rows(
    videos: Sequence[CovidBluesVideo],
    *,
    frame_step: int = 1,
    frame_count: Callable[[Path], int] = video_frame_count,
) -> list[ManifestRow]:
    """Video rows (frames ``0, frame_step, 2 frame_step, ...`` of every video), each with its video's score,
    the patient, ``lung_zone`` and the findings as extra columns.

    Raises:
        ValueError: if ``frame_step < 1``.
        FileNotFoundError: if a video cannot be decoded (see :func:`ml.data.video_frame_count`).
    """
    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    rows = []
    for v in videos:
        extra = {"lung_zone": v.point, **v.findings}
        rows += [ManifestRow(patient=v.patient, video=v.video, score=v.score, video_path=v.path, frame=t, extra=extra)
                 for t in range(0, frame_count(v.path), frame_step)]
    return rows
