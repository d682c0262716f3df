"""Jobs fail at submission with a clear message; versions activate and roll back; API by role."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile

from accounts.models import Role
from accounts.services import user_ensure
from annotations.models import FrameScore
from annotations.services import frame_scores_import
from ml.checkpoint import save_checkpoint
from ml.models import create_model
from modelling.models import JobType, ModelActivation, ModelKind, ModelVersion, TrainingJob
from modelling.services import (
    JobSubmissionError,
    model_version_activate,
    model_version_create,
    model_version_rollback,
    training_job_submit,
)
from studies.models import Exam, Frame, Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(patient, annotator):
    """Eight frames scored 0,1,2,3,0,1,2,3 by one annotator; a second video scored 0 and 1 only."""
    exam = Exam.objects.create(patient=patient)
    frame_ids = []
    for v in range(2):
        video = Video.objects.create(exam=exam, fps=25, frame_count=4, width=8, height=8, format="mp4",
                                     source_file=f"v{v}.mp4", original_name=f"v{v}.mp4", sha256=str(v) * 64)
        frame_ids += [Frame.objects.create(video=video, index=i, image=f"f{v}{i}.png").pk for i in range(4)]
    frame_scores_import(annotator=annotator, scores={fid: i % 4 for i, fid in enumerate(frame_ids)})
    return frame_ids


def submit(**kwargs):
    return training_job_submit(enqueue=lambda job_id: None, **kwargs)


def test_valid_job_is_queued_after_commit(labelled, django_capture_on_commit_callbacks):
    queued: list[int] = []
    with django_capture_on_commit_callbacks(execute=True):
        job = training_job_submit(kind="frame_scorer", parameters={"epochs": 1, "size": [64, 64]},
                                  enqueue=queued.append)
    assert queued == [job.pk] and job.status == "queued"
    assert job.parameters["model"] == "reg_stn" and job.parameters["size"] == [64, 64]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "bogus"}, "unknown model kind 'bogus'"),
    ({"kind": "segmentation"}, "no contoured frame matches this data selection"),
    ({"kind": "segmentation", "parameters": {"models": ["reg_stn"]}}, "unknown model 'reg_stn' for task 'segmentation'"),
    ({"kind": "segmentation", "parameters": {"mc_samples": 1}}, "mc_samples must be 0 or >= 2"),
    ({"kind": "sequence", "parameters": {"model": "reg_stn"}}, "unknown model 'reg_stn' for task 'sequence'"),
    ({"kind": "sequence", "parameters": {"window": 0}}, "window must be >= 1"),
    ({"kind": "sequence"}, "the video model needs labelled videos of at least two different scores"),
    ({"kind": "frame_scorer", "parameters": {"epochs": 0}}, "epochs must be >= 1"),
    ({"kind": "frame_scorer", "parameters": {"model": "no_such_net"}}, "unknown"),
    ({"kind": "frame_scorer", "parameters": {"learning_rate": 1}}, "unknown parameter(s) for frame_scorer: learning_rate"),
    ({"kind": "frame_scorer", "parameters": {"activate": "yes"}}, "parameter activate must be bool"),
    ({"kind": "frame_scorer", "data_selection": {"consensus": "vote"}}, "consensus must be one of"),
    ({"kind": "frame_scorer", "data_selection": {"min_level": 9}}, "min_level must be 1–4"),
    ({"kind": "frame_scorer", "data_selection": {"color": "red"}}, "unknown data selection field(s): color"),
    ({"kind": "frame_scorer", "data_selection": {"min_level": 3}}, "no eligible labels"),
    ({"kind": "aggregator"}, "activate a frame scorer first"),
])
def test_bad_jobs_fail_at_submission(labelled, kwargs, message):
    with pytest.raises(JobSubmissionError) as caught:
        submit(**kwargs)
    assert message in str(caught.value)
    assert TrainingJob.objects.count() == 0


def test_missing_class_fails_at_submission(labelled):
    FrameScore.objects.filter(score__gte=2).delete()
    with pytest.raises(JobSubmissionError, match=r"score\(s\) 2, 3 have no labels"):
        submit(kind="frame_scorer")
    assert TrainingJob.objects.count() == 0


def make_version(tmp_path: Path, name: str = "v") -> ModelVersion:
    model = create_model("cnn_sord")
    path = save_checkpoint(tmp_path / f"{name}.pt", model=model, epoch=1,
                           config={"model": "cnn_sord", "model_kwargs": {}, "size": [64, 64]})
    return model_version_create(kind=ModelKind.FRAME_SCORER, name="cnn_sord", weights=path, config={},
                                metrics={}, data_snapshot={})


def test_activate_and_roll_back_are_recorded(tmp_path):
    first, second = make_version(tmp_path, "a"), make_version(tmp_path, "b")
    model_version_activate(version=first)
    model_version_activate(version=second)
    assert list(ModelVersion.objects.filter(is_active=True)) == [second]

    restored = model_version_rollback(kind=ModelKind.FRAME_SCORER)

    assert restored == first and list(ModelVersion.objects.filter(is_active=True)) == [first]
    assert [(a.previous_id, a.version_id, a.is_rollback) for a in ModelActivation.objects.order_by("id")] == [
        (None, first.pk, False), (first.pk, second.pk, False), (second.pk, first.pk, True)]


def test_activation_history_names_who_switched(tmp_path, client, django_assert_max_num_queries):
    admin = user_ensure(username="history-admin", role=Role.ADMIN, validation_level=4)
    versions = [make_version(tmp_path, str(n)) for n in range(4)]
    for version in versions:
        model_version_activate(version=version, by=admin)
    model_version_rollback(kind=ModelKind.FRAME_SCORER)  # by nobody: the system
    client.force_login(admin)
    with django_assert_max_num_queries(4):  # session, user, activations with their users: not one per row
        history = client.get("/api/model-activations/").json()
    assert [(a["previous"], a["version"], a["is_rollback"], a["activated_by_name"]) for a in history] == [
        (versions[3].pk, versions[2].pk, True, None),
        *[(versions[n - 1].pk if n else None, versions[n].pk, False, "history-admin") for n in (3, 2, 1, 0)]]


def test_corrupt_weights_leave_the_previous_version_active(tmp_path):
    good = model_version_activate(version=make_version(tmp_path))
    broken = ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="cnn_sord")
    broken.weights.save("models/broken.pt", ContentFile(b"this is not a checkpoint"))

    with pytest.raises(ValueError, match=r"weights cannot be loaded|not a Pleura checkpoint"):
        model_version_activate(version=broken)

    assert list(ModelVersion.objects.filter(is_active=True)) == [good]
    assert ModelActivation.objects.count() == 1


def test_rollback_without_history_is_refused():
    with pytest.raises(ValueError, match="no earlier frame_scorer version"):
        model_version_rollback(kind=ModelKind.FRAME_SCORER)


@pytest.mark.parametrize(("role", "expected"), [(Role.ANNOTATOR, 403), (Role.CLINICIAN, 403), (Role.ADMIN, 201)])
def test_job_api_is_for_admins(client, labelled, role, expected, monkeypatch):
    monkeypatch.setattr("modelling.services.training_enqueue", lambda job_id: None)
    user = user_ensure(username=f"u-{role}", role=role, validation_level=4)
    client.force_login(user)
    response = client.post("/api/jobs/", {"kind": "frame_scorer", "parameters": {"epochs": 1}},
                           content_type="application/json")
    assert response.status_code == expected
    if expected == 201:
        job_id = response.json()["id"]
        assert client.get(f"/api/jobs/{job_id}/").json()["status"] == "queued"
        cancelled = client.post(f"/api/jobs/{job_id}/cancel/")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert client.get("/api/model-versions/").status_code == 200


def test_job_api_explains_bad_requests(admin_client, labelled):
    response = admin_client.post("/api/jobs/", {"kind": "frame_scorer", "parameters": {"epochs": -1}},
                                 content_type="application/json")
    assert response.status_code == 400 and "epochs must be >= 1" in response.json()["detail"]
    assert admin_client.post("/api/jobs/", {"kind": "nope"}, content_type="application/json").status_code == 400


def test_anonymous_users_get_nothing(client):
    assert client.get("/api/jobs/").status_code in (401, 403)


def test_new_videos_are_scored_when_a_model_is_active(tmp_path, patient, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    from studies.services import video_ingest
    from tests.platform.conftest import synthetic_frames, write_container

    queued: list[int] = []
    monkeypatch.setattr("modelling.services.scoring_enqueue", queued.append)
    first = write_container(tmp_path / "a.mp4", synthetic_frames(), "mp4v")
    with django_capture_on_commit_callbacks(execute=True):
        video_ingest(source=first, original_name="a.mp4", patient=patient)
    assert queued == []  # no active model yet

    with django_capture_on_commit_callbacks(execute=True):
        version = model_version_activate(version=make_version(tmp_path))
    activation_job = TrainingJob.objects.get(job_type=JobType.SCORING)  # a version without predictions: scored
    assert queued == [activation_job.pk] and activation_job.model_version == version
    assert activation_job.parameters == {"video_ids": None, "patient_id": None, "kinds": ["frame_scorer"]}
    second = write_container(tmp_path / "b.mp4", synthetic_frames(n=7), "mp4v")
    with django_capture_on_commit_callbacks(execute=True):
        video = video_ingest(source=second, original_name="b.mp4", patient=patient).video
    ingest_job = TrainingJob.objects.filter(job_type=JobType.SCORING).exclude(pk=activation_job.pk).get()
    assert queued == [activation_job.pk, ingest_job.pk] and ingest_job.status == "queued"
    assert ingest_job.parameters["video_ids"] == [video.pk] and ingest_job.kind == ""


def test_prediction_run_api(admin_client, tmp_path, patient, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr("modelling.services.scoring_enqueue", lambda job_id: None)
    assert admin_client.post("/api/predictions/run/", {}, content_type="application/json").status_code == 400
    model_version_activate(version=make_version(tmp_path))
    response = admin_client.post("/api/predictions/run/", {"patient_id": patient.pk}, content_type="application/json")
    job = TrainingJob.objects.get(pk=response.json()["job"])
    assert response.status_code == 202 and job.job_type == JobType.SCORING and job.status == "queued"
    assert job.parameters == {"video_ids": None, "patient_id": patient.pk, "kinds": None}
    bad = admin_client.post("/api/predictions/run/", {"video_ids": [999999]}, content_type="application/json")
    assert bad.status_code == 400 and "unknown video id(s): 999999" in bad.json()["detail"]
