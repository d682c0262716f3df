"""Writes of the PACS integration: endpoints, importing instances (pulled or pushed), sending results back.

Every instance goes through `studies.services.video_ingest`, the path file uploads take, so it is
de-identified (PS3.15) before anything is stored. Idempotency is by the instance's pseudonymised SOP
Instance UID (`ImportedInstance.uid`): an instance seen before is not even fetched again.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pydicom
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from pydicom.dataset import Dataset

from core.errors import InvalidInput
from studies.ingest.pseudonyms import pseudonymous_code, pseudonymous_uid
from studies.models import Patient, Site, Video
from studies.services import exam_ensure, patient_upsert, video_ingest

from .dicomweb import (
    US_SOP_CLASSES,
    InstanceRef,
    instance_retrieve,
    instances_search,
    series_search,
    studies_search,
    study_filters,
)
from .models import DicomwebEndpoint, ImportedInstance, ImportVia, UidKind, UidMapping

ENDPOINT_FIELDS = ("name", "qido_url", "wado_url", "stow_url", "auth", "username", "secret", "ae_title",
                   "keep_uid_mapping", "auto_import", "import_rule")


def endpoint_create(*, site: Site, **fields: object) -> DicomwebEndpoint:
    unknown = set(fields) - set(ENDPOINT_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown endpoint fields: {', '.join(sorted(unknown))}")
    _check_rule(fields.get("import_rule") or {})
    endpoint = DicomwebEndpoint(site=site, **fields)
    try:
        endpoint.full_clean()
    except ValidationError as error:
        raise InvalidInput("; ".join(error.messages)) from error
    endpoint.save()
    return endpoint


def _check_rule(rule: object) -> None:
    """The periodic job's rule: {"days": whole number >= 0, "study_description": text}, both optional."""
    if not isinstance(rule, dict) or set(rule) - {"days", "study_description"}:
        raise InvalidInput('import_rule takes only "days" and "study_description"')
    days = rule.get("days", 1)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
        raise InvalidInput("import_rule.days must be a whole number of days from 0 to 3650")
    if not isinstance(rule.get("study_description", ""), str):
        raise InvalidInput("import_rule.study_description must be text")


@dataclass
class ImportSummary:
    imported: list[int] = field(default_factory=list)  # new video ids
    already: int = 0  # instances imported before (nothing added)
    skipped: int = 0  # not ultrasound image storage
    errors: list[str] = field(default_factory=list)


def _patient_for(site: Site, patient_id: str) -> Patient:
    code = pseudonymous_code(patient_id, key=settings.PLEURA_PSEUDONYM_KEY)
    found = Patient.objects.filter(site=site, code=code).first()
    return found or patient_upsert(site=site, code=code)


def _mapping_record(site: Site, header: Dataset) -> None:
    key = settings.PLEURA_PSEUDONYM_KEY
    rows = [UidMapping(site=site, kind=UidKind.PATIENT, original=str(header.PatientID),
                       pseudonym=pseudonymous_code(str(header.PatientID), key=key))]
    for kind, keyword in ((UidKind.STUDY, "StudyInstanceUID"), (UidKind.SERIES, "SeriesInstanceUID"),
                          (UidKind.INSTANCE, "SOPInstanceUID")):
        original = str(header.get(keyword, "") or "")
        if original:
            rows.append(UidMapping(site=site, kind=kind, original=original,
                                   pseudonym=pseudonymous_uid(original, key=key)))
    UidMapping.objects.bulk_create(rows, ignore_conflicts=True)


