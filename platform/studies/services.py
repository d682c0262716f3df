"""Writes on studies: sites, patients, exams and video ingestion.

`video_ingest` is the one way a file becomes a Video: the admin, the API, the commands and the
Celery ingest task all call it. It is idempotent by SHA-256 and leaves no rows and no files behind
when it refuses a file.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import User
from ml.hashing import file_sha256

from .ingest import DecodedVideo, IngestError, decode_to_storage, delete_stored, detect_format
from .ingest.pseudonyms import pseudonymous_code, pseudonymous_file_name
from .ingest.sniff import HEAD_BYTES
from .ingest.store import SOURCE_SUFFIX, redeidentify_stored_copy
from .models import (
    CovidStatus,
    Exam,
    Frame,
    IngestStatus,
    Patient,
    Probe,
    Site,
    Video,
    VideoAssignment,
    VideoFormat,
)
from .signals import videos_ingested

CHUNK_BYTES = 1 << 20
FRAME_BATCH = 1000


@dataclass(frozen=True)
class IngestResult:
    video: Video
    created: bool  # False when the same bytes were imported before


def site_ensure(*, name: str) -> Site:
    site, _ = Site.objects.get_or_create(name=name)
    return site


def patient_upsert(*, site: Site, code: str, covid_status: str = CovidStatus.UNKNOWN,
                   clinical_variables: dict | None = None) -> Patient:
    """Create or update a patient by its pseudonymous code within the site."""
    if covid_status not in CovidStatus.values:
        raise ValueError(f"unknown COVID-19 status {covid_status!r}; expected one of {', '.join(CovidStatus.values)}")
    patient, created = Patient.objects.get_or_create(
        site=site, code=code,
        defaults={"covid_status": covid_status, "clinical_variables": clinical_variables or {}},
    )
    if not created:
        patient.covid_status = covid_status
        if clinical_variables is not None:
            patient.clinical_variables = clinical_variables
        patient.save(update_fields=["covid_status", "clinical_variables"])
    return patient


def exam_ensure(*, patient: Patient, exam_date: date | None = None, operator: str = "") -> Exam:
    """The patient's exam on that date (one exam per patient and date is enough for imports)."""
    exam = Exam.objects.filter(patient=patient, date=exam_date).order_by("id").first()
    return exam or Exam.objects.create(patient=patient, date=exam_date, operator=operator)


@contextmanager
def _local_copy(source: BinaryIO | Path, *, name: str) -> Iterator[tuple[Path, str]]:
    """Yield a local path to the bytes and their SHA-256, streaming uploads to a temporary file."""
    if isinstance(source, Path):
        if not source.is_file():
            raise IngestError(name, "the file does not exist")
        yield source, file_sha256(source)
        return
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(prefix="pleura-ingest-", suffix=Path(name).suffix) as spooled:
        for chunk in iter(lambda: source.read(CHUNK_BYTES), b""):
            digest.update(chunk)
            spooled.write(chunk)
        spooled.flush()
        yield Path(spooled.name), digest.hexdigest()


def _read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(HEAD_BYTES)


def _dicom_patient_code(path: Path, *, name: str) -> str:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        header = pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=["PatientID"])
    except (InvalidDicomError, OSError, ValueError, EOFError) as error:
        raise IngestError(name, f"the DICOM file could not be read: {error}") from error
    patient_id = str(header.get("PatientID", "") or "").strip()
    if not patient_id:
        raise IngestError(name, "the DICOM file has no PatientID, so it cannot be mapped to a patient; "
                                "give the patient explicitly")
    return pseudonymous_code(patient_id, key=settings.PLEURA_PSEUDONYM_KEY)


def video_ingest(*, source: BinaryIO | Path, original_name: str, patient: Patient | None = None,
                 site: Site | None = None, exam: Exam | None = None, lung_zone: str = "",
                 probe: str = Probe.CONVEX, scanner_model: str = "") -> IngestResult:
    """Import one ultrasound file (MP4/MOV/AVI/GIF or multi-frame DICOM) as a Video with its frames.

    The patient comes from `exam`, else `patient`, else (DICOM only) the pseudonymous code derived
    from the file's PatientID within `site`. Raises IngestError naming the file and the reason.
    The video is named by a pseudonym (`pseudonymous_file_name`): the uploaded `original_name` only
    reaches the uploader's error messages and, where PLEURA_KEEP_UPLOAD_NAMES is on, `upload_name`.
    """
    name = Path(original_name).name or "upload"
    with _local_copy(source, name=name) as (path, sha256):
        existing = Video.objects.filter(sha256=sha256).first()
        if existing is not None:
            return IngestResult(video=existing, created=False)
        fmt = detect_format(_read_head(path), name=name)
        exam, pseudonym = _resolve_exam(path, fmt, name=name, exam=exam, patient=patient, site=site)
        decoded = decode_to_storage(path, fmt, sha256=sha256, name=name, dicom_pseudonym=pseudonym)
    stored_name = pseudonymous_file_name(sha256=sha256, patient_code=exam.patient.code, lung_zone=lung_zone,
                                         suffix=SOURCE_SUFFIX[fmt], key=settings.PLEURA_PSEUDONYM_KEY)
    return video_record(decoded=decoded, exam=exam, sha256=sha256, original_name=stored_name,
                        upload_name=name if settings.PLEURA_KEEP_UPLOAD_NAMES else "",
                        lung_zone=lung_zone, probe=probe, scanner_model=scanner_model)


