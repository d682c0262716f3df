"""Talking DICOMweb to a PACS with `dicomweb-client`: search (QIDO-RS), retrieve (WADO-RS), store (STOW-RS).

No database writes here; results leave this module with patient IDs already replaced by their keyed
pseudonym (the PACS's identifiers never reach a browser).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import requests
from dicomweb_client.api import DICOMwebClient
from django.conf import settings
from pydicom.dataset import Dataset

from core.errors import InvalidInput
from studies.ingest.pseudonyms import pseudonymous_code

from .models import AuthKind, DicomwebEndpoint

#: The SOP classes Pleura imports as videos (PS3.4 B.5): Ultrasound Multi-frame and Ultrasound Image Storage.
US_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.3.1", "1.2.840.10008.5.1.4.1.1.6.1")
TIMEOUT_S = 30
STUDY_FIELDS = ("StudyDate", "StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                "NumberOfStudyRelatedInstances")


def client_for(endpoint: DicomwebEndpoint, service: str = "qido") -> DICOMwebClient:
    """A client for one service ('qido', 'wado' or 'stow') at its URL, with the endpoint's credentials."""
    session = requests.Session()
    if endpoint.auth == AuthKind.BASIC:
        session.auth = (endpoint.username, endpoint.secret)
    elif endpoint.auth == AuthKind.BEARER:
        session.headers["Authorization"] = f"Bearer {endpoint.secret}"
    url = {"wado": endpoint.wado_url, "stow": endpoint.stow_url}.get(service) or endpoint.qido_url
    return DICOMwebClient(url=url.rstrip("/"), session=session, timeout=TIMEOUT_S)


@dataclass(frozen=True)
class StudyFound:
    study_uid: str
    patient: str  # keyed pseudonym of the PACS's PatientID
    date: str
    description: str
    modalities: list[str]
    series: int
    instances: int


@contextmanager
def pacs_answer(endpoint: DicomwebEndpoint, doing: str) -> Iterator[None]:
    """Turn the PACS's refusals and silences (HTTP errors, timeouts, unreadable answers) into InvalidInput."""
    try:
        yield
    except (requests.RequestException, ValueError) as error:
        raise InvalidInput(f"the PACS {endpoint.name!r} failed to {doing}: {error}") from error


def study_filters(*, date_from: date | None = None, date_to: date | None = None, patient_id: str = "",
                  accession: str = "", modality: str = "US") -> dict[str, str]:
    """QIDO-RS match keys for a study search (a date range is 'from-to', either end open)."""
    filters: dict[str, str] = {}
    if modality:
        filters["ModalitiesInStudy"] = modality
    if date_from or date_to:
        start = date_from.strftime("%Y%m%d") if date_from else ""
        end = date_to.strftime("%Y%m%d") if date_to else ""
        filters["StudyDate"] = f"{start}-{end}"
    if patient_id:
        filters["PatientID"] = patient_id
    if accession:
        filters["AccessionNumber"] = accession
    return filters


def studies_search(endpoint: DicomwebEndpoint, filters: dict[str, str], *, limit: int = 100,
                   pseudonym: str = "") -> list[StudyFound]:
    """Studies matching `filters`, their patient shown only as its keyed pseudonym; with `pseudonym`, only
    that patient's (the PACS knows only real IDs, so this filter applies here, after hashing)."""
    with pacs_answer(endpoint, "search studies"):
        found = client_for(endpoint).search_for_studies(
            search_filters=filters, fields=list(STUDY_FIELDS), limit=limit)
    results = []
    for item in found:
        study = Dataset.from_json(item)
        patient_id = str(study.get("PatientID", "") or "").strip()
        modalities = study.get("ModalitiesInStudy", [])
        found_study = StudyFound(
            study_uid=str(study.get("StudyInstanceUID", "")),
            patient=pseudonymous_code(patient_id, key=settings.PLEURA_PSEUDONYM_KEY) if patient_id else "",
            date=str(study.get("StudyDate", "") or ""),
            description=str(study.get("StudyDescription", "") or ""),
            modalities=[modalities] if isinstance(modalities, str) else [str(m) for m in modalities],
            series=int(study.get("NumberOfStudyRelatedSeries", 0) or 0),
            instances=int(study.get("NumberOfStudyRelatedInstances", 0) or 0),
        )
        if not pseudonym or found_study.patient == pseudonym.strip():
            results.append(found_study)
    return results


@dataclass(frozen=True)
class SeriesFound:
    series_uid: str
    modality: str
    description: str
    instances: int


def series_search(endpoint: DicomwebEndpoint, study_uid: str) -> list[SeriesFound]:
    with pacs_answer(endpoint, "search series"):
        found = client_for(endpoint).search_for_series(
            study_instance_uid=study_uid, fields=["SeriesDescription", "NumberOfSeriesRelatedInstances"])
    series = [Dataset.from_json(item) for item in found]
    return [SeriesFound(series_uid=str(s.get("SeriesInstanceUID", "")), modality=str(s.get("Modality", "") or ""),
                        description=str(s.get("SeriesDescription", "") or ""),
                        instances=int(s.get("NumberOfSeriesRelatedInstances", 0) or 0)) for s in series]


@dataclass(frozen=True)
class InstanceRef:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class: str


def instances_search(endpoint: DicomwebEndpoint, study_uid: str, series_uid: str) -> list[InstanceRef]:
    with pacs_answer(endpoint, "search instances"):
        found = client_for(endpoint).search_for_instances(study_instance_uid=study_uid,
                                                          series_instance_uid=series_uid)
    refs = []
    for item in found:
        instance = Dataset.from_json(item)
        refs.append(InstanceRef(study_uid=study_uid, series_uid=series_uid,
                                sop_uid=str(instance.get("SOPInstanceUID", "")),
                                sop_class=str(instance.get("SOPClassUID", ""))))
    return refs


def instance_retrieve(endpoint: DicomwebEndpoint, ref: InstanceRef) -> Dataset:
    with pacs_answer(endpoint, "send an instance"):
        return client_for(endpoint, "wado").retrieve_instance(ref.study_uid, ref.series_uid, ref.sop_uid)


def datasets_store(endpoint: DicomwebEndpoint, datasets: list[Dataset]) -> None:
    """STOW-RS; raises InvalidInput with the PACS's answer when it refuses."""
    with pacs_answer(endpoint, "store the results"):
        client_for(endpoint, "stow").store_instances(datasets=datasets)


def connection_check(endpoint: DicomwebEndpoint) -> str:
    """'' when a one-study QIDO-RS search answers, else why not."""
    try:
        client_for(endpoint).search_for_studies(limit=1)
    except (requests.RequestException, ValueError) as error:
        return str(error) or type(error).__name__
    return ""
