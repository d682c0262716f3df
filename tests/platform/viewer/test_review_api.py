"""/api/viewer/review/…: patients to review, one patient's zone grid with consensus, model and
disagreements, and the model-vs-consensus confusion; per role, with constant query counts."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.services import user_ensure
from annotations.services import video_score_import
from modelling.models import ModelKind, ModelVersion, VideoPrediction
from studies.models import Exam, Patient, Video
from studies.services import patient_upsert, site_ensure

pytestmark = pytest.mark.django_db


def _predict(version: ModelVersion, video: Video, score: int) -> None:
    probabilities = [0.1] * 4
    probabilities[score] = 0.7
    VideoPrediction.objects.create(video=video, model_version=version, score=score, probabilities=probabilities)


def _video(data: dict, video: Video) -> dict:
    return next(v for v in data["videos"] if v["id"] == video.pk)


@pytest.fixture
def review_world(world):
    """v1 (zone R1): doc 2, doc2 2 → consensus 2, model 1 (disagrees). v2 (zone L1): doc 0, doc2 3 → tie."""
    Video.objects.filter(pk=world.v1.pk).update(lung_zone="R1")
    Video.objects.filter(pk=world.v2.pk).update(lung_zone="L1")
    world.doc2 = user_ensure(username="doc2", role=Role.CLINICIAN, validation_level=4)
    video_score_import(annotator=world.doc2, video_id=world.v1.pk, score=2)
    video_score_import(annotator=world.clinician, video_id=world.v2.pk, score=0)
    video_score_import(annotator=world.doc2, video_id=world.v2.pk, score=3)
    video_score_import(annotator=world.ann_a, video_id=world.v1.pk, score=1)  # level 1: outranked by clinicians
    world.model = ModelVersion.objects.create(kind=ModelKind.AGGREGATOR, name="uninorm", is_active=True)
    _predict(world.model, world.v1, 1)
    _predict(world.model, world.v2, 3)
    world.patient = world.v1.exam.patient
    return world


@pytest.mark.parametrize("path", ["/api/viewer/review/patients/", "/api/viewer/review/confusion/"])
def test_annotators_get_403(review_world, path) -> None:
    assert review_world.client(review_world.ann_a).get(path).status_code == 403


def test_annotators_get_403_on_a_patient(review_world) -> None:
    response = review_world.client(review_world.ann_a).get(f"/api/viewer/review/patients/{review_world.patient.pk}/")
    assert response.status_code == 403


def test_anonymous_is_refused(review_world) -> None:
    from rest_framework.test import APIClient

    assert APIClient().get("/api/viewer/review/patients/").status_code in (401, 403)


def test_patient_list_with_search(review_world) -> None:
    other = patient_upsert(site=site_ensure(name="Site B"), code="Q-77", covid_status="negative")
    Exam.objects.create(patient=other)
    client = review_world.client(review_world.clinician)
    rows = client.get("/api/viewer/review/patients/").json()["results"]
    assert [(r["code"], r["n_videos"], r["n_scored"]) for r in rows] == [("P1", 2, 2), ("Q-77", 0, 0)]
    assert [r["code"] for r in client.get("/api/viewer/review/patients/?search=q-7").json()["results"]] == ["Q-77"]
    assert [r["code"] for r in client.get("/api/viewer/review/patients/?search=site b").json()["results"]] == ["Q-77"]


def test_patient_grid_consensus_model_and_disagreements(review_world) -> None:
    w = review_world
    data = w.client(w.clinician).get(f"/api/viewer/review/patients/{w.patient.pk}/").json()
    assert data["patient"]["code"] == "P1"
    assert [z["code"] for z in data["zones"]] == ["R1", "L1", "R2", "L2", "R3", "L3"]
    assert data["consensus_rule"] == "most_expert"
    assert data["model_version"]["id"] == w.model.pk
    assert {r["username"] for r in data["raters"]} == {"ann-a", "doc", "doc2"}
    assert [v["id"] for v in data["videos"]] == [w.v2.pk, w.v1.pk]  # by zone code within the exam
    v1, v2 = _video(data, w.v1), _video(data, w.v2)
    assert v1["consensus"] == 2 and v1["model"]["score"] == 1 and v1["model_disagrees"] and v1["raters_disagree"]
    assert v2["consensus"] is None and v2["consensus_tie"] and v2["raters_disagree"] and not v2["model_disagrees"]
    assert {s["annotator"]: s["score"] for s in v1["scores"]} == {w.ann_a.pk: 1, w.clinician.pk: 2, w.doc2.pk: 2}
    assert all(s["version"] == 1 for s in v1["scores"])
    assert data["confusion"]["n"] == 1 and data["confusion"]["matrix"][2][1] == 1
    assert data["confusion"]["agreement"] == 0
    assert data["may_annotate"] is False and data["may_validate"] is False


def test_grid_follows_an_accepted_model_score(review_world) -> None:
    """A clinician accepting the model's score writes their own video score; the consensus follows."""
    w = review_world
    client = w.client(w.doc2)
    response = client.post("/api/video-scores/", {"video": w.v2.pk, "score": 3, "version": 1}, format="json")
    assert response.status_code == 200
    response = client.post("/api/video-scores/", {"video": w.v2.pk, "score": 3, "version": None}, format="json")
    assert response.status_code == 428  # no version of a score that exists: refused (issue 16, item 7)
    w.clinician.refresh_from_db()
    client = w.client(w.clinician)
    own = next(s for s in _video(client.get(f"/api/viewer/review/patients/{w.patient.pk}/").json(), w.v2)["scores"]
               if s["annotator"] == w.clinician.pk)
    response = client.post("/api/video-scores/", {"video": w.v2.pk, "score": 3, "version": own["version"]},
                           format="json")
    assert response.status_code == 200
    v2 = _video(client.get(f"/api/viewer/review/patients/{w.patient.pk}/").json(), w.v2)
    assert v2["consensus"] == 3 and not v2["raters_disagree"] and not v2["model_disagrees"]
    stale = client.post("/api/video-scores/", {"video": w.v2.pk, "score": 1, "version": own["version"]},
                        format="json")
    assert stale.status_code == 409


