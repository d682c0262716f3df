"""Search jobs (issue 17): submission checks and clear 400s, admin only, one task per worker; a search run
in-process stores history, best parameters and importances on the job; "train best" submits an ordinary
training job with the best trial's configuration; a worker failing outside a trial leaves the job to the
others, and the last one out sets its final status once."""

from __future__ import annotations

import functools

import pytest

from accounts.models import Role, User
from accounts.services import user_ensure
from exchange.phantoms import TRUTH_USERNAME, phantoms_generate
from modelling.models import JobStatus, JobType, TrainingJob
from modelling.scoring import embedding_bags
from modelling.search import search_job_run, search_job_submit, search_storage_url
from modelling.services import training_job_submit

pytestmark = pytest.mark.django_db

#: tiny: 64 px embeddings of every 4th frame, 3 folds, a two-parameter space of the probe with L-BFGS
PARAMETERS = {"size": 64, "frame_step": 4}
SPACE = [{"name": "l2", "type": "float", "low": 0.01, "high": 10.0, "log": True},
         {"name": "sord_scale", "type": "float", "low": 0.5, "high": 4.0}]


def truth_selection() -> dict:
    return {"annotators": [User.objects.get(username=TRUTH_USERNAME).pk], "validation_fraction": 0.0}


@pytest.fixture
def phantoms() -> None:
    phantoms_generate(videos=36, frames=4, size=64, annotators=0, seed=4)  # six patients


@pytest.fixture
def admin_client(client):
    client.force_login(user_ensure(username="boss", role=Role.ADMIN, validation_level=4))
    return client


def post(client, **body):
    return client.post("/api/search-jobs/", body, content_type="application/json")


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"space": []}, "detail", "the search space is empty"),
    ({"space": [{"name": "l2", "type": "float", "low": 5, "high": 1}]}, "detail", "low (5) is above high (1)"),
    ({"space": [{"name": "l2", "type": "float", "low": 0, "high": 1, "log": True}]}, "detail", "log scale needs"),
    ({"space": [{"name": "bogus", "type": "int", "low": 0, "high": 1}]}, "detail", "not a setting of this model"),
    ({"space": [{"name": "l2", "type": "float", "lo": 0}]}, "detail", "unknown keys lo"),
    ({"space": [{"name": "l2", "type": "float", "low": "a", "high": 1}]}, "detail", "malformed"),
    ({"space": [{"name": "l2", "type": "float", "low": 0.1, "high": 1, "when": {"model": 3}}]}, "detail", "malformed"),
    ({"objective": "auc"}, "errors", "objective"),
    ({"trials": 0}, "errors", "trials"),
    ({"workers": 99}, "errors", "workers"),
    ({"kind": "segmentation"}, "errors", "kind"),
    ({"max_time_s": -1}, "detail", "max_time_s must be above 0"),
])
def test_bad_submissions_are_clear_400s(admin_client, phantoms, body, field, message):
    response = post(admin_client, data_selection=truth_selection(), **body)
    assert response.status_code == 400, response.content
    payload = response.json()
    assert message in (payload["detail"] if field == "detail" else " ".join(payload["errors"]))
    assert not TrainingJob.objects.filter(job_type=JobType.SEARCH).exists()


def test_no_labels_is_a_400(admin_client):
    response = post(admin_client)
    assert response.status_code == 400 and "no eligible labels" in response.json()["detail"]


def test_too_few_patients_for_the_folds_is_a_400(admin_client, phantoms):
    response = post(admin_client, folds=7, data_selection=truth_selection())
    assert response.status_code == 400 and "from 6 patient(s)" in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CLINICIAN])
def test_search_api_is_for_admins(client, phantoms, role):
    client.force_login(user_ensure(username=f"u-{role}", role=role, validation_level=1))
    assert post(client, data_selection=truth_selection()).status_code == 403
    assert client.get("/api/search-jobs/").status_code == 403


def test_submission_queues_one_task_per_worker(admin_client, phantoms, monkeypatch,
                                               django_capture_on_commit_callbacks):
    queued: list[tuple[int, int]] = []
    monkeypatch.setattr("modelling.search.search_enqueue", lambda job, worker: queued.append((job, worker)))
    with django_capture_on_commit_callbacks(execute=True):
        response = post(admin_client, trials=4, workers=3, folds=3, space=SPACE, parameters=PARAMETERS,
                        data_selection=truth_selection())
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["job_type"] == "search" and job["status"] == "queued"
    assert job["parameters"]["space"] == SPACE and job["parameters"]["base"]["size"] == 64
    assert queued == [(job["id"], 0), (job["id"], 1), (job["id"], 2)]
    assert [j["id"] for j in admin_client.get("/api/search-jobs/").json()] == [job["id"]]
    assert admin_client.get(f"/api/search-jobs/{job['id']}/").json()["progress"]["steps"] == 4
    conflict = admin_client.post(f"/api/search-jobs/{job['id']}/train-best/")
    assert conflict.status_code == 409 and "no completed trial" in conflict.json()["detail"]