def _resolve_exam(path: Path, fmt: VideoFormat, *, name: str, exam: Exam | None, patient: Patient | None,
                  site: Site | None) -> tuple[Exam, str]:
    if exam is not None:
        return exam, exam.patient.code
    if patient is not None:
        return exam_ensure(patient=patient), patient.code
    if fmt != VideoFormat.DICOM:
        raise IngestError(name, "no patient given: only DICOM files name their patient")
    if site is None:
        raise IngestError(name, "no patient or site given to map the DICOM patient to")
    code = _dicom_patient_code(path, name=name)
    found = Patient.objects.filter(site=site, code=code).first()
    if found is None:
        raise IngestError(name, f"unknown patient: no patient with pseudonymous code {code} at site "
                                f"{site.name!r}; create the patient first")
    return exam_ensure(patient=found), code


def video_record(*, decoded: DecodedVideo, exam: Exam, sha256: str, original_name: str, upload_name: str = "",
                 lung_zone: str = "", probe: str = Probe.CONVEX, scanner_model: str = "") -> IngestResult:
    """Write the Video and Frame rows for stored frames, atomically; on failure delete the files.

    `original_name` is what people see, so it must already be pseudonymous (`video_ingest` derives one;
    the COVID-BLUeS importer passes the dataset's own patient_<ID>_<zone> names).

    A concurrent import of the same bytes wins the unique sha256 race: this one then removes its
    files and returns the existing video.
    """
    stored = [*decoded.frame_names, decoded.source_name]
    fps = decoded.meta.fps if decoded.meta.fps > 0 else 25.0  # containers without a rate: assume 25
    try:
        with transaction.atomic():
            video = Video.objects.create(
                exam=exam, lung_zone=lung_zone, probe=probe,
                scanner_model=scanner_model or decoded.meta.scanner_model, fps=fps,
                frame_count=decoded.frame_count, width=decoded.meta.width, height=decoded.meta.height,
                format=decoded.format, source_file=decoded.source_name, original_name=original_name,
                upload_name=upload_name,
                sha256=sha256, ingest_status=IngestStatus.READY, burned_in_masked=decoded.burned_in_masked,
            )
            Frame.objects.bulk_create(
                (Frame(video=video, index=index, image=image) for index, image in enumerate(decoded.frame_names)),
                batch_size=FRAME_BATCH,
            )
    except IntegrityError:
        delete_stored(stored)
        existing = Video.objects.filter(sha256=sha256).first()
        if existing is None:
            raise
        return IngestResult(video=existing, created=False)
    except BaseException:
        delete_stored(stored)
        raise
    transaction.on_commit(lambda: videos_ingested.send(sender=Video, video_ids=[video.pk]))
    return IngestResult(video=video, created=True)



@dataclass(frozen=True)
class DicomCopiesCheck:
    rewritten: int  # stored copies de-identified again
    burned_in: list[int]  # ids of videos whose copy declares burned-in annotation no mask cleaned


def dicom_copies_deidentify() -> DicomCopiesCheck:
    """Bring DICOM copies stored by older versions to the PS3.15 basic profile (idempotent), and list
    the videos imported before burned-in annotation was refused, for people to review."""
    rewritten, burned_in = 0, []
    videos = Video.objects.filter(format=VideoFormat.DICOM).select_related("exam__patient").order_by("pk")
    for video in videos.iterator(chunk_size=FRAME_BATCH):
        if not video.source_file.name:
            continue
        check = redeidentify_stored_copy(video.source_file.name, pseudonym=video.exam.patient.code)
        rewritten += check.rewritten
        if check.name != video.source_file.name:
            Video.objects.filter(pk=video.pk).update(source_file=check.name)
        if check.burned_in and not video.burned_in_masked:
            burned_in.append(video.pk)
    return DicomCopiesCheck(rewritten=rewritten, burned_in=burned_in)


def videos_assign(*, annotator: User, videos: Iterable[Video]) -> int:
    """Put videos on an annotator's worklist (already assigned ones are left as they are)."""
    rows = [VideoAssignment(video=video, annotator=annotator) for video in videos]
    before = VideoAssignment.objects.filter(annotator=annotator).count()
    VideoAssignment.objects.bulk_create(rows, ignore_conflicts=True)
    return VideoAssignment.objects.filter(annotator=annotator).count() - before


def videos_unassign(*, annotator: User, videos: Iterable[Video]) -> int:
    """Take videos off an annotator's worklist (their labels stay); returns how many were removed."""
    deleted, _ = VideoAssignment.objects.filter(annotator=annotator, video__in=list(videos)).delete()
    return deleted
