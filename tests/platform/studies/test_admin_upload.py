"""Adding a video in the admin goes through the ingestion service."""

from __future__ import annotations

import pytest

from studies.models import Frame, Video
from tests.platform.conftest import media_files, synthetic_frames, write_container

pytestmark = pytest.mark.django_db


def test_admin_upload_ingests_the_file(admin_client, patient, tmp_path):
    assert b'name="upload"' in admin_client.get("/admin/studies/video/add/").content
    path = write_container(tmp_path / "clip.mp4", synthetic_frames(), "mp4v")
    with path.open("rb") as handle:
        response = admin_client.post("/admin/studies/video/add/", {
            "upload": handle, "patient": patient.pk, "lung_zone": "L2", "probe": "linear", "scanner_model": "X"})
    assert response.status_code == 302, response.content[:2000]
    video = Video.objects.get()
    assert (video.frame_count, video.lung_zone, video.probe) == (6, "L2", "linear")
    assert Frame.objects.filter(video=video).count() == 6
    assert admin_client.get(f"/admin/studies/video/{video.pk}/change/").status_code == 200


def test_admin_upload_shows_the_ingestion_error(admin_client, patient, tmp_path, media_root):
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 10)
    with path.open("rb") as handle:
        response = admin_client.post("/admin/studies/video/add/", {"upload": handle, "patient": patient.pk,
                                                                   "lung_zone": "", "probe": "convex"})
    assert response.status_code == 200
    assert "notes.mp4: not a video" in response.content.decode()
    assert Video.objects.count() == 0 and media_files(media_root) == []
