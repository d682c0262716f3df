"""GET /api/viewer/worklist/: who sees which videos, whose progress, filters, sorting, query counts."""

from __future__ import annotations

import pytest

from annotations.models import SegmentationClass
from annotations.services import contours_import, frame_scores_import, video_score_import
from studies.models import Video, VideoAssignment

pytestmark = pytest.mark.django_db
URL = "/api/viewer/worklist/"


def _rows(client, **params) -> list[dict]:  # type: ignore[no-untyped-def]
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _by_id(rows: list[dict]) -> dict[int, dict]:
    return {row["id"]: row for row in rows}


def test_annotator_sees_only_assigned_videos_and_own_progress(world) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(world.client(world.ann_a))
    assert [row["id"] for row in rows] == [world.v1.pk]  # v2 is assigned to ann-b only
    (row,) = rows
    # ann-a scored 2 of 3 frames; ann-b's and the clinician's labels on v1 do not count
    assert row["scored_frames"] == 2 and row["frame_count"] == 3 and row["video_score"] is None
    assert row["status"] == "in_progress" and row["assignees"] == []  # blind: no names of others
    assert row["site"]["name"] == "Site A" and row["patient"]["name"] == "P1"

    progress_b = _by_id(_rows(world.client(world.ann_b)))
    assert set(progress_b) == {world.v1.pk, world.v2.pk}
    assert progress_b[world.v1.pk]["scored_frames"] == 1 and progress_b[world.v2.pk]["status"] == "not_started"


def test_annotator_cannot_ask_for_someone_elses_worklist(world) -> None:  # type: ignore[no-untyped-def]
    client = world.client(world.ann_a)
    assert client.get(URL, {"assignee": world.ann_b.pk}).status_code == 403
    assert client.get(URL, {"assignee": world.ann_a.pk}).status_code == 200


@pytest.mark.parametrize("who", ["validator", "admin"])
def test_validators_and_admins_see_every_video_or_one_assignee(world, who) -> None:  # type: ignore[no-untyped-def]
    client = world.client(getattr(world, who))
    rows = _by_id(_rows(client))
    assert set(rows) == {world.v1.pk, world.v2.pk}
    assert rows[world.v1.pk]["scored_frames"] == 0  # their own progress: nothing scored yet
    assert [a["username"] for a in rows[world.v1.pk]["assignees"]] == ["ann-a", "ann-b"]

    rows = _rows(client, assignee=world.ann_a.pk)  # ann-a's worklist, with ann-a's progress
    assert [(row["id"], row["scored_frames"]) for row in rows] == [(world.v1.pk, 2)]

    names = [user["username"] for user in client.get(f"{URL}assignees/").json()]
    assert {"ann-a", "ann-b"} <= set(names)


def test_clinicians_get_403(world) -> None:  # type: ignore[no-untyped-def]
    """The worklist page is not open to clinicians (viewer.access.PAGE_ROLES), nor is its API."""
    client = world.client(world.clinician)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}assignees/").status_code == 403


def test_login_required(world) -> None:  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code in (401, 403)


def test_status_filter_and_done(world) -> None:  # type: ignore[no-untyped-def]
    frames = [f.pk for f in world.frames(world.v1)]
    frame_scores_import(annotator=world.ann_a, scores={f: 1 for f in frames})
    video_score_import(annotator=world.ann_a, video_id=world.v1.pk, score=1)
    VideoAssignment.objects.create(video=world.v2, annotator=world.ann_a)
    client = world.client(world.ann_a)
    rows = _by_id(_rows(client))
    assert rows[world.v1.pk]["status"] == "done" and rows[world.v1.pk]["video_score"] == 1
    assert rows[world.v2.pk]["status"] == "not_started"
    assert [r["id"] for r in _rows(client, status="done")] == [world.v1.pk]
    assert [r["id"] for r in _rows(client, status="not_started")] == [world.v2.pk]
    assert _rows(client, status="in_progress") == []


