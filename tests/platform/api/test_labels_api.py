"""Label writes through the API: versions (409/412), all-or-nothing bulk writes, validation, history."""

from __future__ import annotations

import pytest

from annotations.models import Contour, FrameScore, LabelChange

pytestmark = pytest.mark.django_db


def own_score(world, user, frame):  # type: ignore[no-untyped-def]
    return FrameScore.objects.get(annotator=user, frame=frame)


def test_update_with_current_version_then_stale_version_conflicts(world):
    client = world.client(world.ann_a)
    frame = world.frames(world.v1)[0]
    label = own_score(world, world.ann_a, frame)

    first = client.put(f"/api/frame-scores/{label.pk}/", {"score": 3, "version": label.version}, format="json")
    assert first.status_code == 200 and first.json()["version"] == label.version + 1

    stale = client.put(f"/api/frame-scores/{label.pk}/", {"score": 1, "version": label.version}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current"][0]["current"]["score"] == 3  # the current state comes back
    assert own_score(world, world.ann_a, frame).score == 3

    precondition = client.put(f"/api/frame-scores/{label.pk}/", {"score": 1}, format="json",
                              HTTP_IF_MATCH=f'"{label.version}"')
    assert precondition.status_code == 412

    change = LabelChange.objects.filter(label_type="frame_score", label_id=label.pk).first()
    assert change.old_value["score"] == 0 and change.new_value["score"] == 3 and change.changed_by == world.ann_a
    history = client.get(f"/api/label-history/?label_id={label.pk}").json()["results"]
    assert [h["action"] for h in history] == ["update"]


def test_nobody_changes_another_persons_label(world):
    from annotations.models import ProjectSettings

    ProjectSettings.objects.update_or_create(pk=1, defaults={"reveal_labels_to_annotators": True})
    theirs = own_score(world, world.ann_b, world.frames(world.v1)[0])
    response = world.client(world.ann_a).put(f"/api/frame-scores/{theirs.pk}/", {"score": 1}, format="json")
    assert response.status_code == 403
    assert world.client(world.ann_a).delete(f"/api/frame-scores/{theirs.pk}/").status_code == 403
    assert own_score(world, world.ann_b, theirs.frame).score == 2


def test_bulk_scores_are_all_or_nothing(world):
    client = world.client(world.ann_a)
    frames = world.frames(world.v1)
    other_video_frame = world.frames(world.v2)[0]
    before = FrameScore.objects.count()

    bad = client.post(f"/api/videos/{world.v1.pk}/frame-scores/", {"items": [
        {"frame": frames[2].pk, "score": 1},
        {"frame": other_video_frame.pk, "score": 2},
        {"frame": frames[1].pk, "score": 7, "version": 1},
    ]}, format="json")
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert "is not a frame of video" in errors["items[1].frame"][0]
    assert "0–3" in errors["items[2].score"][0]
    assert FrameScore.objects.count() == before

    stale = client.post(f"/api/videos/{world.v1.pk}/frame-scores/", {"items": [
        {"frame": frames[2].pk, "score": 1}, {"frame": frames[0].pk, "score": 2, "version": 99}]}, format="json")
    assert stale.status_code == 409 and FrameScore.objects.count() == before

    good = client.post(f"/api/videos/{world.v1.pk}/frame-scores/", {"items": [
        {"frame": frames[2].pk, "score": 1}, {"frame": frames[0].pk, "score": 2, "version": 1}]}, format="json")
    assert good.status_code == 200
    assert [row["score"] for row in good.json()] == [1, 2]
    assert FrameScore.objects.count() == before + 1


def test_frame_score_representation_is_the_generic_one(world):
    """The serializer's unrolled to_representation answers exactly what DRF's field walk would."""
    from rest_framework import serializers

    from annotations.apis import FrameScoreSerializer

    rows = list(FrameScore.objects.order_by("pk")[:5])
    assert rows
    serializer = FrameScoreSerializer(rows, many=True)
    generic = [serializers.ModelSerializer.to_representation(serializer.child, row) for row in rows]
    assert serializer.data == generic


@pytest.mark.parametrize(("vertices", "message"), [
    ([[1, 1], [5, 5]], "at least 3"),
    ([[1, 1], [60, 1], [60, 200]], "outside"),
    ([[1, 1], [1e308, 1], [1, 1e308]], "outside"),  # once an OverflowError, a 500
    ([[1, 1], [30, 30], [30, 1], [1, 30]], "intersect"),
])
def test_bad_polygons_are_refused_with_field_errors(world, vertices, message):
    frame = world.frames(world.v1)[0]
    response = world.client(world.ann_a).put(f"/api/frames/{frame.pk}/contours/", {
        "contours": [{"segmentation_class": 2, "vertices": vertices}], "base": []}, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"]["contours[0].vertices"]).lower()
    assert Contour.objects.count() == 0


def test_contours_of_a_frame_are_saved_together_and_versioned(world):
    client = world.client(world.ann_a)
    frame = world.frames(world.v1)[1]
    square = [[5, 5], [20, 5], [20, 20], [5, 20]]
    created = client.put(f"/api/frames/{frame.pk}/contours/", {"contours": [
        {"segmentation_class": 2, "vertices": square}, {"segmentation_class": 4, "vertices": [[30, 5], [40, 5], [35, 15]]},
    ], "base": []}, format="json")
    assert created.status_code == 200 and len(created.json()) == 2
    first = created.json()[0]

    stale = client.put(f"/api/frames/{frame.pk}/contours/", {"contours": [], "base": []}, format="json")
    assert stale.status_code == 409 and len(stale.json()["current"]) == 2

    base = [{"id": c["id"], "version": c["version"]} for c in created.json()]
    moved = [[6, 6], [21, 6], [21, 21], [6, 21]]
    edited = client.put(f"/api/frames/{frame.pk}/contours/", {"contours": [
        {"id": first["id"], "segmentation_class": 2, "vertices": moved}], "base": base}, format="json")
    assert edited.status_code == 200
    assert edited.json()[0]["version"] == 2 and Contour.objects.filter(frame=frame).count() == 1
    actions = sorted(LabelChange.objects.filter(label_type="contour").values_list("action", flat=True))
    assert actions == ["create", "create", "delete", "update"]


def test_video_score_set_and_conflict(world):
    client = world.client(world.ann_a)
    made = client.post("/api/video-scores/", {"video": world.v1.pk, "score": 2}, format="json")
    assert made.status_code == 200 and made.json()["version"] == 1
    again = client.post("/api/video-scores/", {"video": world.v1.pk, "score": 3, "version": 1}, format="json")
    assert again.status_code == 200 and again.json()["version"] == 2
    stale = client.post("/api/video-scores/", {"video": world.v1.pk, "score": 0, "version": 1}, format="json")
    assert stale.status_code == 409
    hidden = client.post("/api/video-scores/", {"video": world.v2.pk, "score": 0}, format="json")
    assert hidden.status_code == 404


def test_malformed_json_is_a_400(world):
    response = world.client(world.ann_a).generic("POST", f"/api/videos/{world.v1.pk}/frame-scores/", "{not json",
                                                 content_type="application/json")
    assert response.status_code == 400


def test_a_label_that_exists_is_not_written_without_its_version(world):
    """Issue 16, item 7: no version where a label exists is 428 Precondition Required (with its state), not a
    silent overwrite; a stale version stays 409. Nothing of the request is written either way."""
    client = world.client(world.ann_a)
    f0, _, f2 = world.frames(world.v1)  # ann-a has scored f0 (0) and f1 (1), not f2
    url = f"/api/videos/{world.v1.pk}/frame-scores/"
    refused = client.post(url, {"items": [{"frame": f2.pk, "score": 1}, {"frame": f0.pk, "score": 3}]}, format="json")
    assert refused.status_code == 428
    (entry,) = refused.json()["current"]
    assert entry["frame"] == f0.pk and entry["current"]["score"] == 0 and entry["current"]["version"] == 1
    assert not FrameScore.objects.filter(annotator=world.ann_a, frame=f2).exists()
    assert own_score(world, world.ann_a, f0).score == 0

    label = own_score(world, world.ann_a, f0)
    assert client.put(f"/api/frame-scores/{label.pk}/", {"score": 2}, format="json").status_code == 428
    assert client.put(f"/api/frame-scores/{label.pk}/", {"score": 2}, format="json",
                      HTTP_IF_MATCH='"1"').status_code == 200
    assert client.delete(f"/api/frame-scores/{label.pk}/").status_code == 428
    assert client.delete(f"/api/frame-scores/{label.pk}/", HTTP_IF_MATCH='"2"').status_code == 204

    assert client.post("/api/video-scores/", {"video": world.v1.pk, "score": 2}, format="json").status_code == 200
    again = client.post("/api/video-scores/", {"video": world.v1.pk, "score": 3}, format="json")
    assert again.status_code == 428 and again.json()["current"][0]["current"]["score"] == 2
    findings = f"/api/videos/{world.v1.pk}/findings/"
    assert client.post(findings, {"items": [{"finding": "b_lines", "present": True}]}, format="json").status_code == 200
    assert client.post(findings, {"items": [{"finding": "b_lines", "present": False}]},
                       format="json").status_code == 428


def test_version_0_creates_and_conflicts_once_the_label_exists(world):
    """What the viewer's savers send for a label they have not stored yet: version 0."""
    client = world.client(world.ann_a)
    f2 = world.frames(world.v1)[2]
    url = f"/api/videos/{world.v1.pk}/frame-scores/"
    made = client.post(url, {"items": [{"frame": f2.pk, "score": 1, "version": 0}]}, format="json")
    assert made.status_code == 200 and made.json()[0]["version"] == 1
    late = client.post(url, {"items": [{"frame": f2.pk, "score": 2, "version": 0}]}, format="json")
    assert late.status_code == 409 and late.json()["current"][0]["current"]["score"] == 1
    assert client.post("/api/video-scores/", {"video": world.v1.pk, "score": 2, "version": 0},
                       format="json").status_code == 200
    assert client.post("/api/video-scores/", {"video": world.v1.pk, "score": 1, "version": 0},
                       format="json").status_code == 409


def _history(label_id: int) -> list[tuple]:
    return [(c.action, c.version, c.old_value, c.new_value, c.changed_by_id, c.owner_id, c.frame_id, c.video_id)
            for c in LabelChange.objects.filter(label_type="frame_score", label_id=label_id).order_by("id")]


def _value(label: FrameScore) -> dict:
    return {"id": label.pk, "score": label.score, "version": label.version,
            "validation_level": label.validation_level, "updated_at": label.updated_at.isoformat()}


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_bulk_save_writes_labels_and_history_alike_on_both_paths(world, monkeypatch, vendor):
    """The set-based statement (PostgreSQL) and the ORM path (SQLite, the embedded demo; run here by
    calling the connection sqlite) write the same rows, versions and history values."""
    from django.db import connection

    monkeypatch.setattr(connection, "vendor", vendor)
    client = world.client(world.validator)
    frames = world.frames(world.v1)
    url = f"/api/videos/{world.v1.pk}/frame-scores/"
    made = client.post(url, {"items": [{"frame": f.pk, "score": 1, "version": 0} for f in frames]}, format="json")
    assert made.status_code == 200
    first = {label.frame_id: label for label in FrameScore.objects.filter(annotator=world.validator)}
    assert [row["id"] for row in made.json()] == [first[f.pk].pk for f in frames]
    assert made.json()[0]["validation_level"] == 2 and made.json()[0]["source"] == "human"
    changed = client.post(url, {"items": [{"frame": frames[0].pk, "score": 3, "version": 1},
                                          {"frame": frames[1].pk, "score": 1, "version": 1}]}, format="json")
    assert changed.status_code == 200
    assert [(row["score"], row["version"]) for row in changed.json()] == [(3, 2), (1, 1)]  # unchanged: not bumped
    assert changed.json()[1] == made.json()[1]
    now = FrameScore.objects.get(pk=first[frames[0].pk].pk)
    assert changed.json()[0]["updated_at"] == client.get(f"/api/frame-scores/{now.pk}/").json()["updated_at"]
    assert _history(now.pk) == [
        ("create", 1, None, _value(first[frames[0].pk]), world.validator.pk, world.validator.pk, frames[0].pk,
         world.v1.pk),
        ("update", 2, _value(first[frames[0].pk]), _value(now), world.validator.pk, world.validator.pk,
         frames[0].pk, world.v1.pk)]
    assert len(_history(first[frames[1].pk].pk)) == 1
    stale = client.post(url, {"items": [{"frame": frames[0].pk, "score": 0, "version": 1}]}, format="json")
    assert stale.status_code == 409 and stale.json()["current"] == [{"frame": frames[0].pk, "current": _value(now)}]


def test_bulk_save_queries_do_not_grow_with_the_labels(world, django_assert_max_num_queries):
    from studies.models import Frame

    Frame.objects.bulk_create([Frame(video=world.v1, index=i, image=f"x/{i}.png") for i in range(3, 103)])
    frames = [f.pk for f in world.frames(world.v1)][2:]  # 101 frames without a label of ann-a
    client = world.client(world.ann_a)
    url = f"/api/videos/{world.v1.pk}/frame-scores/"
    with django_assert_max_num_queries(12):
        made = client.post(url, {"items": [{"frame": f, "score": 1, "version": 0} for f in frames]}, format="json")
    assert made.status_code == 200 and len(made.json()) == len(frames)
    with django_assert_max_num_queries(12):
        changed = client.post(url, {"items": [{"frame": f, "score": 2, "version": 1} for f in frames]}, format="json")
    assert changed.status_code == 200 and {row["version"] for row in changed.json()} == {2}
    assert LabelChange.objects.filter(label_type="frame_score", changed_by=world.ann_a).count() == 2 * len(frames)


@pytest.mark.parametrize(("item", "field"), [
    ({"frame": True, "score": 1}, "items.0.frame"),
    ({"frame": "x", "score": 1}, "items.0.frame"),
    ({"score": 1}, "items.0.frame"),
    ({"frame": 1, "score": 1, "version": -1}, "items.0.version"),
    ({"frame": 1, "score": 2.5}, "items.0.score"),
])
def test_items_a_saver_would_not_send_get_drfs_messages(world, item, field):
    response = world.client(world.ann_a).post(f"/api/videos/{world.v1.pk}/frame-scores/", {"items": [item]},
                                              format="json")
    assert response.status_code == 400 and field in response.json()["errors"]


def test_numeric_strings_are_still_accepted(world):
    f2 = world.frames(world.v1)[2]
    response = world.client(world.ann_a).post(f"/api/videos/{world.v1.pk}/frame-scores/", {"items": [
        {"frame": str(f2.pk), "score": "2", "version": "0"}]}, format="json")
    assert response.status_code == 200 and response.json()[0]["score"] == 2
