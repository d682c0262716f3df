"""DICOM cine loops: frames decoded, identifying tags stripped before storage, patients by pseudonym."""

from __future__ import annotations

import pydicom
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from pydicom.data import get_testdata_file

from studies.ingest import IngestError
from studies.ingest.pseudonyms import pseudonymous_code
from studies.models import Video, VideoFormat
from studies.services import patient_upsert, video_ingest
from tests.platform.conftest import media_files

pytestmark = pytest.mark.django_db

# Multi-frame ultrasound files shipped by pydicom's test data (package pydicom-data).
PALETTE_2_FRAMES = "OBXXXX1A_2frame.dcm"
PALETTE_RLE_2_FRAMES = "OBXXXX1A_rle_2frame.dcm"
JPEG_120_FRAMES = "color3d_jpeg_baseline.dcm"


def dicom_file(name: str):
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {name} not installed (pydicom-data)")
    from pathlib import Path

    return Path(path)


@pytest.mark.parametrize("name", [PALETTE_2_FRAMES, PALETTE_RLE_2_FRAMES])
def test_multiframe_ultrasound_is_decoded(name, patient):
    path = dicom_file(name)
    header = pydicom.dcmread(path, stop_before_pixels=True)
    video = video_ingest(source=path, original_name=name, patient=patient, probe="linear").video
    assert video.format == VideoFormat.DICOM
    assert video.frame_count == int(header.NumberOfFrames) == 2
    assert (video.width, video.height) == (int(header.Columns), int(header.Rows))
    assert video.probe == "linear"


def test_long_jpeg_cine_loop_keeps_its_frame_rate(patient):
    path = dicom_file(JPEG_120_FRAMES)
    video = video_ingest(source=path, original_name=JPEG_120_FRAMES, patient=patient).video
    assert video.frame_count == 120
    assert video.fps == pytest.approx(1000 / 33.333, rel=1e-3)  # FrameTime is 33.333 ms


def test_identifying_tags_are_stripped_before_storage(patient, media_root):
    path = dicom_file(PALETTE_2_FRAMES)
    original = pydicom.dcmread(path)
    assert str(original.PatientName) and original.get("StudyDate")

    video = video_ingest(source=path, original_name="scan.dcm", patient=patient).video

    stored = pydicom.dcmread(default_storage.path(video.source_file.name))
    assert str(stored.PatientName) == patient.code and stored.PatientID == patient.code
    assert stored.PatientIdentityRemoved == "YES"
    for keyword in ("PatientBirthDate", "InstitutionName", "InstitutionAddress", "ReferringPhysicianName",
                    "StudyDate", "SeriesDate", "ContentDate", "AcquisitionDateTime", "StudyTime",
                    "AccessionNumber", "OperatorsName", "OtherPatientIDs"):
        assert not stored.get(keyword), keyword  # removed (X) or kept empty (Z, PS3.15 Table E.1-1)
    assert not any(element.tag.is_private for element in stored.iterall())
    assert not any(element.VR in ("PN", "DA", "DT", "TM") and element.keyword != "PatientName" and element.value
                   for element in stored.iterall())
    assert stored.StudyInstanceUID != original.StudyInstanceUID
    assert stored.SOPInstanceUID != original.SOPInstanceUID
    # the original identifiers appear nowhere in what was stored
    raw = b"".join(p.read_bytes() for p in media_files(media_root))
    for value in (str(original.PatientName), str(original.PatientID)):
        if len(value) >= 4:
            assert value.encode() not in raw


def test_dicom_maps_to_patient_by_pseudonymous_code(site):
    path = dicom_file(PALETTE_2_FRAMES)
    patient_id = str(pydicom.dcmread(path, stop_before_pixels=True).PatientID)
    code = pseudonymous_code(patient_id, key=settings.PLEURA_PSEUDONYM_KEY)
    assert patient_id not in code
    patient = patient_upsert(site=site, code=code)

    video = video_ingest(source=path, original_name="scan.dcm", site=site).video

    assert video.exam.patient == patient


def test_dicom_of_unknown_patient_is_refused(site, media_root):
    path = dicom_file(PALETTE_2_FRAMES)
    with pytest.raises(IngestError, match=r"^scan.dcm: unknown patient: no patient with pseudonymous code DCM-"):
        video_ingest(source=path, original_name="scan.dcm", site=site)
    assert Video.objects.count() == 0 and media_files(media_root) == []


def test_pseudonyms_are_stable_and_keyed():
    assert pseudonymous_code("12345", key="k1") == pseudonymous_code(" 12345 ", key="k1")
    assert pseudonymous_code("12345", key="k1") != pseudonymous_code("12345", key="k2")
    with pytest.raises(ValueError, match="PLEURA_PSEUDONYM_KEY"):
        pseudonymous_code("12345", key="")


def test_dicom_without_image_is_refused(tmp_path, patient, media_root):
    path = dicom_file("rtplan.dcm") if get_testdata_file("rtplan.dcm", download=False) else None
    assert path is not None
    with pytest.raises(IngestError, match="holds no image"):
        video_ingest(source=path, original_name="plan.dcm", patient=patient)
    assert media_files(media_root) == []
