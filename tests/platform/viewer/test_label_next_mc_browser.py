"""Chromium: "Label next" on the worklist names the segmentation ensemble's MC-dropout uncertainty in words
when it is why a frame is suggested (GET /api/suggestions/, signal ``mc_variance``)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from modelling.models import FramePrediction, ModelKind, ModelVersion, SegmentationPrediction
from studies.models import Exam, VideoAssignment
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user
from tests.platform.viewer.test_worklist_browser import make_video

pytestmark = pytest.mark.browser


def test_label_next_names_mc_dropout_uncertainty(browse) -> None:  # type: ignore[no-untyped-def]
    ann = make_user("lnmc-ann", "annotator")
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="West"), code="W-1"))
    video = make_video(exam, "lnmc", frames=2)
    VideoAssignment.objects.create(video=video, annotator=ann)
    scorer = ModelVersion.objects.create(kind=ModelKind.EMBEDDING, name="probe", is_active=True)
    segmenter = ModelVersion.objects.create(kind=ModelKind.SEGMENTATION, name="seg", is_active=True)
    frames = list(video.frames.order_by("index"))
    FramePrediction.objects.bulk_create([FramePrediction(frame=f, model_version=scorer, probabilities=[1.0, 0, 0, 0],
                                                         score=0) for f in frames])  # the scorer is sure of both
    SegmentationPrediction.objects.bulk_create([
        SegmentationPrediction(frame=f, model_version=segmenter, mask=f"m/{f.pk}.png", uncertainty_mean=mean)
        for f, mean in zip(frames, (0.01, 0.2), strict=True)])

    session = browse()
    session.login("lnmc-ann")
    session.goto("/worklist/")
    items = session.page.locator("section.label-next li")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text(f"Video {video.pk}, frame 2 — MC-dropout uncertainty")
    expect(items.nth(1)).not_to_contain_text("MC-dropout")
    assert not session.unexpected_errors()
