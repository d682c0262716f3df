"""Chromium: one frame numbering everywhere. The annotate and validate pages (and validate's frame dialog)
show the same frame with the same number, counted from 1, and `?frame=N` names it the same way on both;
the API keeps the stored 0-based index."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from studies.models import Exam, VideoAssignment
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user
from tests.platform.viewer.test_worklist_browser import make_video

pytestmark = pytest.mark.browser


def test_annotate_and_validate_number_frames_alike(browse) -> None:  # type: ignore[no-untyped-def]
    validator = make_user("fn-validator", "validator", 2)
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="West"), code="W-3"))
    video = make_video(exam, "west-l2", frames=12, lung_zone="L2")
    VideoAssignment.objects.create(video=video, annotator=validator)

    session = browse()
    session.login("fn-validator")
    page = session.page
    session.goto(f"/videos/{video.pk}/annotate/?frame=10")  # the 10th frame: stored index 9
    expect(page.locator("#frame-counter")).to_have_text("Frame 10 / 12")
    page.keyboard.press("End")
    expect(page.locator("#frame-counter")).to_have_text("Frame 12 / 12")
    page.wait_for_url("**/annotate/?frame=12")  # the URL follows, counted from 1 too

    frames = session.page.evaluate(f"fetch('/api/viewer/videos/{video.pk}/validate/').then(r => r.json())")["frames"]
    assert [f["index"] for f in frames] == list(range(12))  # the API: stored 0-based indices

    session.goto(f"/videos/{video.pk}/validate/?frame=10")
    row = page.locator("tr[data-index='9']")  # the same frame as annotate's "Frame 10"
    expect(row.locator(".index")).to_have_text("#10")
    expect(row.get_by_role("group", name="My score of frame 10")).to_be_visible()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')").startswith("Score frame 10 as")
    row.get_by_role("button", name="Enlarge frame 10").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Frame 10 of 12")
    expect(dialog.get_by_role("img", name="Frame 10 of 12")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()

    page.get_by_label("Go to frame #").fill("1")
    page.get_by_role("button", name="Go", exact=True).click()
    expect(page.locator("tr[data-index='0'] .index")).to_have_text("#1")
    page.wait_for_url("**/validate/?frame=1")
