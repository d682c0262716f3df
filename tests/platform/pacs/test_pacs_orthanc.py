"""Round trip against a real PACS (Debian's Orthanc with DICOMweb): store a multi-frame US instance,
find and import it, score it, send SR and SEG back and read them from Orthanc."""

from __future__ import annotations

from io import BytesIO

import highdicom as hd
import numpy as np
import pydicom
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image
from rest_framework.test import APIClient

from annotations.models import SegmentationClass
from modelling.models import FramePrediction, ModelKind, ModelVersion, SegmentationPrediction, VideoPrediction
from pacs.dicomweb import client_for
from pacs.models import DicomwebEndpoint, ImportedInstance, UidMapping
from pacs.results import FRAME_SCORE, VIDEO_SCORE
from studies.ingest.pseudonyms import pseudonymous_code, pseudonymous_uid
from studies.models import Frame, Site, Video
from tests.platform.pacs.dicom_files import dicom_bytes, us_multiframe
from tests.platform.pacs.orthanc import Orthanc

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PATIENT = "MRN-0042"


def _endpoint(client: APIClient, orthanc: Orthanc, **extra: object) -> dict:
    Site.objects.get_or_create(name="General")
    answer = client.post("/api/pacs/endpoints/", {
        "site": "General", "name": "orthanc", "qido_url": orthanc.dicomweb, "auth": "basic", "username": "u",
        "secret": "s3cret", "keep_uid_mapping": True, **extra}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def _score(video: Video) -> None:
    """The cheap path other tests take: write the model's outputs as rows."""
    scorer = ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn")
    aggregator = ModelVersion.objects.create(kind=ModelKind.AGGREGATOR, name="uninorm")
    segmenter = ModelVersion.objects.create(kind=ModelKind.SEGMENTATION, name="ensemble")
    frames = list(Frame.objects.filter(video=video).order_by("index"))
    FramePrediction.objects.bulk_create(
        FramePrediction(frame=frame, model_version=scorer, probabilities=[0.1, 0.2, 0.3, 0.4], score=frame.index % 4)
        for frame in frames)
    VideoPrediction.objects.create(video=video, model_version=aggregator, probabilities=[0, 0, 1, 0], score=2)
    marker = SegmentationClass.objects.filter(index__gt=0).order_by("index").first()
    assert marker is not None
    mask = np.zeros((video.height, video.width), np.uint8)
    mask[10:30, 20:40] = marker.index
    buffer = BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    name = default_storage.save(f"test-masks/{video.pk}/3.png", ContentFile(buffer.getvalue()))
    SegmentationPrediction.objects.create(frame=frames[3], model_version=segmenter, mask=name)


def test_endpoint_api_is_admin_only_and_never_echoes_the_secret(admin_client: APIClient, orthanc: Orthanc,
                                                                 annotator) -> None:  # type: ignore[no-untyped-def]
    created = _endpoint(admin_client, orthanc)
    assert "secret" not in created and created["has_secret"] is True
    listed = admin_client.get("/api/pacs/endpoints/").json()
    assert listed[0]["name"] == "orthanc" and "s3cret" not in str(listed)
    other = APIClient()
    other.force_authenticate(annotator)
    assert other.get("/api/pacs/endpoints/").status_code == 403
    assert other.get("/api/pacs/uid-mappings/").status_code == 403
    assert other.get(f"/api/pacs/endpoints/{created['id']}/studies/").status_code == 403
    check = admin_client.post(f"/api/pacs/endpoints/{created['id']}/check/").json()
    assert check["ok"] is True  # Orthanc ignores the basic credentials here (authentication is off)
    DicomwebEndpoint.objects.filter(pk=created["id"]).update(qido_url="http://127.0.0.1:9/dicom-web")
    assert admin_client.post(f"/api/pacs/endpoints/{created['id']}/check/").json()["ok"] is False


def test_round_trip_search_import_score_push(admin_client: APIClient, orthanc: Orthanc) -> None:
    source = us_multiframe(frames=20, patient_id=PATIENT)
    orthanc.upload(dicom_bytes(source))
    endpoint = _endpoint(admin_client, orthanc)
    key = settings.PLEURA_PSEUDONYM_KEY

    found = admin_client.get(f"/api/pacs/endpoints/{endpoint['id']}/studies/",
                             {"date_from": "2026-11-01", "date_to": "2026-11-30", "modality": "US"})
    assert found.status_code == 200, found.content
    results = found.json()["results"]
    assert [r["study_uid"] for r in results] == [source.StudyInstanceUID]
    assert results[0]["patient"] == pseudonymous_code(PATIENT, key=key)
    assert PATIENT not in found.content.decode() and "Doe" not in found.content.decode()
    by_patient = admin_client.get(f"/api/pacs/endpoints/{endpoint['id']}/studies/", {"patient_id": "nobody"})
    assert by_patient.json()["results"] == []
    by_accession = admin_client.get(f"/api/pacs/endpoints/{endpoint['id']}/studies/", {"accession": "ACC-77"})
    assert len(by_accession.json()["results"]) == 1
    series = admin_client.get(f"/api/pacs/endpoints/{endpoint['id']}/studies/{source.StudyInstanceUID}/series/")
    assert [s["series_uid"] for s in series.json()["results"]] == [source.SeriesInstanceUID]

    body = {"study_uid": source.StudyInstanceUID, "series_uids": [source.SeriesInstanceUID]}
    first = admin_client.post(f"/api/pacs/endpoints/{endpoint['id']}/import/", body, format="json").json()
    assert len(first["imported"]) == 1 and first["errors"] == []
    again = admin_client.post(f"/api/pacs/endpoints/{endpoint['id']}/import/", body, format="json").json()
    assert again["imported"] == [] and again["already"] == 1  # an instance imported twice adds nothing
    assert Video.objects.count() == 1 and ImportedInstance.objects.count() == 1

    video = Video.objects.get(pk=first["imported"][0])
    assert video.frame_count == 20 and video.exam.patient.code == pseudonymous_code(PATIENT, key=key)
    stored = default_storage.open(video.source_file.name, "rb").read()
    assert PATIENT.encode() not in stored and b"Doe" not in stored and b"ACC-77" not in stored
    copy = pydicom.dcmread(BytesIO(stored))
    assert copy.SOPInstanceUID == pseudonymous_uid(source.SOPInstanceUID, key=key)
    mapping = {row.kind: row.original for row in UidMapping.objects.all()}
    assert mapping == {"patient": PATIENT, "study": source.StudyInstanceUID, "series": source.SeriesInstanceUID,
                       "instance": source.SOPInstanceUID}
    assert admin_client.get("/api/pacs/uid-mappings/").status_code == 200

    _score(video)
    pushed = admin_client.post(f"/api/pacs/endpoints/{endpoint['id']}/push/", {"video": video.pk}, format="json")
    assert pushed.status_code == 200, pushed.content
    result = pushed.json()
    assert result["reidentified"] is True and result["sr_uid"] and len(result["seg_uids"]) == 1

    dicomweb = client_for(DicomwebEndpoint.objects.get(pk=endpoint["id"]))
    in_study = {_sop_uid(item): item for item in dicomweb.search_for_instances(
        study_instance_uid=source.StudyInstanceUID)}
    assert {source.SOPInstanceUID, result["sr_uid"], *result["seg_uids"]} <= set(in_study)
    _check_sr(dicomweb, source, result["sr_uid"])
    _check_seg(dicomweb, source, result["seg_uids"][0])


def _sop_uid(item: dict) -> str:
    return str(pydicom.Dataset.from_json(item).SOPInstanceUID)


def _retrieve(dicomweb, source: pydicom.Dataset, uid: str) -> pydicom.Dataset:  # type: ignore[no-untyped-def]
    series = [pydicom.Dataset.from_json(item) for item in dicomweb.search_for_instances(
        study_instance_uid=source.StudyInstanceUID, search_filters={"SOPInstanceUID": uid})]
    return dicomweb.retrieve_instance(source.StudyInstanceUID, str(series[0].SeriesInstanceUID), uid)


def _check_sr(dicomweb, source: pydicom.Dataset, uid: str) -> None:  # type: ignore[no-untyped-def]
    sr = hd.sr.ComprehensiveSR.from_dataset(_retrieve(dicomweb, source, uid))
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"
    assert sr.PatientID == PATIENT and sr.StudyInstanceUID == source.StudyInstanceUID
    report = sr.content
    assert isinstance(report, hd.sr.MeasurementReport)
    assert report[0].ConceptNameCodeSequence[0].CodeValue == "126000"  # TID 1500 Imaging Measurement Report
    groups = report.get_image_measurement_groups()
    assert len(groups) == 21  # the video and its 20 frames
    values = {}
    for group in groups:
        measurement = group.get_measurements()[0]
        image = group.source_images[0]
        assert image.referenced_sop_instance_uid == source.SOPInstanceUID
        frames = image.referenced_frame_numbers
        values[(measurement.name.value, tuple(frames or ()))] = measurement.value
    assert values[(VIDEO_SCORE.value, ())] == 2
    assert values[(FRAME_SCORE.value, (4,))] == 3  # frame index 3 scored 3
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID


def _check_seg(dicomweb, source: pydicom.Dataset, uid: str) -> None:  # type: ignore[no-untyped-def]
    seg = hd.seg.Segmentation.from_dataset(_retrieve(dicomweb, source, uid))
    assert seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4" and seg.PatientID == PATIENT
    assert seg.number_of_segments == 1
    reference = seg.ReferencedSeriesSequence[0]
    assert reference.SeriesInstanceUID == source.SeriesInstanceUID
    instance = reference.ReferencedInstanceSequence[0]
    assert instance.ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert instance.ReferencedSOPClassUID == source.SOPClassUID and int(instance.ReferencedFrameNumber) == 4
    description = seg.get_segment_description(1)
    assert description.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
    assert description.segmented_property_type.value == "39607008"  # SNOMED CT: lung
    assert seg.pixel_array.shape == (64, 64) and int(seg.pixel_array.sum()) == 20 * 20  # one frame, one segment
