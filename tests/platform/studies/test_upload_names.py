"""Upload file names (issue 16, item 10): stored, served and exported only as a pseudonym.

A hospital's file is often named after its patient (Doe_John_MRN-998877.dcm). The video's name is the
patient's pseudonymous code, its lung zone and a keyed digest of its bytes, with the format's extension;
the uploaded name is kept only where PLEURA_KEEP_UPLOAD_NAMES is on, and then only admins see it.
"""

from __future__ import annotations

import importlib
import io
import zipfile

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import user_ensure
from annotations.services import frame_scores_import, video_score_import
from studies.ingest.pseudonyms import pseudonymous_file_name
from studies.models import Exam, Video
from studies.services import exam_ensure, patient_upsert
from tests.platform.conftest import synthetic_frames, write_container

pytestmark = pytest.mark.django_db

UPLOAD = "Doe_John_MRN-998877.mp4"
SECRETS = ("Doe_John", "998877")
EXPORT_FORMATS = ("csv", "jsonl", "coco", "masks", "labelme", "manifest")


@pytest.fixture
def users(db):
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    clinician = user_ensure(username="doc", role=Role.CLINICIAN, validation_level=4)
    return admin, clinician


def client_of(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def named_upload(client: APIClient, tmp_path, patient):  # type: ignore[no-untyped-def]
    path = write_container(tmp_path / UPLOAD, synthetic_frames(), "mp4v")
    with path.open("rb") as handle:
        return client.post("/api/videos/upload/", {"file": handle, "patient": patient.pk, "lung_zone": "R2"},
                           format="multipart")


def all_text_in_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT original_name, upload_name, source_file FROM studies_video")
        return repr(cursor.fetchall())


def test_the_stored_name_is_a_pseudonym(users, patient, tmp_path):
    admin, _ = users
    response = named_upload(client_of(admin), tmp_path, patient)
    assert response.status_code == 201, response.content
    video = Video.objects.get()
    expected = pseudonymous_file_name(sha256=video.sha256, patient_code=patient.code, lung_zone="R2",
                                      suffix=".mp4", key=settings.PLEURA_PSEUDONYM_KEY)
    assert video.original_name == expected == response.json()["original_name"]
    assert expected.startswith("P-001_R2_") and expected.endswith(".mp4")
    assert "upload_name" in response.json() and response.json()["upload_name"] == ""  # not kept by default
    for secret in SECRETS:
        assert secret not in all_text_in_database()
        assert secret not in response.content.decode()


def test_the_pseudonym_is_stable_and_keyed():
    one = pseudonymous_file_name(sha256="a" * 64, patient_code="P 1/x", lung_zone="", suffix=".dcm", key="k1")
    assert one == pseudonymous_file_name(sha256="a" * 64, patient_code="P 1/x", lung_zone="", suffix=".dcm",
                                         key="k1")
    assert one != pseudonymous_file_name(sha256="a" * 64, patient_code="P 1/x", lung_zone="", suffix=".dcm",
                                         key="k2")
    assert one.startswith("P_1_x_") and one.endswith(".dcm") and "/" not in one


def test_opted_in_upload_names_are_for_admins_only(users, patient, tmp_path, settings):
    settings.PLEURA_KEEP_UPLOAD_NAMES = True
    admin, clinician = users
    assert named_upload(client_of(admin), tmp_path, patient).status_code == 201
    video = Video.objects.get()
    assert video.upload_name == UPLOAD and "998877" not in video.original_name

    assert client_of(admin).get(f"/api/videos/{video.pk}/").json()["upload_name"] == UPLOAD
    for path in (f"/api/videos/{video.pk}/", "/api/videos/"):
        answer = client_of(clinician).get(path)
        assert answer.status_code == 200 and "998877" not in answer.content.decode()
        assert "upload_name" not in answer.content.decode()


def test_the_django_admin_shows_the_upload_name_to_admins_only(users, patient, tmp_path, settings, client):
    settings.PLEURA_KEEP_UPLOAD_NAMES = True
    admin, _ = users
    named_upload(client_of(admin), tmp_path, patient)
    video = Video.objects.get()
    staff = user_ensure(username="staff", role=Role.CLINICIAN, validation_level=4, is_staff=True,
                        is_superuser=False)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_video", "change_video"]))
    client.force_login(staff)
    page = client.get(f"/admin/studies/video/{video.pk}/change/")
    assert page.status_code == 200 and "998877" not in page.content.decode()
    superuser = user_ensure(username="root", role=Role.ADMIN, validation_level=4, is_staff=True, is_superuser=True)
    client.force_login(superuser)
    assert "998877" in client.get(f"/admin/studies/video/{video.pk}/change/").content.decode()


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_exports_never_carry_the_upload_name(users, patient, tmp_path, settings, fmt):
    settings.PLEURA_KEEP_UPLOAD_NAMES = True
    admin, clinician = users
    named_upload(client_of(admin), tmp_path, patient)
    video = Video.objects.get()
    frame_scores_import(annotator=clinician, scores={video.frames.get(index=0).pk: 2})
    video_score_import(annotator=clinician, video_id=video.pk, score=2)

    response = client_of(clinician).get(f"/api/exports/?format={fmt}")

    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    texts = [content]
    if content[:2] == b"PK":
        archive = zipfile.ZipFile(io.BytesIO(content))
        texts += [archive.read(member) for member in archive.namelist()] + [" ".join(archive.namelist()).encode()]
    for text in texts:
        assert b"998877" not in text and b"Doe_John" not in text
    if fmt in ("csv", "jsonl"):
        assert video.original_name.encode() in content  # the rows name the video by its pseudonym


def test_existing_names_are_pseudonymised_by_the_data_migration(patient, site, users):
    migration = importlib.import_module("studies.migrations.0006_video_names_pseudonymous")
    uploaded = Video.objects.create(exam=exam_ensure(patient=patient), fps=25, frame_count=1, width=4, height=4,
                                    format="dicom", source_file="a.dcm", original_name="Doe_John_MRN-998877.dcm",
                                    sha256="a" * 64, lung_zone="L1")
    blues = Video.objects.create(exam=Exam.objects.create(patient=patient_upsert(site=site, code="patient_12")),
                                 fps=25, frame_count=1, width=4, height=4, format="mp4", source_file="b.mp4",
                                 original_name="patient_12_L1.mp4", sha256="b" * 64)
    LogEntry.objects.create(user=users[0], content_type=ContentType.objects.get_for_model(Video),
                            object_id=str(uploaded.pk), object_repr=uploaded.original_name, action_flag=CHANGE)

    migration.rename_videos(apps, None)

    uploaded.refresh_from_db()
    blues.refresh_from_db()
    assert uploaded.original_name == pseudonymous_file_name(
        sha256="a" * 64, patient_code=patient.code, lung_zone="L1", suffix=".dcm", key=settings.PLEURA_PSEUDONYM_KEY)
    assert uploaded.upload_name == ""  # PLEURA_KEEP_UPLOAD_NAMES is off
    assert blues.original_name == "patient_12_L1.mp4"  # the dataset's own pseudonym stays
    assert "998877" not in all_text_in_database()
    assert LogEntry.objects.get().object_repr == uploaded.original_name
