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
