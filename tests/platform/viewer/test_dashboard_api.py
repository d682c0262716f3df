"""/api/viewer/dashboard/…: dataset statistics and the training form's options, admins only, with a
constant number of queries."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.services import user_ensure
from annotations.services import frame_scores_import, video_score_import
from modelling.models import JobStatus, ModelKind, ModelVersion, TrainingJob
from studies.models import Frame

pytestmark = pytest.mark.django_db
PATHS = ["/api/viewer/dashboard/stats/", "/api/viewer/dashboard/training-options/"]


@pytest.mark.parametrize("path", PATHS)
def test_only_admins(world, path) -> None:
    for user in (world.ann_a, world.validator, world.clinician):
        assert world.client(user).get(path).status_code == 403, user
    assert world.client(world.admin).get(path).status_code == 200


def test_stats(world) -> None:
    ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name="reg_stn", is_active=True)
    TrainingJob.objects.create(kind=ModelKind.FRAME_SCORER, status=JobStatus.FAILED)
    data = world.client(world.admin).get("/api/viewer/dashboard/stats/").json()
    assert data["totals"] == {"sites": 1, "patients": 1, "exams": 1, "videos": 2, "frames": 6,
                              "frame_scores": 4, "video_scores": 1, "contours": 0}
    by_level = {row["level"]: row for row in data["labels_per_level"]}
    assert by_level[1]["frame_scores"] == 3 and by_level[4]["frame_scores"] == 1 and by_level[4]["video_scores"] == 1
    assert by_level[2] == {"level": 2, "frame_scores": 0, "video_scores": 0, "contours": 0}
    people = {row["username"]: row for row in data["labels_per_annotator"]}
    assert people["ann-a"]["frame_scores"] == 2 and people["doc"] == {
        "id": world.clinician.pk, "username": "doc", "role": "clinician", "frame_scores": 1, "video_scores": 1,
        "contours": 0}
    assert data["frame_score_distribution"] == [1, 1, 1, 1]
    assert data["video_score_distribution"] == [0, 0, 1, 0]
    assert data["jobs_per_status"]["failed"] == 1 and data["jobs_per_status"]["queued"] == 0
    assert [v["name"] for v in data["active_versions"]] == ["reg_stn"]


def test_training_options() -> None:
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(admin)
    data = client.get("/api/viewer/dashboard/training-options/").json()
    from modelling.models import ModelKind

    kinds = {k["value"] for k in data["kinds"]}
    assert {"frame_scorer", "aggregator"} <= kinds
    assert kinds == set(ModelKind.values) == set(data["defaults"])  # every kind is trainable, with defaults
    assert "reg_stn" in {m["name"] for m in data["frame_models"]}
    assert data["defaults"]["frame_scorer"]["epochs"] >= 1 and "max_epochs" in data["defaults"]["aggregator"]
    assert data["data_selection"]["consensus"] == "majority" and "most_expert" in data["consensus_rules"]


def test_stats_queries_do_not_grow(world, django_assert_max_num_queries) -> None:
    client = world.client(world.admin)
    with django_assert_max_num_queries(16) as small:
        assert client.get("/api/viewer/dashboard/stats/").status_code == 200
    frames = list(Frame.objects.values_list("id", flat=True))
    for n in range(6):
        user = user_ensure(username=f"extra-{n}", role=Role.ANNOTATOR, validation_level=1 + n % 4)
        frame_scores_import(annotator=user, scores={f: n % 4 for f in frames})
        video_score_import(annotator=user, video_id=world.v2.pk, score=n % 4)
    with django_assert_max_num_queries(len(small.captured_queries)):
        data = client.get("/api/viewer/dashboard/stats/").json()
    assert len(data["labels_per_annotator"]) == 9
