"""List endpoints use a constant number of queries whatever the page size."""

from __future__ import annotations

import pytest

from annotations.services import frame_scores_import, video_findings_import
from studies.models import Frame

pytestmark = pytest.mark.django_db
MAX_QUERIES = 8


@pytest.fixture
def many_labels(world):
    frames = list(Frame.objects.values_list("id", flat=True))
    for user in (world.ann_a, world.ann_b, world.validator):
        frame_scores_import(annotator=user, scores={f: 1 for f in frames})
        for video in (world.v1, world.v2):
            video_findings_import(annotator=user, video_id=video.pk, findings={"a_lines": True, "b_lines": False})
    return world


@pytest.mark.parametrize("path", ["/api/frame-scores/", "/api/frames/", "/api/videos/", "/api/contours/",
                                  "/api/video-scores/", "/api/video-findings/", "/api/label-history/", "/api/patients/",
                                  "/api/predictions/frames/"])
@pytest.mark.parametrize("page_size", [2, 100])
def test_list_queries_do_not_grow_with_the_page(many_labels, django_assert_max_num_queries, path, page_size):
    client = many_labels.client(many_labels.clinician)
    separator = "&" if "?" in path else "?"
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(f"{path}{separator}page_size={page_size}&limit={page_size}")
    assert response.status_code == 200
