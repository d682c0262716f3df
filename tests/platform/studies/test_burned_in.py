"""Burned-in annotation (issue 16, item 9): refused by default, accepted only under a configured mask.

A file whose BurnedInAnnotation is YES has text (often the patient's name) in its pixels. Without a
PLEURA_BURNED_IN_MASKS rectangle for its scanner it is refused with a message; with one, the rectangle is
zeroed in every stored frame and in the stored DICOM copy, and the video records it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from PIL import Image
from pydicom.data import get_testdata_file
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import user_ensure
from studies.ingest import IngestError
from studies.models import Video
from studies.services import video_ingest
from tests.platform.conftest import media_files

pytestmark = pytest.mark.django_db

MANUFACTURER, MODEL = "G.E. Medical Systems", "LOGIQ 700"  # of pydicom's US1_UNCR.dcm
RECT = [10, 20, 100, 30]  # x, y, width, height


def burned_in_file(tmp_path: Path, source: str = "US1_UNCR.dcm") -> Path:
    path = get_testdata_file(source, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {source} not installed")
    dataset = pydicom.dcmread(path)
    dataset.BurnedInAnnotation = "YES"
    out = tmp_path / "burned.dcm"
    dataset.save_as(out, enforce_file_format=True)
    return out


def test_burned_in_annotation_is_refused_by_default(tmp_path, patient, media_root):
    with pytest.raises(IngestError, match=r"burned\.dcm: .*burned-in annotation.*PLEURA_BURNED_IN_MASKS"):
        video_ingest(source=burned_in_file(tmp_path), original_name="burned.dcm", patient=patient)
    assert Video.objects.count() == 0 and media_files(media_root) == []


def test_burned_in_upload_is_a_400_with_the_reason(tmp_path, patient, media_root):
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4, password="pw-boss-123")
    client = APIClient()
    client.force_authenticate(admin)
    with burned_in_file(tmp_path).open("rb") as handle:
        response = client.post("/api/videos/upload/", {"file": handle, "patient": patient.pk}, format="multipart")
    assert response.status_code == 400
    assert "burned-in annotation" in response.json()["detail"]
    assert Video.objects.count() == 0


def test_a_mask_for_another_scanner_does_not_apply(tmp_path, patient, settings, media_root):
    settings.PLEURA_BURNED_IN_MASKS = [{"manufacturer": MANUFACTURER, "model": "Other", "rects": [RECT]}]
    with pytest.raises(IngestError, match="burned-in annotation"):
        video_ingest(source=burned_in_file(tmp_path), original_name="burned.dcm", patient=patient)
    assert media_files(media_root) == []


@pytest.mark.parametrize("rule", [
    {"manufacturer": MANUFACTURER, "model": MODEL, "rects": [RECT]},
    {"rects": [RECT]},  # global
])
def test_masked_burned_in_file_is_accepted_and_zeroed(tmp_path, patient, settings, rule):
    settings.PLEURA_BURNED_IN_MASKS = [rule]
    path = burned_in_file(tmp_path)
    original = pydicom.dcmread(path).pixel_array
    x, y, w, h = RECT
    assert original[y:y + h, x:x + w].any()  # there is something to mask

    video = video_ingest(source=path, original_name="burned.dcm", patient=patient).video

    assert video.burned_in_masked
    frame = np.asarray(Image.open(default_storage.path(video.frames.get(index=0).image.name)))
    assert not frame[y:y + h, x:x + w].any()
    assert np.array_equal(frame[y + h:, :], original[y + h:, :])  # the rest is untouched
    stored = pydicom.dcmread(default_storage.path(video.source_file.name))
    assert not stored.pixel_array[y:y + h, x:x + w].any()
    assert np.array_equal(stored.pixel_array[y + h:, :], original[y + h:, :])
    assert stored.BurnedInAnnotation == "NO"
    assert "113101" in [item.CodeValue for item in stored.DeidentificationMethodCodeSequence]


def test_compressed_multiframe_burned_in_file_is_masked(tmp_path, patient, settings):
    settings.PLEURA_BURNED_IN_MASKS = [{"rects": [RECT]}]
    path = burned_in_file(tmp_path, "color3d_jpeg_baseline.dcm")

    video = video_ingest(source=path, original_name="loop.dcm", patient=patient).video

    x, y, w, h = RECT
    assert video.burned_in_masked and video.frame_count == 120
    stored = pydicom.dcmread(default_storage.path(video.source_file.name))
    assert int(stored.NumberOfFrames) == 120 and not stored.pixel_array[:, y:y + h, x:x + w].any()
    last = np.asarray(Image.open(default_storage.path(video.frames.get(index=119).image.name)))
    assert not last[y:y + h, x:x + w].any()


def test_files_without_burned_in_annotation_are_not_masked(tmp_path, patient, settings):
    settings.PLEURA_BURNED_IN_MASKS = [{"rects": [RECT]}]
    path = get_testdata_file("US1_UNCR.dcm", download=False)
    if path is None:
        pytest.skip("pydicom test file US1_UNCR.dcm not installed")
    video = video_ingest(source=Path(path), original_name="clean.dcm", patient=patient).video
    assert not video.burned_in_masked


def test_a_malformed_mask_is_a_configuration_error(tmp_path, patient, settings, media_root):
    settings.PLEURA_BURNED_IN_MASKS = [{"rects": [[0, 0, 10]]}]
    with pytest.raises(ImproperlyConfigured, match=r"PLEURA_BURNED_IN_MASKS: a rectangle is \[x, y, width, height\]"):
        video_ingest(source=burned_in_file(tmp_path), original_name="burned.dcm", patient=patient)
    assert media_files(media_root) == []
