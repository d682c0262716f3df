"""GET /api/viewer/videos/<id>/validate/: lower-level labels beside the validator's own, by role; and the
accept/correct writes the page makes through the annotations API land at the validator's level."""

from __future__ import annotations

import pytest

from accounts.services import user_ensure
from annotations.models import FrameScore, VideoScore
from annotations.services import frame_scores_import, video_score_import
from studies.models import Frame

pytestmark = pytest.mark.django_db


def _url(video) -> str:  # type: ignore[no-untyped-def]
    return f"/api/viewer/videos/{video.pk}/validate/"


def test_validator_sees_lower_levels_only(world) -> None:  # type: ignore[no-untyped-def]
    response = world.client(world.validator).get(_url(world.v1))
    assert response.status_code == 200
    data = response.json()
    assert data["level"] == 2 and data["video"]["frame_count"] == 3 and data["video"]["patient"] == "P1"
    assert [a["username"] for a in data["annotators"]] == ["ann-a", "ann-b"]  # not the level-4 clinician
    frames = data["frames"]
    assert [f["index"] for f in frames] == [0, 1, 2]
    by_person = {a["id"]: a["username"] for a in data["annotators"]}
    assert sorted((by_person[s["annotator"]], s["score"]) for s in frames[0]["scores"]) == [("ann-a", 0), ("ann-b", 2)]
    assert frames[2]["scores"] == []  # only the clinician (level 4) scored frame 2
    assert all(f["mine"] is None for f in frames)
    assert data["video_scores"] == [] and data["my_video_score"] is None  # the clinician's is above level 2


def test_own_labels_show_as_validated(world) -> None:  # type: ignore[no-untyped-def]
    frame = world.frames(world.v1)[1]
    frame_scores_import(annotator=world.validator, scores={frame.pk: 3})
    video_score_import(annotator=world.ann_a, video_id=world.v1.pk, score=1)
    video_score_import(annotator=world.validator, video_id=world.v1.pk, score=2)
    data = world.client(world.validator).get(_url(world.v1)).json()
    assert data["frames"][1]["mine"]["score"] == 3 and data["frames"][1]["mine"]["validation_level"] == 2
    assert [s["annotator"] for s in data["frames"][1]["scores"]] == [world.ann_a.pk]  # own label not repeated
    assert [(s["annotator"], s["score"]) for s in data["video_scores"]] == [(world.ann_a.pk, 1)]
    assert data["my_video_score"]["score"] == 2


def test_admin_sees_everything_below_level_four(world) -> None:  # type: ignore[no-untyped-def]
    frame_scores_import(annotator=world.validator, scores={world.frames(world.v1)[2].pk: 1})
    data = world.client(world.admin).get(_url(world.v1)).json()
    assert [a["username"] for a in data["annotators"]] == ["val", "ann-a", "ann-b"]
    assert all(s["annotator"] != world.clinician.pk for f in data["frames"] for s in f["scores"])


@pytest.mark.parametrize("who", ["ann_a", "clinician"])
def test_other_roles_get_403(world, who) -> None:  # type: ignore[no-untyped-def]
    assert world.client(getattr(world, who)).get(_url(world.v1)).status_code == 403


def test_unknown_video_is_404(world) -> None:  # type: ignore[no-untyped-def]
    assert world.client(world.validator).get("/api/viewer/videos/999999/validate/").status_code == 404


def test_queries_do_not_grow_with_frames_or_people(world, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    frames = [Frame(video=world.v1, index=i, image=f"x/{i}.png") for i in range(3, 203)]
    Frame.objects.bulk_create(frames)
    ids = list(world.v1.frames.values_list("id", flat=True))
    for n in range(6):
        person = user_ensure(username=f"extra-{n}", role="annotator", validation_level=1)
        frame_scores_import(annotator=person, scores={f: n % 4 for f in ids})
        video_score_import(annotator=person, video_id=world.v1.pk, score=n % 4)
    client = world.client(world.validator)
    with django_assert_max_num_queries(8):  # the 8th: the findings vocabulary (the validator edits findings here)
        response = client.get(_url(world.v1))
    assert response.status_code == 200 and len(response.json()["frames"]) == 203


def test_accept_and_correct_write_the_validators_own_labels(world) -> None:  # type: ignore[no-untyped-def]
    """What the page sends: one bulk request with new labels (version null), then a correction based on
    the version it read; a stale version is a 409 carrying the current state."""
    f0, f1, _ = world.frames(world.v1)
    client = world.client(world.validator)
    response = client.post(f"/api/videos/{world.v1.pk}/frame-scores/",
                           {"items": [{"frame": f0.pk, "score": 2, "version": None},
                                      {"frame": f1.pk, "score": 1, "version": None}]}, format="json")
    assert response.status_code == 200, response.content
    mine = {s.frame_id: s for s in FrameScore.objects.filter(annotator=world.validator)}
    assert {f: (s.score, s.validation_level) for f, s in mine.items()} == {f0.pk: (2, 2), f1.pk: (1, 2)}

    response = client.post(f"/api/videos/{world.v1.pk}/frame-scores/",
                           {"items": [{"frame": f0.pk, "score": 3, "version": mine[f0.pk].version}]}, format="json")
    assert response.status_code == 200
    stale = client.post(f"/api/videos/{world.v1.pk}/frame-scores/",
                        {"items": [{"frame": f0.pk, "score": 0, "version": mine[f0.pk].version}]}, format="json")
    assert stale.status_code == 409 and stale.json()["current"][0]["current"]["score"] == 3

    response = client.post("/api/video-scores/", {"video": world.v1.pk, "score": 1, "version": None}, format="json")
    assert response.status_code == 200
    assert VideoScore.objects.get(annotator=world.validator, video=world.v1).validation_level == 2
    # the annotators' labels are untouched
    assert FrameScore.objects.get(annotator=world.ann_a, frame=f0).score == 0
