"""Concurrent writes of one person's labels on the real PostgreSQL. First writes (no row to lock yet) once
gave IntegrityError 500s for scores and duplicate contours, then "last write wins"; now exactly one
wins and the others are conflicts (409): they were written against "no label yet", which no longer holds.
A save with no version at all is refused too (409, or 428 when it began after the winner committed)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from annotations.models import Contour, FrameScore, LabelChange, VideoFinding, VideoScore
from annotations.services import (
    LabelConflict,
    LabelVersionRequired,
    frame_contours_write,
    frame_scores_write,
    video_findings_write,
    video_score_write,
)

pytestmark = pytest.mark.integration
WRITERS = 4


def race(write: Callable[[], object]) -> list[str]:
    """Run `write` in WRITERS threads released together; the outcome of each ("ok" or the error's name)."""
    barrier, outcomes = threading.Barrier(WRITERS), []

    def run() -> None:
        try:
            barrier.wait()
            write()
            outcomes.append("ok")
        except Exception as error:  # the outcome is what the test checks
            outcomes.append(type(error).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_first_video_scores_have_one_winner(django_db_serialized_rollback, transactional_db, world):
    scores = iter(range(WRITERS))
    outcomes = race(lambda: video_score_write(user=world.ann_a, video=world.v2, score=next(scores), version=0))
    assert sorted(outcomes) == ["LabelConflict"] * (WRITERS - 1) + ["ok"]
    assert VideoScore.objects.filter(video=world.v2, annotator=world.ann_a).count() == 1
    assert LabelChange.objects.filter(label_type="video_score", owner=world.ann_a).count() == 1


def test_concurrent_first_video_scores_without_version_do_not_overwrite(django_db_serialized_rollback,
                                                                        transactional_db, world):
    outcomes = race(lambda: video_score_write(user=world.ann_a, video=world.v2, score=2))
    assert outcomes.count("ok") == 1
    assert set(outcomes) - {"ok"} <= {LabelConflict.__name__, LabelVersionRequired.__name__}
    assert VideoScore.objects.get(video=world.v2, annotator=world.ann_a).version == 1  # written once


def test_concurrent_first_bulk_frame_scores_have_one_winner(django_db_serialized_rollback, transactional_db, world):
    """Four saves of the same new labels through the API (the set-based path): one 200, three 409s that
    name the labels the winner created; its labels and their history only."""
    frames = [f.pk for f in world.frames(world.v2)]

    def post() -> None:
        response = world.client(world.ann_b).post(f"/api/videos/{world.v2.pk}/frame-scores/", {
            "items": [{"frame": f, "score": 2, "version": 0} for f in frames]}, format="json")
        if response.status_code != 200:
            assert response.status_code == 409, response.content
            assert {c["frame"] for c in response.json()["current"]} == set(frames)
            raise LabelConflict(response.json()["current"])

    outcomes = race(post)
    assert sorted(outcomes) == ["LabelConflict"] * (WRITERS - 1) + ["ok"]
    rows = FrameScore.objects.filter(frame_id__in=frames, annotator=world.ann_b)
    assert rows.count() == len(frames) and {r.version for r in rows} == {1}
    assert LabelChange.objects.filter(label_type="frame_score", owner=world.ann_b, action="create").count() == len(frames)


def test_concurrent_updates_on_one_version_have_one_winner(django_db_serialized_rollback, transactional_db, world):
    frames = [f.pk for f in world.frames(world.v1)[:2]]  # ann-a's labels 0 and 1, version 1
    outcomes = race(lambda: frame_scores_write(user=world.ann_a, video=world.v1, items=[
        {"frame": f, "score": 3, "version": 1} for f in frames]))
    assert sorted(outcomes) == ["LabelConflict"] * (WRITERS - 1) + ["ok"]
    assert set(FrameScore.objects.filter(frame_id__in=frames, annotator=world.ann_a).values_list("version", flat=True)) \
        == {2}


def test_concurrent_first_findings_have_one_winner(django_db_serialized_rollback, transactional_db, world):
    outcomes = race(lambda: video_findings_write(user=world.ann_b, video=world.v2, items=[
        {"finding": "b_lines", "present": True, "version": 0}]))
    assert sorted(outcomes) == ["LabelConflict"] * (WRITERS - 1) + ["ok"]
    assert VideoFinding.objects.filter(video=world.v2, annotator=world.ann_b).count() == 1


def test_concurrent_first_contour_saves_have_one_winner(django_db_serialized_rollback, transactional_db, world):
    frame = world.frames(world.v2)[0]
    square = [[5, 5], [20, 5], [20, 20], [5, 20]]
    outcomes = race(lambda: frame_contours_write(user=world.ann_a, frame=frame, base=[],
                                                 contours=[{"segmentation_class": 2, "vertices": square}]))
    assert outcomes.count("ok") == 1 and outcomes.count(LabelConflict.__name__) == WRITERS - 1
    assert Contour.objects.filter(frame=frame, annotator=world.ann_a).count() == 1
