"""Video findings through the API: the vocabulary (read for all, written by admins), the role-filtered
list with its filters, and the per-video bulk write with versions (409), validation (400) and 404s."""

from __future__ import annotations

import pytest

from annotations.models import Finding, LabelChange, VideoFinding

pytestmark = pytest.mark.django_db


def test_vocabulary_is_read_by_everyone_and_written_by_admins(world, client):
    listed = world.client(world.ann_a).get("/api/findings/")
    assert listed.status_code == 200
    assert [f["code"] for f in listed.json()][:2] == ["a_lines", "b_lines"]
    assert client.get("/api/findings/").status_code in (401, 403)  # anonymous
    refused = world.client(world.ann_a).post("/api/findings/", {"code": "lung_pulse", "name": "Lung pulse"},
                                             format="json")
    assert refused.status_code == 403
    admin = world.client(world.admin)
    made = admin.post("/api/findings/", {"code": "lung_pulse", "name": "Lung pulse", "order": 9}, format="json")
    assert made.status_code == 201 and made.json()["code"] == "lung_pulse"
    assert admin.post("/api/findings/", {"code": "lung_pulse", "name": "x"}, format="json").status_code == 400
    renamed = admin.patch(f"/api/findings/{made.json()['id']}/", {"name": "Lung pulse (M-mode)", "code": "no"},
                          format="json")
    assert renamed.status_code == 200 and renamed.json() == {**made.json(), "name": "Lung pulse (M-mode)"}
    b_lines = Finding.objects.get(code="b_lines")
    world.client(world.ann_a).post(f"/api/videos/{world.v1.pk}/findings/",
                                   {"items": [{"finding": "b_lines", "present": True}]}, format="json")
    assert admin.delete(f"/api/findings/{b_lines.pk}/").status_code == 409  # in use
    assert admin.delete(f"/api/findings/{made.json()['id']}/").status_code == 204


def test_bulk_write_versions_conflicts_and_validation(world):
    client = world.client(world.ann_a)
    url = f"/api/videos/{world.v1.pk}/findings/"
    made = client.post(url, {"items": [{"finding": "b_lines", "present": True},
                                       {"finding": "consolidation", "present": False}]}, format="json")
    assert made.status_code == 200
    assert [(f["finding"], f["present"], f["version"]) for f in made.json()] == [
        ("b_lines", True, 1), ("consolidation", False, 1)]
    changed = client.post(url, {"items": [{"finding": "b_lines", "present": False, "version": 1}]}, format="json")
    assert changed.status_code == 200 and changed.json()[0]["version"] == 2
    stale = client.post(url, {"items": [{"finding": "b_lines", "present": True, "version": 1}]}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current"][0]["current"] == {**stale.json()["current"][0]["current"], "present": False,
                                                     "version": 2}
    bad = client.post(url, {"items": [{"finding": "effusion", "present": True},
                                      {"finding": "nodules", "present": True}]}, format="json")
    assert bad.status_code == 400 and "items[1].finding" in bad.json()["errors"]
    assert not VideoFinding.objects.filter(finding__code="effusion").exists()
    assert client.post(f"/api/videos/{world.v2.pk}/findings/", {"items": [{"finding": "b_lines", "present": True}]},
                       format="json").status_code == 404  # not assigned to ann-a
    assert client.post(url, {"items": []}, format="json").status_code == 400
    history = client.get("/api/label-history/?label_type=video_finding").json()["results"]
    assert sorted(h["action"] for h in history) == ["create", "create", "update"]
    assert LabelChange.objects.filter(label_type="video_finding", changed_by=world.ann_a).count() == 3


def test_list_is_role_filtered_and_filterable(world):
    for user, present in ((world.ann_a, True), (world.ann_b, False), (world.clinician, True)):
        world.client(user).post(f"/api/videos/{world.v1.pk}/findings/",
                                {"items": [{"finding": "b_lines", "present": present},
                                           {"finding": "a_lines", "present": not present}]}, format="json")
    mine = world.client(world.ann_a).get("/api/video-findings/").json()["results"]
    assert {f["annotator"] for f in mine} == {world.ann_a.pk}
    doc = world.client(world.clinician)
    assert len(doc.get("/api/video-findings/").json()["results"]) == 6
    b_lines = doc.get("/api/video-findings/?finding=b_lines&present=true").json()["results"]
    assert {f["annotator"] for f in b_lines} == {world.ann_a.pk, world.clinician.pk}
    by_level = doc.get(f"/api/video-findings/?min_validation_level=4&video={world.v1.pk}").json()["results"]
    assert {f["annotator"] for f in by_level} == {world.clinician.pk}
    absent = doc.get("/api/video-findings/?present=false").json()["results"]
    assert {(f["annotator"], f["finding"]) for f in absent} == {
        (world.ann_a.pk, "a_lines"), (world.ann_b.pk, "b_lines"), (world.clinician.pk, "a_lines")}
