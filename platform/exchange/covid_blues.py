"""Import of the COVID-BLUeS layout (Maastricht UMC+, CC BY-NC-ND 4.0; Wiedemann et al., IEEE JBHI 2025).

Layout: `lus_videos/patient_<ID>_<POINT>[_2].mp4`, `severity.csv` (one expert score 0–3 per video,
A-/B-line flags, comments) and `clinical_variables.csv` (one row per patient, `cov_test` 1 = positive).
Decoding runs in worker threads; only the calling thread touches the database.

The expert's row becomes a video score (with the comment) and video findings: A-lines and B-lines as
given (yes/no), and the findings the comment clearly names as present (`findings_in_comment`). A finding
the comment does not name is not recorded: absence from free text is not a label.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from accounts.models import Role, User
from accounts.services import user_ensure
from annotations.models import LabelSource, VideoScore
from annotations.services import video_findings_import
from ml.hashing import file_sha256
from studies.ingest import IngestError, decode_to_storage, detect_format
from studies.ingest.sniff import HEAD_BYTES
from studies.models import CovidStatus, Probe, Video
from studies.services import exam_ensure, patient_upsert, site_ensure, video_record

DEFAULT_SITE = "Maastricht UMC+ (COVID-BLUeS)"
EXPERT_USERNAME = "covid-blues-expert"
EXPERT_LEVEL = 4
SCANNER = "Philips Lumify"
VIDEO_NAME = re.compile(r"^(?P<patient>patient_\d+)_(?P<zone>[LR][1-3])(?:_\d+)?$")
Progress = Callable[[int, int, str], None]


@dataclass
class SeverityRow:
    score: int
    a_lines: bool | None
    b_lines: bool | None
    comment: str


@dataclass
class ImportSummary:
    patients: int = 0
    videos_created: int = 0
    videos_existing: int = 0
    frames_created: int = 0
    scores_written: int = 0
    findings_written: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # imported anyway (e.g. no clinical_variables.csv)
    video_ids: list[int] = field(default_factory=list)  # every video of the folder, new or already there

    @property
    def videos(self) -> int:
        return self.videos_created + self.videos_existing


def _yes_no(value: str | None) -> bool | None:
    text = (value or "").strip().lower()
    return {"yes": True, "no": False}.get(text)


#: Free-text cues of findings (lower case); irregular pleura needs "pleura" and one of its qualifiers.
COMMENT_CUES = {"consolidation": ("consolidat",), "white_lung": ("white lung",), "effusion": ("effusion",)}
PLEURA_QUALIFIERS = ("irregular", "broken", "interrupt", "thicken", "fragment")
#: A clause with one of these does not state a finding as present ("no single B-lines", "white lung?").
HEDGES = re.compile(r"\?|\b(?:no|not|without|possib\w*|maybe|suspect\w*|unclear|doubtful)\b")


def findings_in_comment(comment: str) -> dict[str, bool]:
    """The findings a comment clearly names as present, {code: True}, read clause by clause (split at
    commas, semicolons, full stops and line ends); a negated or hedged clause names nothing."""
    found: dict[str, bool] = {}
    for clause in re.split(r"[,;.\n]", comment.lower()):
        if HEDGES.search(clause):
            continue
        for code, cues in COMMENT_CUES.items():
            if any(cue in clause for cue in cues):
                found[code] = True
        if "pleura" in clause and any(word in clause for word in PLEURA_QUALIFIERS):
            found["irregular_pleura"] = True
    return found


def row_findings(row: SeverityRow) -> dict[str, bool]:
    """The expert's findings of one severity.csv row: the A-/B-line columns, then the comment's."""
    given = {code: value for code, value in (("a_lines", row.a_lines), ("b_lines", row.b_lines)) if value is not None}
    return {**findings_in_comment(row.comment), **given}


def _number(text: str) -> float | int | None:
    text = text.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else number


def read_severity(path: Path) -> dict[str, SeverityRow]:
    """video stem -> expert score row; raises ValueError naming the file and line on bad rows."""
    rows: dict[str, SeverityRow] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"video_file", "Severity Score"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            score = _number(row["Severity Score"] or "")
            if score is None or int(score) != score or not 0 <= score <= 3:
                raise ValueError(f"{path.name} line {line}: severity score {row['Severity Score']!r} is not 0–3")
            rows[Path(row["video_file"].strip()).stem] = SeverityRow(
                score=int(score), a_lines=_yes_no(row.get("A-lines")), b_lines=_yes_no(row.get("B-lines")),
                comment=(row.get("comments") or "").strip(),
            )
    return rows


def read_clinical_variables(path: Path) -> dict[str, dict]:
    """patient code (`patient_<id>`) -> clinical variables (numbers parsed, blanks as null)."""
    patients: dict[str, dict] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if "patient_id" not in (reader.fieldnames or []):
            raise ValueError(f"{path.name}: missing column patient_id")
        for row in reader:
            identifier = _number(row["patient_id"])
            if identifier is None:
                continue
            patients[f"patient_{identifier}"] = {key: _number(value or "") for key, value in row.items()
                                                 if key != "patient_id"}
    return patients


def covid_status_of(variables: Mapping[str, float | int | None]) -> str:
    by_test: dict[float | None, str] = {1: CovidStatus.POSITIVE, 0: CovidStatus.NEGATIVE}
    return by_test.get(variables.get("cov_test"), CovidStatus.UNKNOWN)



def covid_blues_import(*, root: Path, site_name: str = DEFAULT_SITE, workers: int = 2,
                       progress: Progress | None = None) -> ImportSummary:
    """Import (or complete a previous import of) a COVID-BLUeS folder; safe to re-run."""
    videos_dir = root / "lus_videos"
    if not videos_dir.is_dir():
        raise ValueError(f"{root}: no lus_videos/ folder, not a COVID-BLUeS layout")
    severity = read_severity(root / "severity.csv")
    files = sorted(videos_dir.glob("*.mp4"))
    summary = ImportSummary()
    clinical: dict[str, dict] = {}
    if (root / "clinical_variables.csv").is_file():
        clinical = read_clinical_variables(root / "clinical_variables.csv")
    else:  # optional: a folder of videos and scores is worth importing without it
        summary.warnings.append("no clinical_variables.csv: patients imported without clinical variables "
                                "(COVID status unknown)")

    site = site_ensure(name=site_name)
    expert = user_ensure(username=EXPERT_USERNAME, role=Role.CLINICIAN, validation_level=EXPERT_LEVEL)
    codes = {m["patient"] for f in files if (m := VIDEO_NAME.match(f.stem))} | set(clinical)
    with transaction.atomic():
        patients = {code: patient_upsert(site=site, code=code, covid_status=covid_status_of(clinical.get(code, {})),
                                         clinical_variables=clinical.get(code, {}))
                    for code in sorted(codes)}
    summary.patients = len(patients)

    pending: list[tuple[Path, str, Future]] = []
    done = 0
    with ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="pleura-decode") as pool:
        for path in files:
            match = VIDEO_NAME.match(path.stem)
            if match is None:
                summary.errors.append(f"{path.name}: name does not follow patient_<ID>_<L1..R3>[_n].mp4")
                continue
            sha256 = file_sha256(path)
            existing = Video.objects.filter(sha256=sha256).first()
            if existing is not None:
                summary.videos_existing += 1
                summary.video_ids.append(existing.pk)
                _write_labels(existing, severity.get(path.stem), expert, summary)
                done += 1
                if progress:
                    progress(done, len(files), path.name)
                continue
            try:
                with path.open("rb") as handle:
                    fmt = detect_format(handle.read(HEAD_BYTES), name=path.name)
            except IngestError as error:
                summary.errors.append(str(error))
                continue
            pending.append((path, sha256, pool.submit(decode_to_storage, path, fmt, sha256=sha256, name=path.name)))

        for path, sha256, future in pending:
            match = VIDEO_NAME.match(path.stem)
            assert match is not None
            try:
                decoded = future.result()
                with transaction.atomic():
                    result = video_record(decoded=decoded, exam=exam_ensure(patient=patients[match["patient"]]),
                                          sha256=sha256, original_name=path.name, lung_zone=match["zone"],
                                          probe=Probe.CONVEX, scanner_model=SCANNER)
                    _write_labels(result.video, severity.get(path.stem), expert, summary)
            except IngestError as error:
                summary.errors.append(str(error))
            else:
                summary.video_ids.append(result.video.pk)
                if result.created:
                    summary.videos_created += 1
                    summary.frames_created += result.video.frame_count
                else:
                    summary.videos_existing += 1
            done += 1
            if progress:
                progress(done, len(files), path.name)
    missing_scores = sorted(set(severity) - {f.stem for f in files})
    summary.errors.extend(f"severity.csv: no video file for {stem}" for stem in missing_scores)
    return summary


def _write_labels(video: Video, row: SeverityRow | None, expert: User, summary: ImportSummary) -> None:
    """The expert's score and findings of a video, exactly as the CSV says (a re-run converges)."""
    if row is None:
        return
    with transaction.atomic():
        VideoScore.objects.update_or_create(
            video=video, annotator=expert,
            defaults={"score": row.score, "a_lines": row.a_lines, "b_lines": row.b_lines, "comment": row.comment,
                      "validation_level": EXPERT_LEVEL, "source": LabelSource.HUMAN},
        )
        summary.scores_written += 1
        summary.findings_written += video_findings_import(annotator=expert, video_id=video.pk,
                                                          findings=row_findings(row), replace=True)

