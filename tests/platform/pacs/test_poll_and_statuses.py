"""The periodic import (management command and task body) against Orthanc, results sent back without the
site's opt-in, the pseudonym search filter, and the receiver's refusal statuses."""

from __future__ import annotations

from datetime import date
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import highdicom as hd
import pydicom
import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from modelling.models import ModelKind, ModelVersion, VideoPrediction
from pacs.dicomweb import client_for
from pacs.models import DicomwebEndpoint, UidMapping
from pacs.receiver import (
    DATASET_DOES_NOT_MATCH,
    OUT_OF_RESOURCES,
    SOP_CLASS_NOT_SUPPORTED,
    SUCCESS,
    ReceiverConfig,
    store_handler,
)
from studies.ingest.pseudonyms import pseudonymous_code, pseudonymous_uid
from studies.models import Site, Video
from tests.platform.pacs.dicom_files import CT_IMAGE, US_MULTIFRAME, ct_image, dicom_bytes, us_multiframe
from tests.platform.pacs.orthanc import Orthanc


@pytest.mark.integration
@pytest.mark.slow
def test_poll_imports_new_us_once_and_push_without_opt_in(admin_client: APIClient, orthanc: Orthanc) -> None:
    today = date.today().strftime("%Y%m%d")
    source = us_multiframe(frames=6, patient_id="MRN-POLL")
    source.StudyDate = today
    other = ct_image(patient_id="MRN-POLL")  # same study, not ultrasound: skipped
    other.StudyInstanceUID, other.StudyDate = source.StudyInstanceUID, today
    for dataset in (source, other):
        orthanc.upload(dicom_bytes(dataset))
    site = Site.objects.create(name="General")
    endpoint = DicomwebEndpoint.objects.create(site=site, name="orthanc", qido_url=orthanc.dicomweb, auto_import=True,
                                               import_rule={"days": 2, "study_description": "lung"})
    out = StringIO()
    call_command("pacs_poll", stdout=out)
    assert "orthanc: 1 new, 0 already imported, 1 skipped, 0 errors" in out.getvalue()
    out = StringIO()
    call_command("pacs_poll", stdout=out)
    assert "orthanc: 0 new, 1 already imported, 1 skipped, 0 errors" in out.getvalue()
    endpoint.refresh_from_db()
    assert endpoint.last_polled_at is not None
    assert not UidMapping.objects.exists()  # the site did not opt in

    key = settings.PLEURA_PSEUDONYM_KEY
    code = pseudonymous_code("MRN-POLL", key=key)
    url = f"/api/pacs/endpoints/{endpoint.pk}/studies/"
    assert len(admin_client.get(url, {"patient": code}).json()["results"]) == 1
    assert admin_client.get(url, {"patient": "DCM-000000000000"}).json()["results"] == []

    video = Video.objects.get()
    version = ModelVersion.objects.create(kind=ModelKind.EMBEDDING, name="probe")
    VideoPrediction.objects.create(video=video, model_version=version, probabilities=[0, 1, 0, 0], score=1)
    pushed = admin_client.post(f"/api/pacs/endpoints/{endpoint.pk}/push/", {"video": video.pk}, format="json").json()
    assert pushed["reidentified"] is False and pushed["seg_uids"] == []
    study_uid = pseudonymous_uid(source.StudyInstanceUID, key=key)  # not re-identified: Pleura's own UIDs
    dicomweb = client_for(endpoint)
    found = [pydicom.Dataset.from_json(item) for item in dicomweb.search_for_instances(
        study_instance_uid=study_uid, search_filters={"SOPInstanceUID": pushed["sr_uid"]})]
    sr = hd.sr.ComprehensiveSR.from_dataset(dicomweb.retrieve_instance(
        study_uid, str(found[0].SeriesInstanceUID), pushed["sr_uid"]))
    assert sr.PatientID == code
    groups = sr.content.get_image_measurement_groups()
    assert len(groups) == 1 and groups[0].get_measurements()[0].value == 1
    assert groups[0].source_images[0].referenced_sop_instance_uid == pseudonymous_uid(source.SOPInstanceUID, key=key)


def _event(dataset: pydicom.Dataset, *, caller: str = "SCANNER") -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(AffectedSOPClassUID=dataset.SOPClassUID), dataset=dataset,
                           file_meta=dataset.file_meta, assoc=SimpleNamespace(requestor=SimpleNamespace(ae_title=caller)))


def test_receiver_statuses(tmp_path: Path) -> None:
    queued: list[tuple] = []
    config = ReceiverConfig(ae_title="PLEURA", port=0, spool=tmp_path / "spool", endpoints={"SCANNER": 7})
    handle = store_handler(config, enqueue=lambda *args, **kwargs: queued.append((args, kwargs)))
    assert handle(_event(ct_image())) == SOP_CLASS_NOT_SUPPORTED and ct_image().SOPClassUID == CT_IMAGE
    no_pixels = us_multiframe(frames=2)
    del no_pixels.PixelData
    assert handle(_event(no_pixels)) == DATASET_DOES_NOT_MATCH
    assert handle(_event(us_multiframe(frames=2))) == SUCCESS
    assert queued[0][1] == {"endpoint_id": 7} and Path(queued[0][0][1]).is_file()

    def broker_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker down")

    assert store_handler(config, enqueue=broker_down)(_event(us_multiframe(frames=2))) == OUT_OF_RESOURCES
    assert len(list(config.spool.iterdir())) == 1  # the refused one's spool file is gone
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    unwritable = ReceiverConfig(ae_title="PLEURA", port=0, spool=blocked / "spool", endpoints={"SCANNER": 7})
    assert store_handler(unwritable, enqueue=lambda *a, **k: None)(_event(us_multiframe(frames=2))) == OUT_OF_RESOURCES
    assert us_multiframe().SOPClassUID == US_MULTIFRAME