def test_contours_count_as_progress(world) -> None:  # type: ignore[no-untyped-def]
    frame = world.frames(world.v2)[0]
    marker = SegmentationClass.objects.exclude(index=0).first()
    contours_import(annotator=world.ann_b, contours=[(frame.pk, marker.index, [[1, 1], [9, 1], [5, 8]]),
                                                       (frame.pk, marker.index, [[2, 2], [9, 2], [5, 9]])])
    row = _by_id(_rows(world.client(world.ann_b)))[world.v2.pk]
    assert row["contoured_frames"] == 1 and row["status"] == "in_progress"


def test_filters_by_video_fields(world) -> None:  # type: ignore[no-untyped-def]
    Video.objects.filter(pk=world.v2.pk).update(lung_zone="L1", probe="linear", original_name="other.mp4")
    client = world.client(world.admin)
    assert [r["id"] for r in _rows(client, lung_zone="L1")] == [world.v2.pk]
    assert [r["id"] for r in _rows(client, probe="convex")] == [world.v1.pk]
    assert [r["id"] for r in _rows(client, search="other")] == [world.v2.pk]
    assert len(_rows(client, site=world.v1.exam.patient.site_id)) == 2
    assert _rows(client, patient=world.v1.exam.patient_id + 1000) == []
    assert client.get(URL, {"status": "nonsense"}).status_code == 400
    assert client.get(URL, {"ordering": "password"}).status_code == 400


def test_sorting(world) -> None:  # type: ignore[no-untyped-def]
    client = world.client(world.ann_b)  # v1: 1 of 3 scored, v2: none
    assert [r["id"] for r in _rows(client, ordering="-progress")] == [world.v1.pk, world.v2.pk]
    assert [r["id"] for r in _rows(client, ordering="progress")] == [world.v2.pk, world.v1.pk]
    assert [r["id"] for r in _rows(client, ordering="-video")] == [world.v2.pk, world.v1.pk]
    assert [r["id"] for r in _rows(client, ordering="status")] == [world.v2.pk, world.v1.pk]


@pytest.mark.parametrize("who", ["ann_b", "validator", "admin"])
def test_constant_query_count(world, who, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    exam = world.v1.exam
    for n in range(3, 23):  # 20 more videos, each assigned and partly labelled
        video = Video.objects.create(exam=exam, fps=25, frame_count=3, width=64, height=48, format="mp4",
                                     source_file=f"v{n}.mp4", original_name=f"v{n}.mp4", sha256=f"{n:064d}")
        VideoAssignment.objects.create(video=video, annotator=world.ann_b)
        VideoAssignment.objects.create(video=video, annotator=world.ann_a)
        video_score_import(annotator=world.ann_b, video_id=video.pk, score=n % 4)
    client = world.client(getattr(world, who))
    # the count, the page (progress as subqueries) and one prefetch of assignees (+1 spare)
    with django_assert_max_num_queries(4):
        response = client.get(URL, {"limit": 100, "ordering": "-progress"})
    assert response.status_code == 200 and len(response.json()["results"]) >= 21


def test_ready_for_my_level_is_what_lower_levels_scored_and_i_have_not_finished(world) -> None:  # type: ignore[no-untyped-def]
    client = world.client(world.validator)
    rows = _by_id(_rows(client))
    # v1: frames 1 and 2 scored by level-1 annotators (the clinician's level-4 score of frame 3 is not below)
    assert rows[world.v1.pk]["ready_frames"] == 2 and rows[world.v2.pk]["ready_frames"] == 0
    assert [row["id"] for row in _rows(client, status="ready")] == [world.v1.pk]
    # once the validator is done with v1 it is no longer waiting for them
    frame_scores_import(annotator=world.validator, scores={f: 1 for f in world.v1.frames.values_list("id", flat=True)})
    video_score_import(annotator=world.validator, video_id=world.v1.pk, score=1)
    assert _rows(client, status="ready") == []
    assert all(row["ready_frames"] == 0 for row in _rows(world.client(world.ann_a)))  # annotators: blind
