"""Chromium: an admin filters videos by BLUE zone, assigns them to an annotator (keyboard), the workload
shows it, and the annotator's worklist lists the videos."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from studies.models import Exam, VideoAssignment
from studies.services import patient_upsert, site_ensure
from tests.platform.viewer.conftest import make_user
from tests.platform.viewer.test_worklist_browser import make_video

pytestmark = pytest.mark.browser


def test_admin_assigns_by_zone(browse) -> None:  # type: ignore[no-untyped-def]
    make_user("as-admin", "admin")
    ann = make_user("as-ann", "annotator")
    make_user("as-val", "validator")
    exam = Exam.objects.create(patient=patient_upsert(site=site_ensure(name="East"), code="E-1"))
    l1a = make_video(exam, "east-l1", frames=2, lung_zone="L1")
    make_video(exam, "east-r1", frames=2, lung_zone="R1")
    l1b = make_video(exam, "east-l1-b", frames=2, lung_zone="L1")

    admin = browse()
    admin.login("as-admin")
    page = admin.page
    admin.goto("/dashboard/")
    page.get_by_role("link", name="Assignments").click()
    page.wait_for_selector("#app[aria-busy='false']")
    rows = page.locator("section.assign-videos tbody tr")
    expect(rows).to_have_count(3)
    workload = page.locator("#workload tbody tr[data-user='as-ann']")
    expect(workload.locator(".assigned")).to_have_text("0")

    page.get_by_label("BLUE zone").select_option("L1")
    expect(rows).to_have_count(2)
    # keyboard: select all matching, tick the annotator, press Assign
    page.get_by_label("Select all matching").focus()
    page.keyboard.press("Space")
    expect(page.locator("#selected-count")).to_have_text("2 of 2 matching videos selected")
    page.get_by_label("as-ann (annotator)").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Assign", exact=True).focus()
    page.keyboard.press("Enter")
    expect(workload.locator(".assigned")).to_have_text("2")
    expect(workload.locator(".done")).to_have_text("0")
    expect(rows.first.locator(".assignees")).to_have_text("as-ann")
    expect(page.get_by_role("button", name="Assign", exact=True)).to_be_focused()  # the redraw keeps focus
    assert set(VideoAssignment.objects.filter(annotator=ann).values_list("video_id", flat=True)) == {l1a.pk, l1b.pk}
    admin.shot("assignments")

    annotator = browse()
    annotator.login("as-ann")
    annotator.goto("/worklist/")
    names = annotator.page.locator("table.worklist tbody tr th")
    expect(names).to_have_count(2)
    assert sorted(n.split("\n")[0] for n in names.all_inner_texts()) == ["east-l1-b.mp4", "east-l1.mp4"]
