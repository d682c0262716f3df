"""Segmentation and CNN-LSTM jobs through a real Celery worker process, Redis and PostgreSQL: they train on
the phantom study's contours and labels, activate, and write masks, uncertainty, frame and video scores.

(Named to sort before test_progress_websocket.py: a serialized-rollback test fails after a plain transactional
test, whose flush re-creates the content types under new ids.)
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from accounts.models import Role
from accounts.services import user_ensure
from exchange.phantoms import TRUTH_USERNAME, phantoms_generate
from modelling.models import (
    FramePrediction,
    JobStatus,
    ModelKind,
    SegmentationPrediction,
    TrainingJob,
    VideoPrediction,
)
from modelling.services import training_job_submit
from studies.models import Frame, Video
from tests.ml.tiny_models import TINY_SEGMENTERS, TINY_SEQUENCE
from tests.platform.modelling.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]

FRAME_SIZE = 64


@pytest.fixture
def phantom_study(celery_worker):
    phantoms_generate(videos=12, frames=8, size=FRAME_SIZE, annotators=0, seed=3)
    return celery_worker


def truth_selection(**extra):
    from accounts.models import User

    return {"annotators": [User.objects.get(username=TRUTH_USERNAME).pk], "validation_fraction": 0.0, **extra}


def finished_job(job: TrainingJob, worker, timeout: float = 420) -> TrainingJob:
    wait_for(lambda: TrainingJob.objects.get(pk=job.pk).status in (JobStatus.SUCCEEDED, JobStatus.FAILED),
             timeout=timeout, what=f"{job.kind} job", worker=worker)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error + worker.output()
    return job


def test_segmentation_job_writes_masks_and_uncertainty(phantom_study, client):
    worker = phantom_study
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    parameters = {"model_kwargs": TINY_SEGMENTERS, "epochs": 1, "batch_size": 4, "steps_per_epoch": 2,
                  "size": [40, 60], "mc_samples": 3}
    job = finished_job(training_job_submit(kind=ModelKind.SEGMENTATION, parameters=parameters,
                                           data_selection=truth_selection(frame_step=2), created_by=admin), worker)
    version = job.model_version
    assert version is not None and version.is_active and version.kind == ModelKind.SEGMENTATION
    assert version.data_snapshot["frames"] == Frame.objects.count() // 2 and version.data_snapshot["contour_count"] > 0
    assert [r["member"] for r in job.progress["history"]] == ["unet_roy", "unet_plusplus", "deeplabv3_plus"]

    # activation queues segmentation of every frame
    wait_for(lambda: SegmentationPrediction.objects.filter(model_version=version).count() == Frame.objects.count(),
             timeout=300, what="a mask for every frame", worker=worker)
    prediction = SegmentationPrediction.objects.filter(model_version=version).select_related("frame").first()
    mask = cv2.imdecode(np.frombuffer(prediction.mask.read(), np.uint8), cv2.IMREAD_UNCHANGED)
    uncertainty = cv2.imdecode(np.frombuffer(prediction.uncertainty.read(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert mask.shape == uncertainty.shape == (FRAME_SIZE, FRAME_SIZE)
    assert mask.dtype == uncertainty.dtype == np.uint8 and mask.max() <= 4

    client.force_login(admin)
    listed = client.get("/api/predictions/segmentations/", {"frame": prediction.frame_id}).json()["results"]
    assert len(listed) == 1
    row = listed[0]
    assert row["uncertainty_max"] == 0.5
    for url in (row["mask"], row["uncertainty"], row["mask_url"], row["uncertainty_url"]):
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/png", url
        assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"


def test_sequence_jobs_write_frame_and_video_scores(phantom_study, client):
    worker = phantom_study
    common = {"window": 4, "stride": 2, "epochs": 1, "batch_size": 4, "size": [48, 48]}

    per_frame = finished_job(training_job_submit(
        kind=ModelKind.SEQUENCE, parameters={**common, "model": "densenet_lstm",
                                             "model_kwargs": TINY_SEQUENCE["densenet_lstm"]},
        data_selection=truth_selection()), worker)
    scorer = per_frame.model_version
    assert scorer.is_active and scorer.name == "densenet_lstm" and scorer.data_snapshot["label_count"] > 0
    wait_for(lambda: FramePrediction.objects.filter(model_version=scorer).count() == Frame.objects.count()
             and VideoPrediction.objects.filter(model_version=scorer).count() == Video.objects.count(),
             timeout=180, what="frame and video scores of the per-frame model", worker=worker)
    frame_prediction = FramePrediction.objects.filter(model_version=scorer).first()
    assert len(frame_prediction.probabilities) == 4 and abs(sum(frame_prediction.probabilities) - 1) < 1e-3
    assert frame_prediction.crop_box_1 is None

    per_video = finished_job(training_job_submit(
        kind=ModelKind.SEQUENCE, parameters={**common, "model": "xception_lstm",
                                             "model_kwargs": TINY_SEQUENCE["xception_lstm"]},
        data_selection=truth_selection()), worker)
    video_model = per_video.model_version
    assert video_model.is_active and video_model.parent_id == scorer.pk and not scorer.__class__.objects.get(
        pk=scorer.pk).is_active
    assert video_model.data_snapshot["video_labels"] == Video.objects.count()
    wait_for(lambda: VideoPrediction.objects.filter(model_version=video_model).count() == Video.objects.count(),
             timeout=180, what="video scores of the video model", worker=worker)
    assert not FramePrediction.objects.filter(model_version=video_model).exists()

    client.force_login(user_ensure(username="doc", role=Role.CLINICIAN, validation_level=1))
    listed = client.get("/api/predictions/videos/", {"kind": "sequence", "active": "true"}).json()["results"]
    assert len(listed) == Video.objects.count()
    assert {(row["model_version"], row["model_kind"]) for row in listed} == {(video_model.pk, "sequence")}
