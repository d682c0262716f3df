"""/api/viewer/assignments/: admins filter videos, assign and unassign in bulk, see each person's workload."""

from __future__ import annotations

import pytest

from annotations.services import frame_scores_import, video_score_import
from studies.models import Video, VideoAssignment

pytestmark = pytest.mark.django_db
URL = "/api/viewer/assignments/"


def _workload(data: dict) -> dict[str, tuple[int, int]]:
    return {row["username"]: (row["assigned"], row["done"]) for row in data["workload"]}


def test_only_admins(world) -> None:  # type: ignore[no-untyped-def]
    for who in (world.ann_a, world.validator, world.clinician):
        client = world.client(who)
        assert client.get(URL).status_code == 403
        assert client.post(URL, {"action": "assign", "users": [who.pk], "videos": [world.v1.pk]},
                           format="json").status_code == 403
    assert world.client(world.admin).get(URL).status_code == 200


def test_filters_and_workload(world) -> None:  # type: ignore[no-untyped-def]
    Video.objects.filter(pk=world.v2.pk).update(lung_zone="R2")
    client = world.client(world.admin)
    data = client.get(URL).json()
    assert [v["id"] for v in data["videos"]] == [world.v1.pk, world.v2.pk]
    assert data["videos"][0]["assignees"] == ["ann-a", "ann-b"] and data["videos"][0]["patient"] == "P1"
    assert _workload(data) == {"ann-a": (1, 0), "ann-b": (2, 0), "val": (0, 0)}
    assert [v["id"] for v in client.get(URL, {"lung_zone": "R2"}).json()["videos"]] == [world.v2.pk]
    assert client.get(URL, {"status": "unassigned"}).json()["videos"] == []
    assert client.get(URL, {"lung_zone": "nowhere"}).status_code == 400

    frames = {f.pk: 1 for f in world.frames(world.v2)}  # ann-b finishes v2: every frame and the video
    frame_scores_import(annotator=world.ann_b, scores=frames)
    video_score_import(annotator=world.ann_b, video_id=world.v2.pk, score=1)
    assert _workload(client.get(URL).json())["ann-b"] == (2, 1)


def test_assign_and_unassign_in_bulk(world) -> None:  # type: ignore[no-untyped-def]
    client = world.client(world.admin)
    body = {"action": "assign", "users": [world.validator.pk, world.ann_a.pk], "videos": [world.v1.pk, world.v2.pk]}
    response = client.post(URL, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["changed"] == 3  # ann-a already had v1
    assert _workload(response.json())["val"] == (2, 0) and _workload(response.json())["ann-a"] == (2, 0)
    response = client.post(URL, {**body, "action": "unassign", "users": [world.ann_a.pk]}, format="json")
    assert response.json()["changed"] == 2
    assert not VideoAssignment.objects.filter(annotator=world.ann_a).exists()


def test_bad_writes_change_nothing(world) -> None:  # type: ignore[no-untyped-def]
    client = world.client(world.admin)
    before = VideoAssignment.objects.count()
    for body in ({"action": "assign", "users": [world.clinician.pk], "videos": [world.v1.pk]},
                 {"action": "assign", "users": [world.ann_a.pk], "videos": [world.v2.pk, 999999]},
                 {"action": "steal", "users": [world.ann_a.pk], "videos": [world.v2.pk]},
                 {"action": "assign", "users": [], "videos": [world.v2.pk]}):
        response = client.post(URL, body, format="json")
        assert response.status_code == 400 and "detail" in response.json(), body
    assert VideoAssignment.objects.count() == before


def test_constant_query_count(world, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    exam = world.v1.exam
    videos = [Video.objects.create(exam=exam, fps=25, frame_count=3, width=64, height=48, format="mp4",
                                   source_file=f"v{n}.mp4", original_name=f"v{n}.mp4", sha256=f"{n:064d}")
              for n in range(3, 33)]
    for video in videos:
        VideoAssignment.objects.create(video=video, annotator=world.ann_b)
        video_score_import(annotator=world.ann_b, video_id=video.pk, score=1)
    client = world.client(world.admin)
    # session user, videos, prefetch of assignments, workload rows, people (+1 spare)
    with django_assert_max_num_queries(6):
        response = client.get(URL)
    assert response.status_code == 200 and len(response.json()["videos"]) == 32
    ids = [v.pk for v in videos]
    # a fixed number of queries for 30 videos × 2 people: validate, one bulk insert per person, the workload
    with django_assert_max_num_queries(16):
        response = client.post(URL, {"action": "assign", "users": [world.ann_a.pk, world.validator.pk],
                                     "videos": ids}, format="json")
    assert response.status_code == 200 and response.json()["changed"] == 60
