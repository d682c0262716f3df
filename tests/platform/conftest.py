"""Fixtures for platform tests: small videos of every container, a site, a patient, and a small world
of two videos and five users of every role with labels (for API, export and agreement tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.services import user_ensure
from annotations.services import frame_scores_import, video_score_import
from studies.models import Exam, Frame, Patient, Site, Video, VideoAssignment
from studies.services import patient_upsert, site_ensure


def synthetic_frames(n: int = 6, height: int = 48, width: int = 64, colour: bool = False) -> list[np.ndarray]:
    """Frames with a moving bright line; grey unless `colour` (then the channels differ)."""
    frames = []
    for index in range(n):
        frame = np.full((height, width, 3), 30, dtype=np.uint8)
        frame[(index * 5) % height, :, :] = 230
        if colour:
            frame[..., 2] = 200
        frames.append(frame)
    return frames


def write_container(path: Path, frames: list[np.ndarray], fourcc: str, fps: float = 25.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def media_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def site(db: None) -> Site:
    return site_ensure(name="Test Hospital")


@pytest.fixture
def patient(site: Site) -> Patient:
    return patient_upsert(site=site, code="P-001", covid_status="positive")


@pytest.fixture
def annotator(db: None):  # type: ignore[no-untyped-def]
    return user_ensure(username="ann", role=Role.ANNOTATOR, validation_level=1, password="pw-ann-123")


FRAMES = 3
WIDTH, HEIGHT = 64, 48


@dataclass
class World:
    v1: Video
    v2: Video
    ann_a: User
    ann_b: User
    validator: User
    clinician: User
    admin: User

    def client(self, user: User) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    def frames(self, video: Video) -> list[Frame]:
        return list(video.frames.order_by("index"))


def _video(exam: Exam, n: int) -> Video:
    video = Video.objects.create(exam=exam, fps=25, frame_count=FRAMES, width=WIDTH, height=HEIGHT, format="mp4",
                                 source_file=f"v{n}.mp4", original_name=f"v{n}.mp4", sha256=f"{n}" * 64)
    for index in range(FRAMES):
        _, png = cv2.imencode(".png", np.full((HEIGHT, WIDTH), 40 * index, np.uint8))
        frame = Frame(video=video, index=index)
        frame.image.save(f"test/{n}/{index}.png", ContentFile(png.tobytes()), save=True)
    return video


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    site = site_ensure(name="Site A")
    exam = Exam.objects.create(patient=patient_upsert(site=site, code="P1", covid_status="positive"))
    v1, v2 = _video(exam, 1), _video(exam, 2)
    ann_a = user_ensure(username="ann-a", role=Role.ANNOTATOR, validation_level=1)
    ann_b = user_ensure(username="ann-b", role=Role.ANNOTATOR, validation_level=1)
    validator = user_ensure(username="val", role=Role.VALIDATOR, validation_level=2)
    clinician = user_ensure(username="doc", role=Role.CLINICIAN, validation_level=4)
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    VideoAssignment.objects.create(video=v1, annotator=ann_a)
    VideoAssignment.objects.create(video=v1, annotator=ann_b)
    VideoAssignment.objects.create(video=v2, annotator=ann_b)
    f1 = [f.pk for f in v1.frames.order_by("index")]
    frame_scores_import(annotator=ann_a, scores={f1[0]: 0, f1[1]: 1})
    frame_scores_import(annotator=ann_b, scores={f1[0]: 2})
    frame_scores_import(annotator=clinician, scores={f1[2]: 3})
    video_score_import(annotator=clinician, video_id=v1.pk, score=2)
    return World(v1, v2, ann_a, ann_b, validator, clinician, admin)
