"""Two real Celery worker processes share one search job's Optuna study (in the test database): both run
trials, the trial budget holds across them, and the last one out finishes the job with the summary. A worker
process killed mid-trial leaves that trial failed (its heartbeat stops) and the study going: its task is
re-delivered and rejoins, and the job succeeds with the budget reached."""

from __future__ import annotations

import os
import signal

import optuna
import pytest
from optuna.trial import TrialState

from accounts.models import Role, User
from accounts.services import user_ensure
from exchange.phantoms import TRUTH_USERNAME, phantoms_generate
from modelling.models import JobStatus, TrainingJob
from modelling.search import search_job_submit, search_storage_url, search_study_name
from tests.platform.modelling.conftest import WorkerProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPACE = [{"name": "l2", "type": "float", "low": 0.01, "high": 10.0, "log": True},
         {"name": "sord_scale", "type": "float", "low": 0.5, "high": 4.0}]
#: the killed-worker search: enough trials that the other worker still runs some after the kill
KILL_TRIALS = 10


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


@pytest.fixture
def fast_heartbeat_worker(celery_worker):
    """The celery_worker restarted with trials beating every second: a dead worker's trial is stale after 3 s."""
    celery_worker.stop()
    celery_worker.env = {**celery_worker.env, "PLEURA_SEARCH_HEARTBEAT_S": "1"}
    celery_worker.start()
    return celery_worker


def test_a_worker_killed_mid_trial_leaves_its_trial_failed_and_the_job_going(fast_heartbeat_worker, tmp_path):
    first = fast_heartbeat_worker
    phantoms_generate(videos=36, frames=4, size=64, annotators=0, seed=4)  # six patients
    second = WorkerProcess(first.env, tmp_path / "worker2.log")
    second.start()
    storage = None
    kills: list[tuple[int, int]] = []  # (trial number, pid) of each kill; the last one landed inside its trial
    try:
        admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
        truth = User.objects.get(username=TRUTH_USERNAME).pk
        job = search_job_submit(kind="embedding", trials=KILL_TRIALS, workers=2, folds=3, space=SPACE,
                                parameters={"size": 64, "frame_step": 4}, created_by=admin,
                                data_selection={"annotators": [truth], "validation_fraction": 0.0})
        # the phase turns "search" once a worker has opened the storage (its tables exist)
        wait_for(lambda: TrainingJob.objects.get(pk=job.pk).progress.get("phase") == "search", timeout=120,
                 what="a worker joining the study", worker=first)
        storage = optuna.storages.RDBStorage(search_storage_url())

        def study() -> optuna.Study | None:
            try:
                return optuna.load_study(study_name=search_study_name(job), storage=storage)
            except KeyError:
                return None

        def running_trial() -> tuple[int, int] | None:
            """A trial running in one of the two worker processes: (number, pid)."""
            found = study()
            children = set(first.children()) | set(second.children())
            for trial in found.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if found else []:
                pid = int(str(trial.user_attrs.get("host", ":0")).rsplit(":", 1)[1])
                if pid in children:
                    return trial.number, pid
            return None

        for _ in range(3):  # a kill between two trials (rare: a trial is most of a worker's loop) is retried
            number, pid = wait_for(running_trial, timeout=120, what="a running trial", worker=first)
            os.kill(pid, signal.SIGKILL)
            kills.append((number, pid))
            wait_for(lambda pid=pid: pid not in set(first.children()) | set(second.children()), timeout=30,
                     what="the killed process gone")
            if study().trials[number].state in (TrialState.RUNNING, TrialState.FAIL):
                break  # it died inside the trial
        else:
            pytest.fail(f"no kill landed inside a trial: {kills}")

        def finished() -> bool:
            return TrainingJob.objects.get(pk=job.pk).status in (JobStatus.SUCCEEDED, JobStatus.FAILED)

        wait_for(finished, timeout=150, what="search job", worker=first)
        trials = study().trials
    finally:
        log = second.output()
        second.stop()
        if storage is not None:
            storage.engine.dispose()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{log}"
    number, pid = kills[-1]
    assert trials[number].state == TrialState.FAIL, trials[number]  # failed as stale, not left running
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert KILL_TRIALS <= len(done) <= KILL_TRIALS + 1  # the budget, reached without the dead trial
    after = [t for t in done if t.number > number and not t.user_attrs["host"].endswith(f":{pid}")]
    assert after, "no trial finished after the kill"  # the study went on
    progress = job.progress
    # each killed task was re-delivered (acks_late) and rejoined the study: both workers are out, none failed
    assert progress["workers_done"] == [0, 1] and "workers_failed" not in progress
    assert job.attempts == 2 + len(kills)
    assert progress["summary"]["history"][number]["state"] == "FAIL" and progress["step"] == KILL_TRIALS
