"""Video findings in the viewer's read models: the annotate page (vocabulary, mine with versions, others'
where visible), the validate page (lower levels beside mine) and the review grid (every visible rater's),
each in a number of queries that does not grow with raters or findings."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.services import user_ensure
from annotations.models import ProjectSettings
from annotations.services import video_findings_import, video_findings_write

pytestmark = pytest.mark.django_db


@pytest.fixture
def stated(world):
    video_findings_write(user=world.ann_a, video=world.v1, items=[{"finding": "b_lines", "present": True},
                                                                  {"finding": "a_lines", "present": False}])
    video_findings_write(user=world.ann_b, video=world.v1, items=[{"finding": "b_lines", "present": False}])
    video_findings_write(user=world.validator, video=world.v1, items=[{"finding": "effusion", "present": True}])
    video_findings_write(user=world.clinician, video=world.v1, items=[{"finding": "white_lung", "present": True}])
    return world


def _annotate(world, user) -> dict:  # type: ignore[no-untyped-def]
    response = world.client(user).get(f"/api/viewer/videos/{world.v1.pk}/annotate/")
    assert response.status_code == 200
    return response.json()


def test_annotate_has_the_vocabulary_and_my_findings_blind(stated):
    data = _annotate(stated, stated.ann_a)
    assert [f["code"] for f in data["findings"]][:3] == ["a_lines", "b_lines", "irregular_pleura"]
    assert data["findings"][1]["name"] == "B-lines"
    assert sorted((f["finding"], f["present"], f["version"]) for f in data["mine"]["findings"]) == [
        ("a_lines", False, 1), ("b_lines", True, 1)]
    assert data["others"] == []  # blind annotation
    ProjectSettings.objects.update_or_create(pk=1, defaults={"reveal_labels_to_annotators": True})
    revealed = {o["annotator"]["username"]: o["findings"] for o in _annotate(stated, stated.ann_a)["others"]}
    assert revealed["ann-b"] == {"b_lines": False} and revealed["doc"] == {"white_lung": True}
    as_validator = {o["annotator"]["username"]: o["findings"] for o in _annotate(stated, stated.validator)["others"]}
    assert set(as_validator) == {"ann-a", "ann-b"}  # below level 2 only
    assert [f["finding"] for f in _annotate(stated, stated.validator)["mine"]["findings"]] == ["effusion"]


def test_validate_shows_lower_level_findings_beside_mine(stated):
    data = stated.client(stated.validator).get(f"/api/viewer/videos/{stated.v1.pk}/validate/").json()
    assert sorted((f["annotator"], f["finding"], f["present"]) for f in data["video_findings"]) == sorted([
        (stated.ann_a.pk, "b_lines", True), (stated.ann_a.pk, "a_lines", False), (stated.ann_b.pk, "b_lines", False)])
    assert [(f["finding"], f["name"], f["present"]) for f in data["my_findings"]] == [
        ("effusion", "Pleural effusion", True)]
    assert {a["username"] for a in data["annotators"]} >= {"ann-a", "ann-b"}


def test_review_shows_every_visible_raters_findings(stated):
    patient = stated.v1.exam.patient_id
    data = stated.client(stated.clinician).get(f"/api/viewer/review/patients/{patient}/").json()
    v1 = next(v for v in data["videos"] if v["id"] == stated.v1.pk)
    names = {r["id"]: r["username"] for r in data["raters"]}
    assert sorted((names[f["annotator"]], f["finding"], f["present"]) for f in v1["findings"]) == [
        ("ann-a", "a_lines", False), ("ann-a", "b_lines", True), ("ann-b", "b_lines", False),
        ("doc", "white_lung", True), ("val", "effusion", True)]
    v2 = next(v for v in data["videos"] if v["id"] == stated.v2.pk)
    assert v2["findings"] == []
    as_validator = stated.client(stated.validator).get(f"/api/viewer/review/patients/{patient}/").json()
    shown = next(v for v in as_validator["videos"] if v["id"] == stated.v1.pk)["findings"]
    assert {f["annotator"] for f in shown} == {stated.ann_a.pk, stated.ann_b.pk, stated.validator.pk}


def test_queries_do_not_grow_with_findings(stated, django_assert_max_num_queries):
    ProjectSettings.objects.update_or_create(pk=1, defaults={"reveal_labels_to_annotators": True})
    urls = [(stated.ann_b, f"/api/viewer/videos/{stated.v1.pk}/annotate/"),
            (stated.validator, f"/api/viewer/videos/{stated.v1.pk}/validate/"),
            (stated.clinician, f"/api/viewer/review/patients/{stated.v1.exam.patient_id}/")]
    counts = []
    for user, url in urls:
        with django_assert_max_num_queries(30) as captured:
            assert stated.client(user).get(url).status_code == 200
        counts.append(len(captured.captured_queries))
    everything = {"a_lines": True, "b_lines": False, "irregular_pleura": True, "consolidation": False,
                  "white_lung": True, "effusion": False}
    for n in range(6):
        person = user_ensure(username=f"finder-{n}", role=Role.ANNOTATOR, validation_level=1)
        for video in (stated.v1, stated.v2):
            video_findings_import(annotator=person, video_id=video.pk, findings=everything)
    for (user, url), count in zip(urls, counts, strict=True):
        with django_assert_max_num_queries(count):
            assert stated.client(user).get(url).status_code == 200