def test_validators_see_only_labels_below_their_level(review_world) -> None:
    w = review_world
    data = w.client(w.validator).get(f"/api/viewer/review/patients/{w.patient.pk}/").json()
    assert {r["username"] for r in data["raters"]} == {"ann-a"}
    v1 = _video(data, w.v1)
    assert v1["consensus"] == 1 and not v1["model_disagrees"]  # ann-a's 1 = the model's 1
    assert data["may_annotate"] is True and data["may_validate"] is True
    (row,) = w.client(w.validator).get("/api/viewer/review/patients/").json()["results"]
    assert (row["n_videos"], row["n_scored"]) == (2, 1)  # the clinicians' scores of v2 are above level 2


def test_another_model_version_can_be_chosen(review_world) -> None:
    w = review_world
    scorer = ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn", is_active=True)
    _predict(scorer, w.v1, 2)
    client = w.client(w.admin)
    data = client.get(f"/api/viewer/review/patients/{w.patient.pk}/?model_version={scorer.pk}").json()
    assert data["model_version"]["id"] == scorer.pk
    v1, v2 = _video(data, w.v1), _video(data, w.v2)
    assert v1["model"]["score"] == 2 and not v1["model_disagrees"] and v2["model"] is None
    assert {v["id"] for v in data["model_versions"]} == {w.model.pk, scorer.pk}
    assert client.get(f"/api/viewer/review/patients/{w.patient.pk}/?model_version=x").status_code == 400


def test_no_model_and_fourteen_zones(world) -> None:
    Video.objects.filter(pk=world.v1.pk).update(lung_zone="Z03")
    data = world.client(world.clinician).get(f"/api/viewer/review/patients/{world.v1.exam.patient_id}/").json()
    assert data["model_version"] is None and data["confusion"]["n"] == 0 and data["confusion"]["reason"]
    assert [z["code"] for z in data["zones"]] == [f"Z{n:02d}" for n in range(1, 15)] + [""]


def test_unknown_patient_is_404(review_world) -> None:
    assert review_world.client(review_world.clinician).get("/api/viewer/review/patients/999999/").status_code == 404


def test_confusion_over_everything(review_world) -> None:
    w = review_world
    data = w.client(w.clinician).get("/api/viewer/review/confusion/").json()
    assert data["confusion"]["n"] == 1 and data["n_predicted"] == 2 and data["n_with_consensus"] == 1
    site = w.patient.site_id
    assert w.client(w.clinician).get(f"/api/viewer/review/confusion/?site={site + 100}").json()["confusion"]["n"] == 0


def _grow(world, videos: int, raters: int) -> None:
    """More videos, raters and predictions on the world's patient (for query counts)."""
    exam = world.v1.exam
    doctors = [user_ensure(username=f"doc-{n}", role=Role.CLINICIAN, validation_level=3) for n in range(raters)]
    version = ModelVersion.objects.get(kind=ModelKind.AGGREGATOR)
    for n in range(videos):
        video = Video.objects.create(exam=exam, fps=25, frame_count=1, width=8, height=8, format="mp4",
                                     source_file=f"g{n}.mp4", original_name=f"g{n}.mp4", sha256=f"g{n:063d}",
                                     lung_zone="R2")
        for index, doctor in enumerate(doctors):
            video_score_import(annotator=doctor, video_id=video.pk, score=(n + index) % 4)
        _predict(version, video, n % 4)
        patient_upsert(site=exam.patient.site, code=f"G{n}", covid_status="unknown")


@pytest.mark.parametrize("path", ["/api/viewer/review/patients/{patient}/", "/api/viewer/review/patients/",
                                  "/api/viewer/review/confusion/"])
def test_queries_do_not_grow(review_world, django_assert_max_num_queries, path) -> None:
    w = review_world
    url = path.format(patient=w.patient.pk)
    client = w.client(w.clinician)
    with django_assert_max_num_queries(8) as small:
        assert client.get(url).status_code == 200
    _grow(w, videos=12, raters=5)
    assert Patient.objects.count() > 10
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url).status_code == 200


def test_a_version_being_scored_says_so(world, tmp_path) -> None:
    """Activating a version without predictions queues its scoring; the review of any patient shows that
    job (instead of an unexplained "no prediction") until it ends."""
    from modelling.models import JobStatus, TrainingJob
    from modelling.services import model_version_activate
    from tests.platform.modelling.test_job_submission import make_version

    client = world.client(world.clinician)
    path = f"/api/viewer/review/patients/{world.v1.exam.patient_id}/"
    assert client.get(path).json()["scoring"] is None
    version = model_version_activate(version=make_version(tmp_path))
    job = TrainingJob.objects.get(model_version=version)
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, progress={"step": 1, "steps": 2})
    body = client.get(path).json()
    assert body["model_version"]["id"] == version.pk
    assert body["scoring"] == {"job": job.pk, "status": "running", "done": 1, "total": 2}
    TrainingJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    assert client.get(path).json()["scoring"] is None
