"""/api/viewer/agreement/options/: what an agreement report's scope can be made of (validators,
clinicians, admins), in a constant number of queries."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.services import user_ensure
from annotations.services import video_score_import
from modelling.models import ModelKind, ModelVersion

pytestmark = pytest.mark.django_db
PATH = "/api/viewer/agreement/options/"


def test_roles(world) -> None:
    assert world.client(world.ann_a).get(PATH).status_code == 403
    for user in (world.validator, world.clinician, world.admin):
        assert world.client(user).get(PATH).status_code == 200


def test_options(world) -> None:
    version = ModelVersion.objects.create(kind=ModelKind.AGGREGATOR, name="uninorm", is_active=True)
    data = world.client(world.clinician).get(PATH).json()
    assert data["kinds"] == ["frame", "video", "contour", "finding"]
    assert [s["name"] for s in data["sites"]] == ["Site A"]
    assert [r["username"] for r in data["raters"]] == ["ann-a", "ann-b", "doc"]  # only people with labels
    assert data["model_versions"] == [{"id": version.pk, "kind": "aggregator", "name": "uninorm", "is_active": True}]
    assert "aggregator" in data["model_kinds_for"]["video"] and data["model_kinds_for"]["contour"] == []
    assert data["model_kinds_for"]["finding"] == []  # findings compare people only


def test_people_with_findings_only_are_raters(world) -> None:
    from annotations.services import video_findings_import

    video_findings_import(annotator=world.validator, video_id=world.v1.pk, findings={"b_lines": True})
    data = world.client(world.clinician).get(PATH).json()
    assert [r["username"] for r in data["raters"]] == ["ann-a", "ann-b", "doc", "val"]


def test_queries_do_not_grow(world, django_assert_max_num_queries) -> None:
    client = world.client(world.validator)
    with django_assert_max_num_queries(8) as small:
        client.get(PATH)
    for n in range(5):
        video_score_import(annotator=user_ensure(username=f"r{n}", role=Role.CLINICIAN, validation_level=4),
                           video_id=world.v2.pk, score=n % 4)
        ModelVersion.objects.create(kind=ModelKind.FRAME_SCORER, name=f"m{n}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get(PATH).json()["raters"]) == 8
