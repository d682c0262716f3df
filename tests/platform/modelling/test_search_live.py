"""Search jobs are live (issue 17): each finished trial joins the running job's progress ("trials": number,
state, value, params, seconds), so /api/search-jobs/<id>/ and the pushed job state carry the history while
the search runs; several workers' rows merge by trial number under the row lock, capped at LIVE_TRIALS."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Role, User
from accounts.services import user_ensure
from exchange.phantoms import TRUTH_USERNAME, phantoms_generate
from modelling import search
from modelling.models import JobStatus, JobType, ModelKind, TrainingJob
from modelling.search import LIVE_TRIALS, search_job_run, search_job_submit, search_progress_merge

pytestmark = pytest.mark.django_db

SPACE = [{"name": "l2", "type": "float", "low": 0.01, "high": 10.0, "log": True},
         {"name": "sord_scale", "type": "float", "low": 0.5, "high": 4.0}]


@pytest.fixture
def admin_client(client):
    client.force_login(user_ensure(username="boss", role=Role.ADMIN, validation_level=4))
    return client


def row(number: int, value: float | None, state: str = "COMPLETE") -> dict[str, Any]:
    return {"number": number, "state": state, "value": value, "params": {"l2": 0.1 * (number + 1)}, "seconds": 1.5}


def running_search() -> TrainingJob:
    return TrainingJob.objects.create(
        job_type=JobType.SEARCH, kind=ModelKind.EMBEDDING, status=JobStatus.RUNNING,
        parameters={"objective": "kappa", "trials": 4, "workers": 2, "folds": 3, "seed": 0, "space": SPACE,
                    "max_time_s": None, "base": {}},
        progress={"phase": "search", "step": 0, "steps": 4, "workers_done": []})


def test_workers_rows_merge_by_number_and_are_capped(admin_client):
    job = running_search()
    search_progress_merge(job.pk, {"step": 2}, trials=[row(0, 0.4), row(1, 0.5)])
    # another worker, whose view of the study is older (trial 1 missing) and has its own new trial 2
    search_progress_merge(job.pk, {"step": 3}, trials=[row(0, 0.4), row(2, None, "PRUNED")])
    detail = admin_client.get(f"/api/search-jobs/{job.pk}/").json()
    assert detail["status"] == "running"
    assert detail["progress"]["trials"] == [row(0, 0.4), row(1, 0.5), row(2, None, "PRUNED")]
    assert [j["progress"]["trials"] for j in admin_client.get("/api/search-jobs/").json()] == \
        [detail["progress"]["trials"]]

    search_progress_merge(job.pk, {}, trials=[row(n, 0.1) for n in range(3, LIVE_TRIALS + 10)])
    job.refresh_from_db()
    numbers = [t["number"] for t in job.progress["trials"]]
    assert len(numbers) == LIVE_TRIALS and numbers[-1] == LIVE_TRIALS + 9 and numbers == sorted(numbers)


def test_a_running_search_s_detail_has_its_finished_trials(admin_client, monkeypatch):
    """The real trial callback on a real study (Pleura's database), with a stand-in for the costly part (the
    embeddings and the cross-validation): while the job still runs, every finished trial is in its detail."""
    phantoms_generate(videos=36, frames=4, size=64, annotators=0, seed=4)  # six patients: the search validates
    truth = User.objects.get(username=TRUTH_USERNAME).pk
    job = search_job_submit(kind="embedding", trials=3, folds=3, space=SPACE, parameters={"size": 64},
                            data_selection={"annotators": [truth], "validation_fraction": 0.0},
                            enqueue=lambda job, worker: None)
    monkeypatch.setattr(search, "embedding_bags", lambda *args, **kwargs: {})
    monkeypatch.setattr("ml.search.bag_evaluator",
                        lambda bags, **kwargs: lambda params, report: {"value": 1.0 / (1.0 + params["l2"])})
    seen: list[dict[str, Any]] = []
    publish = search.publish_job

    def read_while_running(state: TrainingJob) -> None:
        if state.status == JobStatus.RUNNING and state.progress.get("trials"):
            seen.append(admin_client.get(f"/api/search-jobs/{state.pk}/").json())
        publish(state)

    monkeypatch.setattr(search, "publish_job", read_while_running)
    assert search_job_run(job_id=job.pk, worker=0, task_id="t", worker_host="here") == "succeeded"

    live = [s for s in seen if s["status"] == "running" and "summary" not in s["progress"]]
    assert [len(s["progress"]["trials"]) for s in live] == [1, 2, 3]
    trials = live[-1]["progress"]["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2] and {t["state"] for t in trials} == {"COMPLETE"}
    assert all(set(t) == {"number", "state", "value", "params", "seconds"} for t in trials)
    assert all(t["value"] == pytest.approx(1.0 / (1.0 + t["params"]["l2"])) for t in trials)
    assert all(set(t["params"]) == {"l2", "sord_scale"} and t["seconds"] >= 0 for t in trials)
    assert live[-1]["progress"]["best_value"] == max(t["value"] for t in trials)
    job.refresh_from_db()
    assert [t["number"] for t in job.progress["summary"]["history"]] == [0, 1, 2]
