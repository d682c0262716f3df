"""Database constraints of the study models, checked on the real database."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from studies.models import Exam, Frame, Video
from studies.services import patient_upsert, site_ensure

pytestmark = pytest.mark.django_db


def make_video(exam: Exam, sha: str = "a" * 64) -> Video:
    return Video.objects.create(exam=exam, fps=25, frame_count=1, width=8, height=8, format="mp4",
                                source_file="x.mp4", original_name="x.mp4", sha256=sha)


def test_patient_code_is_unique_per_site_only(site):
    patient_upsert(site=site, code="P1")
    other_site = site_ensure(name="Other")
    patient_upsert(site=other_site, code="P1")  # same code elsewhere is another person
    from studies.models import Patient

    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(site=site, code="P1")


def test_patient_upsert_validates_status(site):
    with pytest.raises(ValueError, match="unknown COVID-19 status 'maybe'"):
        patient_upsert(site=site, code="P2", covid_status="maybe")


def test_video_sha_and_frame_index_are_unique(patient):
    exam = Exam.objects.create(patient=patient)
    video = make_video(exam)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_video(exam)
    Frame.objects.create(video=video, index=0, image="f0.png")
    with pytest.raises(IntegrityError), transaction.atomic():
        Frame.objects.create(video=video, index=0, image="other.png")


def test_video_fps_must_be_positive(patient):
    exam = Exam.objects.create(patient=patient)
    with pytest.raises(IntegrityError), transaction.atomic():
        Video.objects.create(exam=exam, fps=0, frame_count=1, width=8, height=8, format="mp4",
                             source_file="x", original_name="x", sha256="b" * 64)
