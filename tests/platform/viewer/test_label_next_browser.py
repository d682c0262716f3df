"""Chromium: an annotator's worklist lists "Label next" (GET /api/suggestions/): the most uncertain frame of
their videos first, frames they scored left out, each a link to the annotate page at that frame."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotations.services import frame_scores_import
from modelling.models import FramePrediction, ModelKind, ModelVersion
from studies.models import Exam, VideoAssignment
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user
from tests.platform.viewer.test_worklist_browser import make_video

pytestmark = pytest.mark.browser


def test_label_next_on_the_worklist(browse) -> None:  # type: ignore[no-untyped-def]
    ann = make_user("ln-ann", "annotator")
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="North"), code="N-1"))
    sure, unsure, other = (make_video(exam, name, frames=3) for name in ("sure", "unsure", "other"))
    for video in (sure, unsure):
        VideoAssignment.objects.create(video=video, annotator=ann)
    version = ModelVersion.objects.create(kind=ModelKind.EMBEDDING, name="probe", is_active=True)
    probs = {sure: [[1.0, 0, 0, 0]] * 3, unsure: [[0.9, 0.1, 0, 0], [0.25] * 4, [0.4, 0.6, 0, 0]],
             other: [[0.25] * 4] * 3}
    FramePrediction.objects.bulk_create([
        FramePrediction(frame=frame, model_version=version, probabilities=p, score=0)
        for video, rows in probs.items() for frame, p in zip(video.frames.order_by("index"), rows, strict=True)])
    frame_scores_import(annotator=ann, scores={unsure.frames.get(index=2).pk: 1})  # scored: not suggested

    session = browse()
    session.login("ln-ann")
    session.goto("/worklist/")
    page = session.page
    section = page.locator("section.label-next")
    expect(section).to_be_visible()
    links = section.locator("li a")
    expect(links).to_have_count(5)  # the 6 frames of my two videos, less the one I scored
    expect(links.first).to_have_text(f"Video {unsure.pk}, frame 2")
    expect(section).not_to_contain_text(f"Video {other.pk}")
    session.shot("worklist-label-next")
    links.first.click()
    page.wait_for_url(f"**/videos/{unsure.pk}/annotate/?frame=2")
    assert not session.unexpected_errors()
