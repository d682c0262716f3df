"""Concurrent first writes of one person's labels (no row to lock yet) on the real PostgreSQL: once an
IntegrityError 500 for scores and duplicate contours; now one write at a time, nothing duplicated."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from annotations.models import Contour, VideoScore
from annotations.services import LabelConflict, frame_contours_write, video_score_write

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


def test_concurrent_first_video_scores_leave_one_row(django_db_serialized_rollback, transactional_db, world):
    outcomes = race(lambda: video_score_write(user=world.ann_a, video=world.v2, score=2))
    assert "IntegrityError" not in outcomes and outcomes.count("ok") == WRITERS
    assert VideoScore.objects.filter(video=world.v2, annotator=world.ann_a).count() == 1


def test_concurrent_first_contour_saves_have_one_winner(django_db_serialized_rollback, transactional_db, world):
    frame = world.frames(world.v2)[0]
    square = [[5, 5], [20, 5], [20, 20], [5, 20]]
    outcomes = race(lambda: frame_contours_write(user=world.ann_a, frame=frame, base=[],
                                                 contours=[{"segmentation_class": 2, "vertices": square}]))
    assert outcomes.count("ok") == 1 and outcomes.count(LabelConflict.__name__) == WRITERS - 1
    assert Contour.objects.filter(frame=frame, annotator=world.ann_a).count() == 1
