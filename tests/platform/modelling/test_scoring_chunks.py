"""A scoring job of more videos than a chunk becomes chunk tasks: each counted once on the job's progress
(a re-delivered chunk too), the last one finishes the job, a parent run again sends only what is not done."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelling import scoring, services
from modelling.models import JobStatus, JobType, ModelKind, TrainingJob
from modelling.scoring import scoring_chunk_run, scoring_job_run
from modelling.services import SCORE_CHUNK_TASK, model_version_activate
from tests.platform.modelling.test_job_submission import make_version
from tests.platform.modelling.test_scoring_jobs import videos

pytestmark = pytest.mark.django_db


def test_chunks_are_shared_counted_once_and_finish_the_job(tmp_path: Path, patient, monkeypatch, settings,
                                                            django_capture_on_commit_callbacks):
    settings.PLEURA_SCORING_CHUNK_VIDEOS = 2
    ids = [v.pk for v in videos(patient, 5)]
    version = make_version(tmp_path)
    model_version_activate(version=version)
    job = TrainingJob.objects.get(job_type=JobType.SCORING)
    sent: list[tuple] = []
    monkeypatch.setattr(services, "enqueue_task", lambda name, *args: sent.append((name, *args)) or "task")
    scored: list[list[int]] = []
    monkeypatch.setitem(scoring.PREDICTORS, ModelKind.FRAME_SCORER,
                        lambda v, video_ids, **_: scored.append(list(video_ids)) or len(video_ids))

    with django_capture_on_commit_callbacks(execute=True):
        assert scoring_job_run(job_id=job.pk, task_id="t", worker_host="parent") == "dispatched"
    assert sent == [(SCORE_CHUNK_TASK, job.pk, 0, version.pk, ids[:2]), (SCORE_CHUNK_TASK, job.pk, 1, version.pk,
                                                                          ids[2:4]),
                    (SCORE_CHUNK_TASK, job.pk, 2, version.pk, ids[4:])]
    run = {"job_id": job.pk, "version_id": version.pk}
    assert scoring_chunk_run(chunk=0, video_ids=ids[:2], worker_host="a", **run) == "succeeded"
    assert scoring_chunk_run(chunk=0, video_ids=ids[:2], worker_host="b", **run) == "succeeded"  # re-delivered
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.progress["step"] == 2 and job.progress["chunks_done"] == [0]

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        scoring_job_run(job_id=job.pk, task_id="t2", worker_host="parent")  # the parent re-delivered
    assert [s[2] for s in sent] == [1, 2]
    scoring_chunk_run(chunk=1, video_ids=ids[2:4], worker_host="b", **run)
    scoring_chunk_run(chunk=2, video_ids=ids[4:], worker_host="a", **run)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.progress["step"] == job.progress["steps"] == 5
    assert job.progress["workers"] == {"a": 2, "b": 1} and job.progress["rows"] == 5
    assert scoring_chunk_run(chunk=2, video_ids=ids[4:], worker_host="c", **run) == "skipped"  # the job is done
    assert scored == [ids[:2], ids[:2], ids[2:4], ids[4:]]
