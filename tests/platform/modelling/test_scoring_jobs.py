"""Scoring is a job like training (queued, running with progress, done) on its own queue; queued jobs
say where they stand; activating a version without predictions queues its scoring once."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from modelling import scoring
from modelling.models import JobStatus, JobType, ModelKind, TrainingJob, VideoPrediction
from modelling.progress import job_state
from modelling.scoring import scoring_job_run
from modelling.selectors import job_queue_positions
from modelling.services import SCORE_VIDEOS_TASK, TRAIN_MODEL_TASK, model_version_activate, scoring_job_queue
from studies.models import Exam, Video
from tests.platform.modelling.test_job_submission import make_version

pytestmark = pytest.mark.django_db


def job(job_type: str = JobType.TRAINING, status: str = JobStatus.QUEUED) -> TrainingJob:
    return TrainingJob.objects.create(job_type=job_type, kind=ModelKind.EMBEDDING, status=status)


def videos(patient, n: int) -> list[Video]:  # type: ignore[no-untyped-def]
    exam = Exam.objects.create(patient=patient)
    return [Video.objects.create(exam=exam, fps=25, frame_count=1, width=8, height=8, format="mp4",
                                 source_file=f"s{i}.mp4", original_name=f"s{i}.mp4", sha256=f"{i:064d}")
            for i in range(n)]


def test_training_and_scoring_have_their_own_queues():
    from celery import current_app

    router = current_app.amqp.router
    assert router.route({}, TRAIN_MODEL_TASK)["queue"].name == "gpu"
    assert router.route({}, SCORE_VIDEOS_TASK)["queue"].name == "scoring"
    assert "scoring" in settings.CELERY_QUEUE_TIME_LIMITS


def test_queued_jobs_know_their_place_and_what_they_wait_for(django_assert_num_queries):
    running = job(status=JobStatus.RUNNING)
    second, third = job(), job()
    scoring_job = job(JobType.SCORING)
    done = job(status=JobStatus.SUCCEEDED)
    jobs = [running, second, third, scoring_job, done]
    with django_assert_num_queries(1):
        positions = job_queue_positions(jobs)
    assert positions[second.pk] == {"queue": "training", "position": 1, "waiting_for": running.pk,
                                    "running": [running.pk]}
    assert positions[third.pk] == {"queue": "training", "position": 2, "waiting_for": second.pk,
                                   "running": [running.pk]}
    assert positions[scoring_job.pk] == {"queue": "scoring", "position": 1, "waiting_for": None, "running": []}
    assert running.pk not in positions and done.pk not in positions
    assert job_state(third)["queue"]["waiting_for"] == second.pk and job_state(running)["queue"] is None


def test_the_job_list_shows_type_and_queue(admin_client):
    running, queued = job(status=JobStatus.RUNNING), job(JobType.TRAINING)
    body = {row["id"]: row for row in admin_client.get("/api/jobs/").json()}
    assert body[queued.pk]["job_type"] == "training" and body[queued.pk]["queue"]["waiting_for"] == running.pk
    assert body[running.pk]["queue"] is None
    detail = admin_client.get(f"/api/jobs/{queued.pk}/").json()
    assert detail["queue"]["position"] == 1 and detail["status"] == "queued"


def test_a_scoring_job_reports_progress_on_its_row_and_finishes(tmp_path: Path, patient, monkeypatch):
    scored = videos(patient, 5)
    version = make_version(tmp_path)
    model_version_activate(version=version)
    pending = TrainingJob.objects.get(job_type=JobType.SCORING)  # queued by the activation (no predictions)
    seen: list[tuple[str, int, int]] = []

    def predictor(v, video_ids, *, on_progress=None):  # type: ignore[no-untyped-def]
        for done in range(1, len(video_ids) + 1):
            on_progress(done)
            row = TrainingJob.objects.get(pk=pending.pk)
            seen.append((row.status, row.progress["step"], row.progress["steps"]))
        return len(video_ids)

    monkeypatch.setitem(scoring.PREDICTORS, ModelKind.FRAME_SCORER, predictor)
    assert scoring_job_run(job_id=pending.pk, task_id="t", worker_host="here") == "succeeded"
    assert seen == [("running", i, len(scored)) for i in range(1, len(scored) + 1)]
    finished = TrainingJob.objects.get(pk=pending.pk)
    assert finished.status == JobStatus.SUCCEEDED and finished.progress["rows"] == len(scored)
    assert finished.started_at and finished.finished_at and finished.model_version == version


def test_a_cancelled_scoring_job_stops_between_chunks(tmp_path: Path, patient, monkeypatch):
    videos(patient, 3)
    model_version_activate(version=make_version(tmp_path))
    pending = TrainingJob.objects.get(job_type=JobType.SCORING)
    calls: list[int] = []

    def predictor(v, video_ids, *, on_progress=None):  # type: ignore[no-untyped-def]
        for done in range(1, len(video_ids) + 1):
            calls.append(done)
            TrainingJob.objects.filter(pk=pending.pk).update(status=JobStatus.CANCELLED, finished_at=timezone.now())
            on_progress(done)
        return 0

    monkeypatch.setitem(scoring.PREDICTORS, ModelKind.FRAME_SCORER, predictor)
    assert scoring_job_run(job_id=pending.pk, task_id="t", worker_host="here") == "cancelled" and calls == [1]
    assert TrainingJob.objects.get(pk=pending.pk).status == JobStatus.CANCELLED


def test_activation_scores_only_versions_without_predictions_and_only_once(tmp_path: Path, patient):
    (video,) = videos(patient, 1)
    first, second = make_version(tmp_path, "a"), make_version(tmp_path, "b")
    model_version_activate(version=first)
    model_version_activate(version=first)  # again, while its scoring is queued: no second job
    assert TrainingJob.objects.filter(job_type=JobType.SCORING, model_version=first).count() == 1
    VideoPrediction.objects.create(video=video, model_version=second, probabilities=[1, 0, 0, 0], score=0)
    model_version_activate(version=second)  # already scored: nothing to do
    assert not TrainingJob.objects.filter(job_type=JobType.SCORING, model_version=second).exists()


def test_a_queued_scoring_job_records_its_scope():
    queued = scoring_job_queue(video_ids=[3, 4], kinds=[ModelKind.SEGMENTATION])
    assert queued.kind == ModelKind.SEGMENTATION and queued.status == JobStatus.QUEUED
    assert queued.parameters == {"video_ids": [3, 4], "patient_id": None, "kinds": ["segmentation"]}
    assert str(queued) == f"scoring job {queued.pk} (segmentation, queued)"


def test_the_admin_lists_scoring_jobs_with_their_progress(admin_client):
    job(JobType.SCORING, JobStatus.RUNNING)
    TrainingJob.objects.filter(job_type=JobType.SCORING).update(progress={"phase": "scoring", "step": 3, "steps": 4})
    page = admin_client.get("/admin/modelling/trainingjob/?job_type__exact=scoring").content.decode()
    assert "3/4 videos" in page and "Scoring" in page


def test_videos_arriving_while_their_scoring_waits_join_that_job(tmp_path: Path, patient):
    from modelling.services import videos_score_if_model_active

    model_version_activate(version=make_version(tmp_path))  # (its own job: every video, this version)
    assert videos_score_if_model_active([11]) and videos_score_if_model_active([12, 11])
    new_videos = TrainingJob.objects.filter(job_type=JobType.SCORING, model_version=None)
    assert [job.parameters["video_ids"] for job in new_videos] == [[11, 12]]  # one job for the batch
    new_videos.update(status=JobStatus.RUNNING)  # a worker took it: later videos get a job of their own
    assert videos_score_if_model_active([13])
    assert sorted(job.parameters["video_ids"] for job in new_videos.model.objects.filter(
        job_type=JobType.SCORING, model_version=None)) == [[11, 12], [13]]