def test_storage_url_is_pleuras_database():
    url = search_storage_url()
    assert url.startswith("postgresql+psycopg://") and url.endswith("/test_" + url.rsplit("/test_", 1)[1])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_search_runs_in_process_and_its_best_trains(admin_client, phantoms, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    job = search_job_submit(kind="embedding", trials=3, folds=3, space=SPACE, parameters=PARAMETERS,
                            data_selection=truth_selection(), enqueue=lambda job, worker: None)
    assert search_job_run(job_id=job.pk, worker=0, task_id="t", worker_host="here") == "succeeded"
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    summary = job.progress["summary"]
    assert job.progress["step"] == 3 and job.progress["best_value"] == summary["best"]["value"]
    assert len(summary["history"]) == 3 and set(summary["importances"]) <= {"l2", "sord_scale"}
    assert set(summary["best"]["params"]) == {"l2", "sord_scale"}

    queued: list[int] = []
    original = training_job_submit
    monkeypatch.setattr("modelling.search.training_job_submit",
                        lambda **kw: original(**{**kw, "enqueue": queued.append}))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/api/search-jobs/{job.pk}/train-best/")
    assert response.status_code == 201, response.content
    training = TrainingJob.objects.get(pk=response.json()["id"])
    assert training.job_type == JobType.TRAINING and training.kind == "embedding"
    assert training.parameters["l2"] == pytest.approx(summary["best"]["params"]["l2"])
    assert training.data_selection == job.data_selection and queued == [training.pk]


def test_a_cancelled_search_starts_no_worker(admin_client, phantoms):
    from modelling.services import training_job_cancel

    job = search_job_submit(kind="embedding", trials=3, workers=2, folds=3, space=SPACE, parameters=PARAMETERS,
                            data_selection=truth_selection(), enqueue=lambda job, worker: None)
    training_job_cancel(job=job)
    assert [search_job_run(job_id=job.pk, worker=w, task_id="t", worker_host="here") for w in (0, 1)] == \
        ["skipped", "skipped"]
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.attempts == 0


def broken_embedding(monkeypatch, breaks: list[bool]) -> None:
    """The workers' data embedding (the public name the search calls) raises where ``breaks`` says, one
    entry per call: a failure outside any trial, as an unreachable media store would cause."""
    calls = iter(breaks)

    def embed(*args, **kwargs):
        if next(calls):
            raise OSError("the media store is unreachable")
        return embedding_bags(*args, **kwargs)

    monkeypatch.setattr("modelling.search.embedding_bags", embed)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_failed_worker_leaves_the_job_to_the_others(phantoms, monkeypatch):
    job = search_job_submit(kind="embedding", trials=3, workers=3, folds=3, space=SPACE, parameters=PARAMETERS,
                            data_selection=truth_selection(), enqueue=lambda job, worker: None)
    broken_embedding(monkeypatch, [True, False, True])
    run = functools.partial(search_job_run, job_id=job.pk, task_id="t", worker_host="here")
    assert run(worker=1) == "worker failed"
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING, job.error  # the other workers still run trials
    assert job.progress["workers_failed"] == {"1": "OSError: the media store is unreachable"}
    assert run(worker=0) == "worker done"
    assert run(worker=2) == "succeeded"  # the last one out closes the job, though it failed itself
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.error == "" and job.finished_at is not None
    progress = job.progress
    assert progress["workers_done"] == [0] and sorted(progress["workers_failed"]) == ["1", "2"]
    assert progress["step"] == 3 and progress["summary"]["best"]["value"] == progress["best_value"]
    assert "worker 1 failed: Traceback" in job.log_tail and "worker 2 failed: Traceback" in job.log_tail
    assert run(worker=1) == "skipped"  # a late re-delivery cannot change the final status
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 3


def test_a_search_whose_workers_all_fail_fails_once_with_their_errors(phantoms, monkeypatch):
    job = search_job_submit(kind="embedding", trials=3, workers=2, folds=3, space=SPACE, parameters=PARAMETERS,
                            data_selection=truth_selection(), enqueue=lambda job, worker: None)
    broken_embedding(monkeypatch, [True, True])
    run = functools.partial(search_job_run, job_id=job.pk, task_id="t", worker_host="here")
    assert run(worker=0) == "worker failed"
    assert TrainingJob.objects.get(pk=job.pk).status == JobStatus.RUNNING  # worker 1 may still complete trials
    assert run(worker=1) == "failed"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("no trial completed: {} ")
    assert "worker 0: OSError: the media store is unreachable" in job.error
    assert "worker 1: OSError: the media store is unreachable" in job.error
