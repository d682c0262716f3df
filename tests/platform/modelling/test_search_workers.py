"""Two real Celery worker processes share one search job's Optuna study (in the test database): both run
trials, the trial budget holds across them, and the last one out finishes the job with the summary."""

from __future__ import annotations

import pytest

from accounts.models import Role, User
from accounts.services import user_ensure
from exchange.phantoms import TRUTH_USERNAME, phantoms_generate
from modelling.models import JobStatus, TrainingJob
from modelling.search import search_job_submit
from tests.platform.modelling.conftest import WorkerProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPACE = [{"name": "l2", "type": "float", "low": 0.01, "high": 10.0, "log": True},
         {"name": "sord_scale", "type": "float", "low": 0.5, "high": 4.0}]


def test_two_workers_share_one_study(celery_worker, tmp_path):
    phantoms_generate(videos=36, frames=4, size=64, annotators=0, seed=4)  # six patients
    second = WorkerProcess(celery_worker.env, tmp_path / "worker2.log")
    second.start()
    try:
        admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
        truth = User.objects.get(username=TRUTH_USERNAME).pk
        job = search_job_submit(kind="embedding", trials=6, workers=2, folds=3, space=SPACE,
                                parameters={"size": 64, "frame_step": 4}, created_by=admin,
                                data_selection={"annotators": [truth], "validation_fraction": 0.0})

        def finished() -> bool:
            return TrainingJob.objects.get(pk=job.pk).status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

        wait_for(finished, timeout=180, what="search job", worker=celery_worker)
    finally:
        log = second.output()
        second.stop()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{log}"
    progress = job.progress
    assert progress["workers_done"] == [0, 1] and job.attempts == 2
    by_worker = progress["trials_by_worker"]
    assert set(by_worker) == {"0", "1"} and all(n >= 1 for n in by_worker.values()), by_worker
    finished_trials = [t for t in progress["summary"]["history"] if t["state"] in ("COMPLETE", "PRUNED")]
    assert 6 <= len(finished_trials) <= 7  # the budget counts the study's trials (one extra per other worker)
    assert progress["step"] == 6 and progress["best_value"] is not None
    assert progress["summary"]["best"]["params"].keys() == {"l2", "sord_scale"}
