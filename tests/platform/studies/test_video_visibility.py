"""studies.selectors.video_visible_to (one raw statement, for the label write path) keeps the rule of
videos_visible_to for every role, and refuses what is no video id without a database error."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from studies.models import Video
from studies.selectors import video_visible_to, videos_visible_to

pytestmark = pytest.mark.django_db


def test_same_rule_as_the_queryset_for_every_role(world) -> None:  # type: ignore[no-untyped-def]
    people = [world.ann_a, world.ann_b, world.validator, world.clinician, world.admin, AnonymousUser()]
    videos = [*Video.objects.values_list("pk", flat=True), 10**9]
    for person in people:
        allowed = set(videos_visible_to(person).values_list("pk", flat=True))
        for pk in videos:
            found = video_visible_to(person, pk)
            assert (found is not None) == (pk in allowed), (person, pk)
            if found is not None:
                assert found.pk == pk and found.exam_id == Video.objects.get(pk=pk).exam_id
    assert video_visible_to(world.ann_a, world.v2.pk) is None  # assigned to ann_b only


def test_ids_that_are_no_bigint_find_nothing(world) -> None:  # type: ignore[no-untyped-def]
    assert video_visible_to(world.admin, str(world.v1.pk)).pk == world.v1.pk  # type: ignore[union-attr]
    for pk in (0, -1, 2**63, 36893488147419103231, "36893488147419103231", "1e3", "", None, 1.0, True):
        assert video_visible_to(world.admin, pk) is None, pk
