"""Training and prediction jobs through a real Celery worker process, Redis and PostgreSQL."""

from __future__ import annotations

import os
import signal

import pytest

from accounts.models import Role
from accounts.services import user_ensure
from exchange.phantoms import TRUTH_USERNAME, phantoms_generate
from modelling.models import FramePrediction, JobStatus, ModelKind, ModelVersion, TrainingJob, VideoPrediction
from modelling.services import training_job_cancel, training_job_submit
from studies.models import Frame, Patient, Video
from tests.platform.modelling.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TINY = {"model": "reg_stn", "size": [64, 64], "batch_size": 16, "lr": 3e-3, "seed": 0}


@pytest.fixture
def phantom_study(celery_worker):
    phantoms_generate(videos=12, frames=16, size=64, annotators=0, seed=3)
    return celery_worker


def truth_selection(**extra):
    from accounts.models import User

    return {"annotators": [User.objects.get(username=TRUTH_USERNAME).pk], "validation_fraction": 0.0, **extra}


def job_status(job_id: int) -> str:
    return TrainingJob.objects.get(pk=job_id).status


def test_frame_scorer_then_aggregator_train_activate_and_predict(phantom_study):
    worker = phantom_study
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    first, second = Patient.objects.order_by("code")
    seen_statuses: list[str] = []

    job = training_job_submit(kind=ModelKind.FRAME_SCORER, parameters={**TINY, "epochs": 2},
                              data_selection=truth_selection(patients=[first.pk]), created_by=admin)

    def finished() -> bool:
        status = job_status(job.pk)
        if not seen_statuses or seen_statuses[-1] != status:
            seen_statuses.append(status)
        return status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

    wait_for(finished, timeout=240, what="frame scorer job", worker=worker, interval=0.05)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert seen_statuses[0] in (JobStatus.QUEUED, JobStatus.RUNNING) and JobStatus.RUNNING in seen_statuses
    assert [record["epoch"] for record in job.progress["history"]] == [1, 2]
    assert "epoch 2/2" in job.log_tail and job.worker_host and job.device == "cpu"
    scorer = job.model_version
    assert scorer is not None and scorer.is_active and scorer.kind == ModelKind.FRAME_SCORER
    assert scorer.data_snapshot["label_count"] > 0 and scorer.weights.name.endswith(".pt")

    # activation queues scoring of every video: one prediction per frame, one per video
    wait_for(lambda: FramePrediction.objects.filter(model_version=scorer).count() == Frame.objects.count()
             and VideoPrediction.objects.filter(model_version=scorer).count() == Video.objects.count(),
             timeout=120, what="predictions of every frame and video", worker=worker)
    prediction = FramePrediction.objects.filter(model_version=scorer).first()
    assert len(prediction.probabilities) == 4 and abs(sum(prediction.probabilities) - 1) < 1e-3
    assert len(prediction.crop_box_1) == 4 and len(prediction.crop_box_2) == 4

    aggregator_job = training_job_submit(kind=ModelKind.AGGREGATOR, parameters={"max_epochs": 30},
                                         data_selection=truth_selection(patients=[second.pk]), created_by=admin)
    wait_for(lambda: job_status(aggregator_job.pk) in (JobStatus.SUCCEEDED, JobStatus.FAILED), timeout=180,
             what="aggregator job", worker=worker)
    aggregator_job.refresh_from_db()
    assert aggregator_job.status == JobStatus.SUCCEEDED, aggregator_job.error
    aggregator = aggregator_job.model_version
    assert aggregator.is_active and aggregator.data_snapshot["frame_scorer"] == scorer.pk
    assert set(aggregator.data_snapshot["videos"]).isdisjoint(scorer.data_snapshot["videos"])
    wait_for(lambda: VideoPrediction.objects.filter(model_version=aggregator).count() == Video.objects.count(),
             timeout=120, what="aggregator video predictions", worker=worker)
    assert FramePrediction.objects.filter(model_version=scorer).count() == Frame.objects.count()  # replaced, not doubled


def test_cancel_stops_a_running_job(phantom_study):
    worker = phantom_study
    job = training_job_submit(kind=ModelKind.FRAME_SCORER, parameters={**TINY, "epochs": 200},
                              data_selection=truth_selection())
    wait_for(lambda: (TrainingJob.objects.get(pk=job.pk).progress or {}).get("step"), timeout=120,
             what="the job to run its first batches", worker=worker)

    training_job_cancel(job=job)

    wait_for(lambda: "cancelled" in worker.output() or "succeeded" in worker.output(), timeout=60,
             what="the worker to stop the job", worker=worker)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.model_version is None
    assert ModelVersion.objects.count() == 0


def test_killed_worker_process_resumes_from_checkpoint(phantom_study):
    worker = phantom_study
    job = training_job_submit(kind=ModelKind.FRAME_SCORER, parameters={**TINY, "epochs": 4, "activate": False},
                              data_selection=truth_selection())

    def epochs_done() -> int:
        return len((TrainingJob.objects.get(pk=job.pk).progress or {}).get("history", []))

    wait_for(lambda: epochs_done() >= 1, timeout=180, what="a first checkpointed epoch", worker=worker)
    for child in worker.children():
        os.kill(child, signal.SIGKILL)  # the pool process running the task dies mid-job

    wait_for(lambda: job_status(job.pk) in (JobStatus.SUCCEEDED, JobStatus.FAILED), timeout=240,
             what="the re-delivered job", worker=worker)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error + worker.output()
    assert job.attempts == 2
    assert job.progress["resumed_from_epoch"] >= 1
    assert [record["epoch"] for record in job.progress["history"]] == [1, 2, 3, 4]
    assert "resuming from the checkpoint" in job.log_tail
    assert job.model_version is not None and not job.model_version.is_active
