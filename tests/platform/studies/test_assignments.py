"""Assigning videos to an annotator is idempotent: re-assigning adds nothing and loses nothing."""

from __future__ import annotations

import pytest

from studies.models import VideoAssignment
from studies.services import videos_assign

pytestmark = pytest.mark.django_db


def test_assign_is_idempotent(world) -> None:  # type: ignore[no-untyped-def]
    assert videos_assign(annotator=world.ann_a, videos=[world.v1, world.v2]) == 1  # v1 was already assigned
    assert videos_assign(annotator=world.ann_a, videos=[world.v1, world.v2]) == 0
    assert set(VideoAssignment.objects.filter(annotator=world.ann_a).values_list("video_id", flat=True)) == {
        world.v1.pk, world.v2.pk}