def instance_ingest(path: Path, *, site: Site, endpoint: DicomwebEndpoint | None, via: str) -> tuple[Video, bool]:
    """Import one DICOM file (a WADO-RS download or a C-STORE spool file) as a video; (video, created).

    The patient is the keyed pseudonym of the file's PatientID at `site`, created when new. Where the
    endpoint's site opted in, the original patient ID and UIDs are kept in `UidMapping`.
    """
    header = pydicom.dcmread(str(path), stop_before_pixels=True)
    sop_uid = str(header.get("SOPInstanceUID", "") or "")
    if not sop_uid or not str(header.get("PatientID", "") or "").strip():
        raise InvalidInput("the instance has no SOP Instance UID or no Patient ID")
    uid = pseudonymous_uid(sop_uid, key=settings.PLEURA_PSEUDONYM_KEY)
    known = ImportedInstance.objects.filter(uid=uid).select_related("video").first()
    if known is not None:
        return known.video, False
    patient = _patient_for(site, str(header.PatientID).strip())
    with transaction.atomic():
        result = video_ingest(source=path, original_name="pacs.dcm", exam=exam_ensure(patient=patient))
        _, created = ImportedInstance.objects.get_or_create(
            uid=uid, defaults={"video": result.video, "endpoint": endpoint, "via": via})
        if endpoint is not None and endpoint.keep_uid_mapping:
            _mapping_record(site, header)
    return result.video, result.created and created


def _ref_imported(refs: list[InstanceRef]) -> set[str]:
    key = settings.PLEURA_PSEUDONYM_KEY
    pseudonyms = {pseudonymous_uid(ref.sop_uid, key=key): ref.sop_uid for ref in refs}
    return {pseudonyms[uid] for uid in ImportedInstance.objects.filter(uid__in=pseudonyms)
            .values_list("uid", flat=True)}


def series_import(endpoint: DicomwebEndpoint, study_uid: str, series_uids: list[str] | None = None) -> ImportSummary:
    """Import the US instances of the chosen series (all of the study's when None) over WADO-RS."""
    summary = ImportSummary()
    chosen = series_uids or [s.series_uid for s in series_search(endpoint, study_uid)]
    for series_uid in chosen:
        refs = instances_search(endpoint, study_uid, series_uid)
        seen = _ref_imported(refs)
        for ref in refs:
            if ref.sop_uid in seen:
                summary.already += 1
                continue
            if ref.sop_class not in US_SOP_CLASSES:
                summary.skipped += 1
                continue
            dataset = instance_retrieve(endpoint, ref)
            with tempfile.NamedTemporaryFile(prefix="pleura-pacs-", suffix=".dcm") as spooled:
                dataset.save_as(spooled.name, enforce_file_format=True)
                try:
                    video, created = instance_ingest(Path(spooled.name), site=endpoint.site, endpoint=endpoint,
                                                     via=ImportVia.DICOMWEB)
                except (InvalidInput, ValueError) as error:
                    summary.errors.append(f"{pseudonymous_uid(ref.sop_uid, key=settings.PLEURA_PSEUDONYM_KEY)}: "
                                          f"{error}")
                    continue
            if created:
                summary.imported.append(video.pk)
            else:
                summary.already += 1
    return summary


def endpoint_poll(endpoint: DicomwebEndpoint) -> ImportSummary:
    """The periodic job's work for one endpoint: import US studies of the last `import_rule.days` days
    (default 1) whose description contains `import_rule.study_description` (when given)."""
    rule = endpoint.import_rule or {}
    since = timezone.localdate() - timedelta(days=int(rule.get("days", 1)))
    wanted = str(rule.get("study_description", "")).lower()
    total = ImportSummary()
    for study in studies_search(endpoint, study_filters(date_from=since)):
        if wanted and wanted not in study.description.lower():
            continue
        part = series_import(endpoint, study.study_uid)
        total.imported += part.imported
        total.already += part.already
        total.skipped += part.skipped
        total.errors += part.errors
    DicomwebEndpoint.objects.filter(pk=endpoint.pk).update(last_polled_at=timezone.now())
    return total


def endpoints_poll() -> dict[str, ImportSummary]:
    return {endpoint.name: endpoint_poll(endpoint)
            for endpoint in DicomwebEndpoint.objects.filter(auto_import=True).select_related("site")}


def spooled_ingest(path: Path, *, endpoint_id: int) -> int | None:
    """Ingest a file the C-STORE receiver spooled, then delete it; returns the video id."""
    endpoint = DicomwebEndpoint.objects.select_related("site").get(pk=endpoint_id)
    try:
        video, _ = instance_ingest(path, site=endpoint.site, endpoint=endpoint, via=ImportVia.CSTORE)
    finally:
        path.unlink(missing_ok=True)
    return video.pk
