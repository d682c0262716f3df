"""What each role may see and do through the API (blind annotation, validation levels, admins)."""

from __future__ import annotations

import pytest

from annotations.models import ProjectSettings

pytestmark = pytest.mark.django_db


def ids(response) -> set[int]:  # type: ignore[no-untyped-def]
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row["id"] for row in rows}


def annotators_of(response) -> set[int]:  # type: ignore[no-untyped-def]
    return {row["annotator"] for row in response.json()["results"]}


def test_annotators_see_only_assigned_videos_and_frames(world):
    client = world.client(world.ann_a)
    assert ids(client.get("/api/videos/")) == {world.v1.pk}
    assert client.get(f"/api/videos/{world.v2.pk}/").status_code == 404
    hidden = world.frames(world.v2)[0]
    assert client.get(f"/api/frames/{hidden.pk}/image/").status_code == 404
    assert client.get(f"/api/frames/?video={world.v2.pk}").json()["results"] == []
    assert ids(world.client(world.ann_b).get("/api/videos/")) == {world.v1.pk, world.v2.pk}


def test_blind_annotation_until_the_project_reveals_labels(world):
    client = world.client(world.ann_a)
    assert annotators_of(client.get("/api/frame-scores/")) == {world.ann_a.pk}
    assert client.get("/api/predictions/frames/").status_code == 403
    ProjectSettings.objects.update_or_create(pk=1, defaults={"reveal_labels_to_annotators": True})
    assert annotators_of(client.get("/api/frame-scores/")) == {world.ann_a.pk, world.ann_b.pk, world.clinician.pk}
    assert client.get("/api/predictions/frames/").status_code == 200


def test_validators_see_their_own_and_lower_levels(world):
    seen = annotators_of(world.client(world.validator).get("/api/frame-scores/"))
    assert seen == {world.ann_a.pk, world.ann_b.pk}  # not the clinician's level-4 score


def test_clinicians_see_every_label_and_model_output(world):
    client = world.client(world.clinician)
    assert annotators_of(client.get("/api/frame-scores/")) == {world.ann_a.pk, world.ann_b.pk, world.clinician.pk}
    assert client.get("/api/predictions/videos/").status_code == 200
    assert client.get("/api/users/").status_code == 403


@pytest.mark.parametrize("path", ["/api/users/", "/api/assignments/", "/api/jobs/", "/api/model-versions/",
                                  "/api/project-settings/"])
def test_admin_only_endpoints(world, path):
    for user in (world.ann_a, world.validator, world.clinician):
        assert world.client(user).get(path).status_code == 403
    assert world.client(world.admin).get(path).status_code == 200


def test_admins_manage_users_and_assignments(world):
    client = world.client(world.admin)
    created = client.post("/api/users/", {"username": "newbie", "role": "annotator", "validation_level": 1,
                                          "password": "a-Long-enough-pass-123"}, format="json")
    assert created.status_code == 201 and "password" not in created.json()
    assigned = client.post("/api/assignments/", {"video": world.v2.pk, "annotator": created.json()["id"]},
                           format="json")
    assert assigned.status_code == 201


@pytest.mark.parametrize("path", ["/api/videos/", "/api/frame-scores/", "/api/exports/?format=csv", "/api/sites/"])
def test_anonymous_requests_are_refused(client, world, path):
    assert client.get(path).status_code in (401, 403)


def test_only_admins_create_sites_and_upload(world):
    assert world.client(world.ann_a).post("/api/sites/", {"name": "X"}, format="json").status_code == 403
    assert world.client(world.admin).post("/api/sites/", {"name": "X"}, format="json").status_code == 201
    assert world.client(world.clinician).post("/api/videos/upload/", {}, format="multipart").status_code == 403


def test_date_filters_accept_any_valid_offset(world):
    """+18:30 is valid ISO 8601 but beyond PostgreSQL's literal range (found by schemathesis)."""
    response = world.client(world.clinician).get("/api/frame-scores/",
                                                 {"updated_before": "8187-11-15T19:54:22+18:30"})
    assert response.status_code == 200 and len(response.json()["results"]) == 4


@pytest.mark.parametrize(("body", "message"), [
    ({"username": "probeuser1", "password": "probeuser1"}, "too similar"),  # once accepted
    ({"username": "newbie2", "password": "short"}, "too short"),
])
def test_user_passwords_pass_every_validator_with_their_user(world, body, message):
    client = world.client(world.admin)
    response = client.post("/api/users/", {"role": "annotator", "validation_level": 1, **body}, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"]["password"])
    created = client.post("/api/users/", {"username": "writer", "role": "annotator", "validation_level": 1},
                          format="json")
    renamed = client.patch(f"/api/users/{created.json()['id']}/", {"password": "writer12"}, format="json")
    assert renamed.status_code == 400 and "too similar" in " ".join(renamed.json()["errors"]["password"])
